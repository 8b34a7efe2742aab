"""The crawler over a real leak site on loopback, reached under an onion name through a
real SOCKS5 relay (the Tor network tests, ``-m tor``, repeat the essentials over Tor).

One site's life, crawl by crawl: baseline, a new post naming a watched organisation whose
archive holds cohort members, removal and re-appearance, a broken parser, a CAPTCHA, the
site down and up again, a re-post of the same dataset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import leaksite
import pytest
from leaksite import LeakSite, Post, site_for
from socks_relay import SocksRelay

from monitor.config import Config
from monitor.context import Context
from monitor.crawl import Crawler, CrawlerSettings, CrawlStore, DatasetMatcher
from monitor.crawl.crawler import temp_root_for
from monitor.tor.socks import Fetcher, SocksSettings
from monitor.watchlist import WatchEntry, Watchlist, WatchlistSettings

ONION = "nova" + "a" * 52 + ".onion"
MIRROR2 = "novb" + "b" * 52 + ".onion"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, hours: float = 1) -> None:
        self.now += timedelta(hours=hours)


class NewnymRecorder:
    """Stands in for Tor's control port, which the unit tests do not run (the Tor tests
    check that NEWNYM really reaches tor)."""

    def __init__(self) -> None:
        self.calls = 0

    async def newnym(self) -> bool:
        self.calls += 1
        return True


@pytest.fixture(scope="module")
def cohort_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    return leaksite.cohort_state(tmp_path_factory.mktemp("crawl"))


@pytest.fixture
async def world(cohort_state, tmp_path: Path):
    state_src, archive, harmless = cohort_state
    state = tmp_path / "state"
    import shutil

    shutil.copytree(state_src, state)
    site = await LeakSite().start()
    relay = await SocksRelay().start()
    relay.routes[f"{ONION}:80"] = site.port
    ctx = Context(state, Config())
    clock = Clock()
    tor = NewnymRecorder()
    fetcher = Fetcher(SocksSettings(port=relay.port))
    crawler = Crawler(
        store=CrawlStore(ctx.db), fetcher=fetcher, clock=clock, tor=tor,
        watchlist=Watchlist(WatchlistSettings(entries=(
            WatchEntry("Clinical Diagnostics NMDL", ("Clinical Diagnostics",),
                       ("clinicaldiagnostics.nl",)),))),
        settings=CrawlerSettings(down_after=3, newnym_after=2),
        matcher=DatasetMatcher(ctx.open_cohort_store, temp_root=temp_root_for(state)),
    )
    yield {"site": site, "relay": relay, "crawler": crawler, "clock": clock, "tor": tor,
           "archive": archive, "harmless": harmless, "state": state,
           "def": site_for("nova", (f"http://{ONION}/",))}
    await fetcher.close()
    await relay.stop()
    await site.stop()
    ctx.close()


def _events(w) -> list[str]:
    return [e["type"] for e in w["crawler"].store.events()]


async def test_a_sites_life(world) -> None:
    w = world
    site, crawler, clock, sdef = w["site"], w["crawler"], w["clock"], w["def"]
    site.posts = [Post(1, "Acme Holding B.V."), Post(2, "Eurofinance Group"),
                  Post(3, "Stichting Zorg &amp; Welzijn"), Post(4, "Nova Lab"),
                  Post(5, "Omega Transport")]

    out = await crawler.crawl_site(sdef)
    assert out.ok and out.baseline and out.pages == 2 and out.new_posts == 5
    assert _events(w) == []  # a baseline alerts nothing

    # A new post names a watched organisation and links its archive.
    clock.tick()
    site.posts.insert(0, Post(6, "Clinical Diagnostics", summary="Lab data, BSN, results",
                              files={"nmdl-sample.zip": w["archive"]}))
    out = await crawler.crawl_site(sdef)
    assert (out.new_posts, out.watch_matches, out.files_downloaded) == (1, 1, 1)
    assert out.members_matched == 10
    events = crawler.store.events()
    assert [e["type"] for e in events] == ["post.watchlist_matched", "dataset.matched"]
    watch, matched = events
    assert watch["data"]["entry"] == "Clinical Diagnostics NMDL" and watch["data"]["score"] == 1.0
    assert matched["data"]["cohort"] == "screening"
    assert len(matched["data"]["refs"]) == 10 and matched["data"]["by_method"]["bsn"] == 10
    assert matched["post_id"] == watch["post_id"] and matched["dataset_id"]
    assert not list((w["state"] / "tmp").iterdir())  # the download is gone

    # The same crawl again: nothing new, nothing downloaded twice, no duplicate events.
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert (out.new_posts, out.files_downloaded, out.events) == (0, 0, [])

    # A post vanishes, then comes back (entities and whitespace re-rendered differently).
    gone = site.posts.pop(2)
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.removed == 1 and out.events == []
    gone.victim = "  EUROFINANCE   group "
    site.posts.append(gone)
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.reappeared == 1 and out.new_posts == 0 and out.events == ["post.reappeared"]

    # The layout changes: the parser finds nothing. That is "parser broken", not removals.
    site.mode = "broken"
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.status == "parser_broken" and out.removed == 0
    assert out.events == ["parser.broken"]
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.events == []  # reported once, not every cycle
    site.mode = "ok"
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.ok and out.removed == 0 and out.new_posts == 0

    # A CAPTCHA wall is "blocked": a failure, never "every post removed".
    site.mode = "captcha"
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.status == "blocked" and "captcha" in out.reason.lower() and out.removed == 0
    site.mode = "ok"
    clock.tick()
    assert (await crawler.crawl_site(sdef)).ok

    # Down for three cycles: site.down once, new circuits and NEWNYM after two failures.
    site.mode = "down"
    for _ in range(3):
        clock.tick()
        out = await crawler.crawl_site(sdef)
        assert not out.ok
    assert out.events == ["site.down"] and w["tor"].calls >= 1
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.events == []
    site.mode = "ok"
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert out.ok and out.events == ["site.up"]

    # The same archive posted again under another victim: dataset.reposted, linked to
    # the first sighting; no second dataset.matched.
    site.posts.insert(0, Post(7, "Clinical Diagnostics NMDL full dump",
                              files={"full.zip": w["archive"]}))
    clock.tick()
    out = await crawler.crawl_site(sdef)
    assert "dataset.reposted" in out.events and "dataset.matched" not in out.events
    reposted = crawler.store.events(type_="dataset.reposted")[0]
    assert reposted["data"]["first_sighting"]["relation"] == "identical"
    assert _events(w).count("dataset.matched") == 1


async def test_mirror_failover_and_history(world) -> None:
    w = world
    sdef = site_for("nova", (f"http://{MIRROR2}/", f"http://{ONION}/"))
    w["site"].posts = [Post(1, "Acme Holding B.V.")]
    out = await w["crawler"].crawl_site(sdef)
    assert out.ok
    mirrors = w["crawler"].store.mirrors("nova")
    assert mirrors[f"http://{MIRROR2}/"]["state"] == "down"
    assert mirrors[f"http://{ONION}/"]["state"] == "up"
    # The mirror that answered is tried first next time.
    before, served = len(w["relay"].requests), len(w["site"].requests)
    w["clock"].tick()
    assert (await w["crawler"].crawl_site(sdef)).ok
    assert all(r.host != MIRROR2 for r in w["relay"].requests[before:])
    assert len(w["site"].requests) > served


async def test_tor_down_is_not_site_down(world) -> None:
    w = world
    w["site"].posts = [Post(1, "Acme Holding B.V.")]
    await w["relay"].stop()
    for _ in range(4):
        w["clock"].tick()
        out = await w["crawler"].crawl_site(w["def"])
        assert out.status == "tor_unavailable"
    assert w["crawler"].store.site("nova")["state"] != "down"
    assert w["site"].requests == []  # fail closed: nothing reached the site


async def test_download_all_and_never(world) -> None:
    w = world
    w["site"].posts = [Post(1, "Acme Holding B.V.", files={"a.zip": w["harmless"]})]
    never = site_for("nova", (f"http://{ONION}/",), download="never")
    out = await w["crawler"].crawl_site(never)
    assert out.files_downloaded == 0
    every = site_for("nova", (f"http://{ONION}/",), download="all")
    w["clock"].tick()
    out = await w["crawler"].crawl_site(every)
    assert out.files_downloaded == 1 and out.members_matched == 0
    assert _events(w) == []


async def test_oversized_file_is_skipped_and_reported(world) -> None:
    w = world
    w["site"].posts = [Post(1, "Clinical Diagnostics", files={"big.zip": w["archive"]})]
    small = site_for("nova", (f"http://{ONION}/",), max_download_bytes=100)
    out = await w["crawler"].crawl_site(small)
    assert out.files_downloaded == 0
    (f,) = w["crawler"].store.files(1)
    assert f["status"] == "skipped" and "limit" in f["error"]
