"""Everything cohortwatch does with Tor; no request to a leak site bypasses it.

- :mod:`~monitor.tor.settings` — the ``[tor]`` configuration table.
- :mod:`~monitor.tor.socks` — fetching pages and files through Tor's SOCKS port with remote
  DNS, failing closed, one circuit family per site (SOCKS credentials).
- :mod:`~monitor.tor.control` — Tor's control port through stem: bootstrap progress, health,
  NEWNYM within Tor's rate limit, events (:mod:`~monitor.tor.auth` connects and
  authenticates; :mod:`~monitor.tor.status` holds the values it reports).
- :mod:`~monitor.tor.managed` — a tor process cohortwatch launches, restarts and stops.

Import the modules themselves: this package imports nothing, so that loading the
configuration does not load stem and aiohttp.
"""

__all__: list[str] = []
