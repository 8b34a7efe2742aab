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
from monitor.tor.socks import Fetcher, SocksSettings
from monitor.watchlist import Watchlist

__all__ = ["open_crawler"]

log = logging.getLogger(__name__)


def fetcher_for(ctx: Context) -> Fetcher:
    """The fetcher the configuration asks for; no SOCKS address means no Tor at all."""
    tor = ctx.config.tor
    address = tor.socks_address()
    socks = SocksSettings(host=address[0] if address else None,
                          port=address[1] if address else 0,
                          max_page_bytes=tor.max_page_bytes)
    return Fetcher(socks)


async def _control(ctx: Context) -> TorControl | None:
    """Tor's control port for NEWNYM, or ``None`` (logged) when it is not usable: crawling
    through SOCKS works without it."""
    tor = ctx.config.tor
    if not tor.control:
        return None
    try:
        return await TorControl.from_settings(tor)
    except CohortwatchError as exc:
        log.warning("Tor control port not usable; no NEWNYM or health checks",
                    extra={"reason": str(exc)})
        return None


@contextlib.asynccontextmanager
async def open_crawler(ctx: Context, *, control: bool = True) -> AsyncIterator[Crawler]:
    """A ready :class:`Crawler`; its network resources are closed on exit."""
    cfg = ctx.config
    fetcher = fetcher_for(ctx)
    tor = await _control(ctx) if control else None
    options = ScanOptions(limits=cfg.limits, settings=cfg.matching,
                          archive_limits=cfg.archives)
    crawler = Crawler(
        store=CrawlStore(ctx.db), fetcher=fetcher, watchlist=Watchlist(cfg.watchlist),
        settings=cfg.crawler, tor=tor,
        matcher=DatasetMatcher(ctx.open_cohort_store, options,
                               concurrency=cfg.crawler.match_concurrency,
                               temp_root=temp_root_for(ctx.state_dir)),
    )
    try:
        yield crawler
    finally:
        await fetcher.close()
        if tor is not None:
            await tor.close()
