"""Crawl speed: 200 leak sites served on loopback (no Tor), crawled in one cycle.

A server process serves every site (listing pages of 30 cards with a countdown, a next
page, and post pages); this process runs the real crawler — fetcher, parser, post
identity, watchlist, state database — against them, first the baseline cycle, then a
second cycle in which every site has new posts (the steady state of a daemon). Prints
sites/s, pages/s, CPU per page and the crawler's peak RSS. ``--latency`` adds a delay
per response, to see what concurrency buys when pages come from onion services.

    python bench/crawl.py [--sites 200] [--concurrency 8] [--latency 0.0]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

POSTS_PER_PAGE = 30
PAGES = 2


def serve(port: int, latency: float) -> None:
    from aiohttp import web

    state = {"cycle": 0}

    def cards(site: int, page: int) -> str:
        out = []
        first = state["cycle"] * 3  # each cycle lists three newer posts first
        for i in range(POSTS_PER_PAGE):
            n = first + (page - 1) * POSTS_PER_PAGE + i
            out.append(
                f'<div class="card"><h3 class="victim">{html.escape(f"Victim {site}-{n} B.V.")}'
                f'</h3><time class="published" datetime="2025-07-06">06/07/2025</time>'
                f'<span class="timer">{n % 14}D 04h 10m</span><p class="summary">'
                f"{'Contracts, HR files, customer database. ' * 8}</p>"
                f'<a class="more" href="/s/{site}/post/{n}">Read more</a></div>')
        return "".join(out)

    async def listing(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        site = int(request.match_info["site"])
        page = int(request.query.get("page", "1"))
        nxt = f'<a class="next" href="/s/{site}/?page={page + 1}">Next</a>' if page < PAGES else ""
        body = ("<html><head><title>Leaks</title><style>" + "x{}" * 500 + "</style></head>"
                f"<body><nav>{'<a href=/x>menu</a>' * 40}</nav><div class=grid>"
                f"{cards(site, page)}</div>{nxt}</body></html>")
        return web.Response(text=body, content_type="text/html")

    async def next_cycle(_request: web.Request) -> web.Response:
        state["cycle"] += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/s/{site}/", listing)
    app.router.add_post("/cycle", next_cycle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def crawl(port: int, n_sites: int, concurrency: int) -> None:
    import aiohttp

    from matchers.store import open_db
    from monitor.crawl import Crawler, CrawlerSettings, CrawlStore
    from monitor.sites.model import Extract, HtmlParserSpec, Site
    from monitor.tor.socks import Fetcher, SocksSettings
    from monitor.watchlist import WatchEntry, Watchlist, WatchlistSettings

    parser = HtmlParserSpec(post="div.card", victim=Extract("h3.victim"),
                            link=Extract("a.more"), published=Extract("time.published"),
                            deadline=Extract("span.timer"), description=Extract("p.summary"),
                            next=Extract("a.next"))
    sites = [Site(name=f"site{i:03d}", mirrors=(f"http://127.0.0.1:{port}/s/{i}/",),
                  parser=parser, allow_direct=True, max_pages=PAGES) for i in range(n_sites)]
    watch = Watchlist(WatchlistSettings(entries=(
        WatchEntry("Clinical Diagnostics NMDL", ("Clinical Diagnostics",),
                   ("clinicaldiagnostics.nl",)),
        WatchEntry("Eurofins", (), ("eurofins.com",)),
        WatchEntry("Bevolkingsonderzoek Nederland"),
    )))
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp))
        fetcher = Fetcher(SocksSettings(host=None))
        crawler = Crawler(store=CrawlStore(db), fetcher=fetcher, watchlist=watch,
                          settings=CrawlerSettings(concurrency=concurrency))
        for cycle in ("baseline", "steady"):
            if cycle == "steady":
                async with aiohttp.ClientSession() as s:
                    await s.post(f"http://127.0.0.1:{port}/cycle")
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            outcomes = await crawler.crawl_all(sites)
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            pages = sum(o.pages for o in outcomes)
            ok = sum(o.ok for o in outcomes)
            new = sum(o.new_posts for o in outcomes)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"crawl cycle={cycle} sites={n_sites} ok={ok} concurrency={concurrency} "
                  f"pages={pages} new_posts={new} wall={wall:.2f}s "
                  f"rate={n_sites / wall:.1f} sites/s {pages / wall:.1f} pages/s "
                  f"cpu_per_page={1000 * cpu / max(pages, 1):.1f}ms peak_rss={rss:.0f}MB",
                  flush=True)
        await fetcher.close()
        db.conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.latency)
        return 0
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port),
                               "--latency", str(args.latency)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(crawl(port, args.sites, args.concurrency))
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
