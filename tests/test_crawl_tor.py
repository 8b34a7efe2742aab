"""The crawler over the private Tor network (``-m tor``): a leak site behind a real v3
onion service, fetched through the client tor's SOCKS port, with NEWNYM on its control
port. The loopback tests (test_crawler.py) cover every branch; these prove the same life
works over Tor: listing, new post, watchlist hit, archive downloaded over the onion service
and matched, removal and re-appearance, site down and up, NEWNYM after failures, and that
with Tor's SOCKS port down nothing reaches the site another way.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import leaksite
import pytest
import stem.control
from leaksite import LeakSite, Post, site_for

from monitor.config import Config
from monitor.context import Context
from monitor.crawl import Crawler, CrawlerSettings, CrawlStore, DatasetMatcher
from monitor.crawl.crawler import temp_root_for
from monitor.errors import TorUnavailableError
from monitor.sites.model import Timeouts
from monitor.tor.control import TorControl
from monitor.tor.socks import Fetcher, SocksSettings
from monitor.watchlist import WatchEntry, Watchlist, WatchlistSettings

pytestmark = pytest.mark.tor


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    return leaksite.cohort_state(tmp_path_factory.mktemp("torcrawl"))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


async def test_a_sites_life_over_tor(tor_network, cohort, tmp_path: Path) -> None:
    net = tor_network
    state = tmp_path / "state"
    shutil.copytree(cohort[0], state)
    onion = net.onions[0]
    site = await LeakSite(posts=[Post(1, "Acme Holding B.V."), Post(2, "Nova Lab")]).start(
        port=onion.target_port)
    ctx = Context(state, Config())
    control = await TorControl.connect(port=net.control_port, cookie_path=net.cookie_path)
    fetcher = Fetcher(SocksSettings(port=net.socks_port))
    sdef = site_for("nova", (f"http://{onion.hostname}/",),
                    timeout=Timeouts(connect=45.0, read=45.0))
    crawler = Crawler(
        store=CrawlStore(ctx.db), fetcher=fetcher, clock=Clock(), tor=control,
        watchlist=Watchlist(WatchlistSettings(entries=(
            WatchEntry("Clinical Diagnostics NMDL", ("Clinical Diagnostics",)),))),
        settings=CrawlerSettings(down_after=2, newnym_after=2),
        matcher=DatasetMatcher(ctx.open_cohort_store, temp_root=temp_root_for(state)),
    )
    signals: list[str] = []
    lock = threading.Lock()

    def on_signal(event: stem.response.events.SignalEvent) -> None:
        with lock:
            signals.append(event.signal)

    try:
        out = await crawler.crawl_site(sdef)
        assert out.ok and out.baseline and out.new_posts == 2, out

        site.posts.insert(0, Post(3, "Clinical Diagnostics", summary="Lab data",
                                  files={"nmdl.zip": cohort[1]}))
        out = await crawler.crawl_site(sdef)
        assert out.events == ["post.watchlist_matched", "dataset.matched"], out
        assert out.files_downloaded == 1 and out.members_matched == 10
        assert "/files/nmdl.zip" in site.requests  # fetched over the onion service

        gone = site.posts.pop()
        out = await crawler.crawl_site(sdef)
        assert out.removed == 1
        site.posts.append(gone)
        out = await crawler.crawl_site(sdef)
        assert out.events == ["post.reappeared"]

        # The site goes down (its server stops; the onion service stays published).
        with net.controller() as watcher:
            watcher.add_event_listener(on_signal, stem.control.EventType.SIGNAL)
            wait = await control.run(lambda c: c.get_newnym_wait())
            await asyncio.sleep(wait)  # other tests' NEWNYM must not defer ours
            await site.stop()
            first = await crawler.crawl_site(sdef)
            second = await crawler.crawl_site(sdef)
            assert not first.ok and not second.ok
            assert second.events == ["site.down"], second
            for _ in range(50):
                if signals:
                    break
                await asyncio.sleep(0.1)
        assert "NEWNYM" in signals

        await site.start(port=onion.target_port)
        out = None
        for _ in range(3):  # fresh circuits to the onion service may take a try
            out = await crawler.crawl_site(sdef)
            if out.ok:
                break
        assert out is not None and out.ok and "site.up" in out.events
    finally:
        await fetcher.close()
        await control.close()
        await site.stop()
        ctx.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_fail_closed_with_socks_down(tor_network) -> None:
    """Tor's SOCKS port down: an error naming Tor, and not one connection to the site — not
    to its onion name, not to the loopback address the onion forwards to."""
    onion = tor_network.onions[1]
    site = await LeakSite(posts=[Post(1, "Acme Holding B.V.")]).start(port=onion.target_port)
    fetcher = Fetcher(SocksSettings(port=_closed_port()))
    started = time.monotonic()
    try:
        for url in (f"http://{onion.hostname}/", f"http://127.0.0.1:{onion.target_port}/"):
            with pytest.raises(TorUnavailableError):
                await fetcher.get(site_for("nova", (url,)), url)
        # ... while through the real SOCKS port the same site answers.
        ok = Fetcher(SocksSettings(port=tor_network.socks_port))
        try:
            page = await ok.get(site_for("nova", ()), f"http://{onion.hostname}/")
        finally:
            await ok.close()
    finally:
        await fetcher.close()
        await site.stop()
    assert b"Our victims" in page.body
    assert site.requests == ["/"]  # only the request that went through Tor
    assert time.monotonic() - started < 120


def _processes_using(path: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(path).encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


async def test_crawl_command_with_a_managed_tor(tor_network, tmp_path: Path) -> None:
    """``[tor] managed = true``: ``cohortwatch crawl`` launches its own tor (joined to the
    private network by extra torrc lines), waits for it to bootstrap, crawls the onion site
    through it, and stops it."""
    from conftest import fixed_key, run

    onion = tor_network.onions[0]
    site = await LeakSite(posts=[Post(1, "Acme Holding B.V."),
                                 Post(2, "Clinical Diagnostics")]).start(port=onion.target_port)
    state = tmp_path / "state"
    fixed_key(state / "secret.key")
    torrc = ", ".join(f'"{line}"' for line in tor_network.network_options())
    config = tmp_path / "cohortwatch.toml"
    config.write_text(f"""
[tor]
managed = true
bootstrap_timeout = 120
torrc = [{torrc}]

[watchlist]
[[watchlist.organisations]]
name = "Clinical Diagnostics NMDL"
aliases = ["Clinical Diagnostics"]

[sites.nova]
mirrors = ["http://{onion.hostname}/"]
timeout = {{ connect = 45, read = 45 }}
[sites.nova.parser]
type = "html"
post = "div.card"
victim = "h3.victim"
link = "a.more"
""")
    try:
        assert (await asyncio.to_thread(run, "init", state=state)).returncode == 0
        r = await asyncio.to_thread(run, "--config", str(config), "crawl", "--json",
                                    state=state, timeout=240)
    finally:
        await site.stop()
    assert r.returncode == 0, r
    (out,) = r.json()
    assert out["ok"] and out["baseline"] and out["posts_seen"] == 2 and out["watch_matches"] == 1
    assert (state / "tor").is_dir() and oct((state / "tor").stat().st_mode)[-3:] == "700"
    assert _processes_using(state / "tor") == []  # the managed tor was stopped
