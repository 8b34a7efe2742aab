"""Fetching leak-site pages and posted files through Tor's SOCKS port, failing closed.

Every request goes through Tor with the host name resolved by Tor (``rdns=True``): no
connection and no DNS lookup for a configured site leaves the machine directly. The single
exception is a site whose definition says ``allow_direct = true`` *and* whose URL names a
loopback address literally (tests, the demo); an allow-direct site's link to anywhere else
still goes through Tor. When Tor's SOCKS port is down a request fails with
:class:`TorUnavailableError` — there is no fallback route.

Each site gets its own SOCKS credentials, and Tor (``IsolateSOCKSAuth``, on by default)
gives each credential its own circuits: one slow or hostile site cannot correlate or stall
the others. :meth:`Fetcher.rotate` changes a site's credentials, which moves only that site
to fresh circuits — cheaper and more targeted than a NEWNYM.

Responses are capped (pages by ``max_page_bytes``, files by the caller's limit) and read
as a stream, so a hostile server cannot make us hold gigabytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError
from yarl import URL

from matchers.store import is_storage_full
from monitor.errors import (
    DirectConnectionRefused,
    DownloadError,
    FetchError,
    SiteUnreachableError,
    TorUnavailableError,
)

__all__ = ["Fetcher", "Page", "SocksSettings", "is_loopback_literal"]

log = logging.getLogger(__name__)

# What Tor Browser sends: a monitor that announces itself gets served a decoy page.
_HEADERS = {
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
}
_CHUNK = 1 << 16
# Failures of one transfer: a SOCKS error from Tor (onion unreachable), a timeout, a reset.
# (A SOCKS port that refuses the connection is Tor being down, handled apart.)
_TRANSIENT = (ProxyError, ProxyTimeoutError, aiohttp.ClientError, TimeoutError, OSError)


@dataclass(frozen=True)
class SocksSettings:
    """Where Tor's SOCKS port is; ``None`` host means "no Tor": every non-direct request
    is refused rather than sent another way."""

    host: str | None = "127.0.0.1"
    port: int = 9050
    max_page_bytes: int = 8 << 20
    connections_per_site: int = 4


class SiteLike(Protocol):
    name: str
    allow_direct: bool


@dataclass(frozen=True)
class Page:
    """One fetched page: the URL it came from (after redirects), status and body."""

    url: str
    status: int
    content_type: str | None
    body: bytes


def is_loopback_literal(host: str | None) -> bool:
    """``127.0.0.0/8`` or ``::1`` written as an address: reaching it needs no DNS lookup."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _shown(site: SiteLike, url: str) -> str:
    """A URL as logs show it: host and path, never the query (tokens live there)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}{parts.path[:80]}"


class Fetcher:
    """HTTP over Tor for the crawler; one per daemon, closed with :meth:`close`."""

    def __init__(self, socks: SocksSettings, *, connect_timeout: float = 60.0,
                 read_timeout: float = 90.0,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.socks = socks
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._sessions: dict[tuple[str, str], aiohttp.ClientSession] = {}
        self._epochs: dict[str, str] = {}
        self._sleep = sleep

    def route(self, site: SiteLike, url: str) -> str:
        """``"direct"`` or ``"tor"`` for ``url``.

        :raises DirectConnectionRefused: not http(s), or Tor is needed and none is configured.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DirectConnectionRefused(f"site {site.name}: refusing a link that is not "
                                          f"http(s): {parts.scheme or '?'}:")
        if getattr(site, "allow_direct", False) and is_loopback_literal(parts.hostname):
            return "direct"
        if not self.socks.host:
            raise DirectConnectionRefused(
                f"site {site.name}: {_shown(site, url)} needs Tor and no SOCKS port is "
                "configured ([tor] socks); refusing to connect directly"
            )
        return "tor"

    def rotate(self, site_name: str) -> None:
        """Move ``site_name`` to new circuits (new SOCKS credentials) from its next request."""
        self._epochs[site_name] = secrets.token_hex(8)
        old = self._sessions.pop((site_name, "tor"), None)
        if old is not None:
            asyncio.get_running_loop().create_task(old.close())

    def _session(self, site: SiteLike, route: str) -> aiohttp.ClientSession:
        key = (site.name, route)
        session = self._sessions.get(key)
        if session is not None and not session.closed:
            return session
        limit = self.socks.connections_per_site
        if route == "direct":
            connector: aiohttp.BaseConnector = aiohttp.TCPConnector(limit=limit)
        else:
            epoch = self._epochs.setdefault(site.name, secrets.token_hex(8))
            connector = ProxyConnector(
                host=self.socks.host or "", port=self.socks.port,
                username=f"cohortwatch-{site.name}", password=epoch,
                rdns=True, limit=limit,
            )
        own = getattr(site, "timeout", None)
        timeout = aiohttp.ClientTimeout(
            total=None, connect=getattr(own, "connect", self.connect_timeout),
            sock_read=getattr(own, "read", self.read_timeout))
        # trust_env=False: an HTTP(S)_PROXY in the environment must not reroute anything.
        session = aiohttp.ClientSession(connector=connector, timeout=timeout, headers=_HEADERS,
                                        trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
        self._sessions[key] = session
        return session

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def get(self, site: SiteLike, url: str) -> Page:
        """Fetch one page, at most ``max_page_bytes``.

        :raises TorUnavailableError: Tor's SOCKS port does not answer.
        :raises SiteUnreachableError: the mirror failed (SOCKS error, timeout, HTTP >= 400).
        :raises DirectConnectionRefused: see :meth:`route`.
        """
        route = self.route(site, url)
        cap = min(self.socks.max_page_bytes,
                  int(getattr(site, "max_page_bytes", 0) or self.socks.max_page_bytes))
        try:
            async with self._open(site, url) as resp:
                if resp.status >= 400:
                    raise SiteUnreachableError(f"site {site.name}: {_shown(site, url)} "
                                               f"answered HTTP {resp.status}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    body += chunk
                    if len(body) > cap:
                        raise SiteUnreachableError(
                            f"site {site.name}: page {_shown(site, url)} is larger than "
                            f"{cap} bytes (limits.max_page_bytes); not parsed")
                return Page(str(resp.url), resp.status, resp.headers.get("Content-Type"),
                            bytes(body))
        except FetchError:
            raise
        except (ProxyConnectionError, ConnectionRefusedError) as exc:
            raise self._unreachable(site, url, route, exc) from None
        except _TRANSIENT as exc:
            raise SiteUnreachableError(f"site {site.name}: {_shown(site, url)}: "
                                       f"{_reason(exc)}") from None

    @contextlib.asynccontextmanager
    async def _open(self, site: SiteLike, url: str, headers: dict[str, str] | None = None
                    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET ``url``, following up to five redirects by hand: each hop is routed before it
        is requested, so a redirect from a loopback page can never open a direct
        connection to another host."""
        for _hop in range(6):
            session = self._session(site, self.route(site, url))
            resp = await session.get(url, headers=headers, allow_redirects=False)
            location = resp.headers.get("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                resp.release()
                url = str(resp.url.join(URL(location)))
                continue
            try:
                yield resp
            finally:
                resp.release()
            return
        raise SiteUnreachableError(f"site {site.name}: more than five redirects")

    def _unreachable(self, site: SiteLike, url: str, route: str, exc: BaseException
                     ) -> FetchError:
        if route == "tor":
            return TorUnavailableError(
                f"Tor's SOCKS port {self.socks.host}:{self.socks.port} does not answer "
                f"({_reason(exc)}); is tor running? Nothing was sent another way")
        return SiteUnreachableError(f"site {site.name}: {_shown(site, url)}: {_reason(exc)}")

    async def download(self, site: SiteLike, url: str, dest: Path, *, max_bytes: int,
                       attempts: int = 4) -> int:
        """Stream ``url`` into ``dest``, resuming with ``Range`` after a broken transfer.

        Onion downloads of hundreds of MB break often; restarting from zero each time may
        never finish. Returns the bytes written.

        :raises DownloadError: larger than ``max_bytes``, or still incomplete after
            ``attempts`` tries.
        :raises TorUnavailableError: Tor's SOCKS port does not answer.
        """
        route = self.route(site, url)
        have = 0
        last = "no attempt"
        with dest.open("wb") as out:
            for attempt in range(attempts):
                if attempt:
                    await self._sleep(min(30.0, 2.0 ** attempt) * random.uniform(0.5, 1.0))  # noqa: S311
                headers = {"Range": f"bytes={have}-"} if have else {}
                try:
                    async with self._open(site, url, headers) as resp:
                        have = self._resume_point(site, url, resp, have, out)
                        length = resp.content_length
                        if length is not None and have + length > max_bytes:
                            raise DownloadError(
                                f"site {site.name}: file {_shown(site, url)} has "
                                f"{have + length} bytes, over the limit of {max_bytes}")
                        async for chunk in resp.content.iter_chunked(_CHUNK):
                            have += len(chunk)
                            if have > max_bytes:
                                raise DownloadError(
                                    f"site {site.name}: file {_shown(site, url)} exceeds "
                                    f"the limit of {max_bytes} bytes; download stopped")
                            out.write(chunk)
                        out.flush()
                        return have
                except FetchError:
                    raise
                except (ProxyConnectionError, ConnectionRefusedError) as exc:
                    raise self._unreachable(site, url, route, exc) from None
                except _TRANSIENT as exc:
                    if is_storage_full(exc):
                        raise  # our disk, not the site: retrying now would fail alike
                    out.flush()
                    have = out.tell()
                    last = _reason(exc)
                    log.info("download interrupted; will resume", extra={
                        "site": site.name, "bytes": have, "attempt": attempt + 1,
                        "reason": last})
        raise DownloadError(f"site {site.name}: file {_shown(site, url)} incomplete after "
                            f"{attempts} attempts ({last}); {have} bytes received")

    def _resume_point(self, site: SiteLike, url: str, resp: aiohttp.ClientResponse,
                      have: int, out: Any) -> int:
        if resp.status == 206 and have:
            start = _content_range_start(resp.headers.get("Content-Range"))
            if start == have:
                return have
        if resp.status == 200 or (resp.status == 206 and not have):
            if have:
                log.info("server ignored Range; starting over", extra={"site": site.name})
            out.seek(0)
            out.truncate()
            return 0
        raise SiteUnreachableError(f"site {site.name}: file {_shown(site, url)} answered "
                                   f"HTTP {resp.status}")


def _content_range_start(value: str | None) -> int | None:
    # "bytes 1000-1999/5000"
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
