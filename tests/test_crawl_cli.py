"""``cohortwatch crawl``, ``posts list`` and ``events list`` as an operator runs them, against
a loopback leak site the configuration explicitly allows without Tor."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import fixed_key, run
from leaksite import LeakSite, Post

CONFIG = """
[tor]
socks = ""            # no Tor: only the explicitly direct loopback site below works
control = ""

[watchlist]
[[watchlist.organisations]]
name = "Clinical Diagnostics NMDL"
aliases = ["Clinical Diagnostics"]

[sites.lab]
mirrors = ["http://127.0.0.1:{port}/"]
allow_direct = true   # tests and the demo only
interval = 60

[sites.lab.parser]
type = "html"
post = "div.card"
victim = "h3.victim"
link = "a.more"
published = "time.published"
deadline = "span.timer"
description = "p.summary"
next = "a.next"

[sites.lab.parser.detail]
description = "div.body"
files = "ul.files a"

[sites.hidden]
mirrors = ["http://vanvaegh6dlmvrsixfnjrqqp2fetqk4vsh3gpnsqc5pxvj2vwsu74sqd.onion/"]
enabled = false
[sites.hidden.parser]
type = "html"
post = "div.card"
victim = "h3"
"""


@pytest.fixture
async def lab(tmp_path: Path):
    site = await LeakSite(posts=[Post(1, "Acme Holding B.V."), Post(2, "Nova Lab")]).start()
    state = tmp_path / "state"
    fixed_key(state / "secret.key")
    config = tmp_path / "cohortwatch.toml"
    config.write_text(CONFIG.replace("{port}", str(site.port)))
    assert (await asyncio.to_thread(run, "init", state=state)).returncode == 0
    yield site, state, config
    await site.stop()


async def cw(state: Path, config: Path, *args: str):
    return await asyncio.to_thread(run, "--config", str(config), *args, state=state)


async def test_crawl_posts_and_events(lab) -> None:
    site, state, config = lab
    r = await cw(state, config, "crawl")
    assert r.returncode == 0, r
    assert "lab: ok (baseline), 1 pages, 2 posts, 2 new" in r.stdout
    assert "hidden" not in r.stdout  # disabled sites are skipped unless named

    site.posts.insert(0, Post(3, "Clinical Diagnostics"))
    r = await cw(state, config, "crawl", "--json")
    assert r.returncode == 0, r
    (out,) = r.json()
    assert out["new_posts"] == 1 and out["events"] == ["post.watchlist_matched"]

    r = await cw(state, config, "posts", "list", "--watched")
    assert "Clinical Diagnostics" in r.stdout and "Acme" not in r.stdout
    r = await cw(state, config, "events", "list", "--json")
    (event,) = json.loads(r.stdout)
    assert event["type"] == "post.watchlist_matched"
    assert event["data"]["entry"] == "Clinical Diagnostics NMDL"

    site.mode = "down"
    r = await cw(state, config, "crawl", "lab")
    assert r.returncode == 1 and "lab: failed" in r.stdout and "HTTP 503" in r.stdout


async def test_fail_closed_and_usage_errors(lab) -> None:
    site, state, config = lab
    # The onion site needs Tor and none is configured: refused, nothing sent elsewhere.
    r = await cw(state, config, "crawl", "hidden")
    assert r.returncode == 1 and "refusing to connect directly" in r.stdout, r
    assert site.requests == []
    r = await cw(state, config, "crawl", "nosuch")
    assert r.returncode == 2 and "no site named nosuch" in r.stderr
    assert "Traceback" not in r.stderr
