"""A crawler wired from the configuration: fetcher on Tor's SOCKS port, Tor's control port
for NEWNYM (when configured and reachable), watchlist, and the dataset matcher on the
state directory's cohorts. ``cohortwatch crawl`` and the daemon share it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from matchers.errors import CohortwatchError
from matchers.scan import ScanOptions
from monitor.context import Context
from monitor.crawl.crawler import Crawler, temp_root_for
from monitor.crawl.datasets import DatasetMatcher
from monitor.crawl.store import CrawlStore
from monitor.tor.control import TorControl
from monitor.tor.managed import ManagedTor
from monitor.tor.socks import Fetcher, SocksSettings
from monitor.tor.status import BootstrapStatus
from monitor.watchlist import Watchlist

__all__ = ["open_crawler", "open_tor"]

log = logging.getLogger(__name__)


def _fetcher(ctx: Context, socks: tuple[str, int] | None) -> Fetcher:
    return Fetcher(SocksSettings(host=socks[0] if socks else None,
                                 port=socks[1] if socks else 0,
                                 max_page_bytes=ctx.config.tor.max_page_bytes))


def _progress(status: BootstrapStatus) -> None:
    log.warning("waiting for Tor to bootstrap", extra={"percent": status.percent,
                                                       "summary": status.summary})


async def _system_control(ctx: Context, wait: bool) -> TorControl | None:
    """Tor's control port for bootstrap, health and NEWNYM, or ``None`` (logged) when it is
    not configured or not usable: crawling through SOCKS works without it."""
    tor = ctx.config.tor
    if not tor.control:
        return None
    try:
        control = await TorControl.from_settings(tor)
    except CohortwatchError as exc:
        log.warning("Tor control port not usable; no bootstrap check or NEWNYM",
                    extra={"reason": str(exc)})
        return None
    if not wait:
        return control
    try:
        await control.wait_for_bootstrap(timeout=tor.bootstrap_timeout, on_progress=_progress)
    except BaseException:
        await control.close()
        raise
    return control


@contextlib.asynccontextmanager
async def open_tor(ctx: Context, *, wait: bool = True
                   ) -> AsyncIterator[tuple[Fetcher, TorControl | ManagedTor | None]]:
    """The fetcher and control connection the configuration asks for: our own managed tor
    (``tor.managed``), else the system tor's SOCKS and control ports. ``wait``: wait for
    the system tor to bootstrap (a one-off crawl wants that; the daemon checks health
    itself). A managed tor is always awaited: its SOCKS port is known only then.

    :raises TorUnavailableError: the managed tor cannot start, or tor does not bootstrap
        within ``tor.bootstrap_timeout``.
    """
    tor = ctx.config.tor
    if tor.managed:
        managed = ManagedTor(ctx.state_dir / "tor", tor_binary=tor.tor_binary,
                             extra_options=tor.torrc, bootstrap_timeout=tor.bootstrap_timeout,
                             on_progress=_progress)
        await managed.start()
        fetcher = _fetcher(ctx, ("127.0.0.1", managed.socks_port))
        try:
            # The ManagedTor itself, not its control connection: that is replaced
            # whenever the supervisor restarts tor.
            yield fetcher, managed
        finally:
            await fetcher.close()
            await managed.close()
        return
    fetcher = _fetcher(ctx, tor.socks_address())
    control = await _system_control(ctx, wait)
    try:
        yield fetcher, control
    finally:
        await fetcher.close()
        if control is not None:
            await control.close()


@contextlib.asynccontextmanager
async def open_crawler(ctx: Context) -> AsyncIterator[Crawler]:
    """A ready :class:`Crawler`; its network resources (and a managed tor) are closed on
    exit."""
    cfg = ctx.config
    options = ScanOptions(limits=cfg.limits, settings=cfg.matching,
                          archive_limits=cfg.archives)
    async with open_tor(ctx) as (fetcher, control):
        yield Crawler(
            store=CrawlStore(ctx.db), fetcher=fetcher, watchlist=Watchlist(cfg.watchlist),
            settings=cfg.crawler, tor=control,
            matcher=DatasetMatcher(ctx.open_cohort_store, options,
                                   concurrency=cfg.crawler.match_concurrency,
                                   temp_root=temp_root_for(ctx.state_dir)),
        )
