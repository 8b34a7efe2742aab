"""The daemon and CLI: configuration, state directory, command line, and (later) Tor,
crawler, site parsers, watchlist and scheduler. Uses `matchers` and `alerts`, never the
other way round.
"""
