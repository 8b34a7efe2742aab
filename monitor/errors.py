"""The daemon's branch of the exception tree (the root lives in :mod:`matchers.errors`)::

    CohortwatchError
    ├── ConfigError
    │   └── SiteConfigError         a site definition is wrong (names file and key path)
    ├── TorError                    Tor cannot be used
    │   ├── TorUnavailableError     SOCKS or control port not answering, tor not installed
    │   ├── TorControlError         control port refused authentication or a command
    │   └── TorNetworkError         the private test network (demo --tor, tests) did not come up
    └── FetchError                  one request to a site failed (the crawl goes on)
        ├── DirectConnectionRefused the request would have left without Tor (fail closed)
        ├── SiteUnreachableError    connect/timeout/HTTP failure, after retries
        ├── SiteParseError          a parser plugin raised or returned something else
        └── DownloadError           a posted file could not be fetched within its limits

Messages name sites, mirrors (by index, not by token-bearing URL), counts and sizes — never a
personal value.
"""

from __future__ import annotations

from matchers.errors import CohortwatchError, ConfigError

__all__ = [
    "DirectConnectionRefused",
    "DownloadError",
    "FetchError",
    "SiteConfigError",
    "SiteParseError",
    "SiteUnreachableError",
    "TorControlError",
    "TorError",
    "TorNetworkError",
    "TorUnavailableError",
]


class SiteConfigError(ConfigError):
    """A site definition (TOML table or parser spec) is invalid."""


class TorError(CohortwatchError):
    """Tor cannot be used for crawling."""


class TorUnavailableError(TorError):
    """Tor's SOCKS or control port does not answer, or no tor binary is installed."""


class TorControlError(TorError):
    """Tor's control port refused authentication or a command."""


class TorNetworkError(TorError):
    """The private Tor network on 127.0.0.1 (:mod:`monitor.tor.testnet`) did not come up.

    The message says which step failed and ends with the tail of every tor's log.
    """


class FetchError(CohortwatchError):
    """One request to a leak site failed; the crawler records it and goes on."""


class DirectConnectionRefused(FetchError):
    """The request would have left without Tor, which the configuration does not allow."""


class SiteUnreachableError(FetchError):
    """A mirror did not answer usefully (connect error, timeout, HTTP error status)."""


class DownloadError(FetchError):
    """A posted file could not be downloaded within its size and time limits."""


class SiteParseError(FetchError):
    """A page could not be parsed at all: a parser plugin raised or returned something else.

    Declarative (HTML, JSON) parsers never raise it: what they cannot read they report as
    ``status="blocked"`` with a reason.
    """
