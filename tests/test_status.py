"""``cohortwatch status`` as an operator runs it: after a crawl of a loopback leak site, with
Tor's control port closed or silent, with an outbox and cohorts in the database, and the
errors that are exit status 2."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import fixed_key, run
from leaksite import LeakSite, Post
from test_metrics import fill_outbox

from matchers.store import open_db
from monitor.config import load_config
from monitor.context import Context
from monitor.crawl import CrawlStore
from monitor.status import collect_status, probe_tor, render_text
from monitor.tor.settings import TorSettings

SITES = """
[sites.lab]
mirrors = ["http://127.0.0.1:{port}/"]
allow_direct = true   # tests only
interval = 60

[sites.lab.parser]
type = "html"
post = "div.card"
victim = "h3.victim"
link = "a.more"

[sites.hidden]
mirrors = ["http://vanvaegh6dlmvrsixfnjrqqp2fetqk4vsh3gpnsqc5pxvj2vwsu74sqd.onion/"]
enabled = false
[sites.hidden.parser]
type = "html"
post = "div.card"
victim = "h3"
"""
NO_TOR = '[tor]\nsocks = ""\ncontrol = ""\n'


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def crawled(tmp_path: Path) -> AsyncIterator[tuple[Path, Path, int]]:
    """A state directory after one crawl of the loopback site; the site's port."""
    site = await LeakSite(posts=[Post(1, "Acme Holding B.V."), Post(2, "Nova Lab")]).start()
    state = tmp_path / "state"
    fixed_key(state / "secret.key")
    config = tmp_path / "cohortwatch.toml"
    config.write_text(NO_TOR + SITES.replace("{port}", str(site.port)))
    assert (await asyncio.to_thread(run, "init", state=state)).returncode == 0
    r = await asyncio.to_thread(run, "--config", str(config), "crawl", state=state)
    assert r.returncode == 0, r
    yield state, config, site.port
    await site.stop()


async def test_status_after_a_crawl(crawled: tuple[Path, Path, int]) -> None:
    state, config, _ = crawled
    as_json, as_text = await asyncio.gather(
        asyncio.to_thread(run, "--config", str(config), "status", "--json", state=state),
        asyncio.to_thread(run, "--config", str(config), "status", state=state))
    assert as_json.returncode == 0 and as_text.returncode == 0, (as_json, as_text)
    s = as_json.json()
    assert s["schema"] == "cohortwatch.status/1"
    assert s["tor"]["configured"] is False and s["tor"]["reachable"] is False
    lab, hidden = s["sites"]
    assert lab["name"] == "lab" and lab["state"] == "up" and lab["crawled"]
    assert lab["last_success"] and lab["next_due"] and lab["failures"] == 0
    assert lab["posts"] == {"listed": 2, "removed": 0} and lab["posts_listed"] == 2
    assert lab["mirrors"] == {"up": 1, "down": 0, "unknown": 0}
    assert hidden == {**hidden, "name": "hidden", "configured": True, "enabled": False,
                      "crawled": False, "state": "unknown", "last_success": None}
    assert hidden["mirrors"]["unknown"] == 1
    assert s["outbox"] == {"present": False}
    assert s["cohorts"] == [] and s["datasets"] == {"scanned": 0, "matched": 0}
    assert "127.0.0.1" not in as_json.stdout  # mirrors by count, never by address

    lines = as_text.stdout.splitlines()
    assert lines[0].startswith("cohortwatch status, ")
    assert lines[1].startswith("tor       not checked: no control port configured")
    header = next(line for line in lines if line.startswith("sites "))
    assert header.split() == ["sites", "name", "state", "last", "success", "fails", "next",
                              "due", "mirrors", "posts"]
    lab_line = next(line for line in lines if line[10:].startswith("lab "))
    assert lab_line.index("up") == header.index("state")
    assert "1/1 up" in lab_line and "2 listed, 0 removed" in lab_line
    assert any(line[10:].startswith("hidden") and "disabled" in line for line in lines)
    assert any(line.startswith("outbox    no outbox yet") for line in lines)
    assert any(line.startswith("cohorts   none enrolled") for line in lines)


async def test_status_with_tor_closed_and_silent(tmp_path: Path) -> None:
    """An unreachable Tor is shown, not an error; a Tor that accepts and never answers
    is given up on after --tor-timeout. (No key needed: there is none.)"""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    open_db(state).conn.close()  # two commands creating a database at once would race
    closed = _closed_port()
    closed_cfg = tmp_path / "closed.toml"
    closed_cfg.write_text(f'[tor]\nsocks = ""\ncontrol = "127.0.0.1:{closed}"\n')
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent_cfg = tmp_path / "silent.toml"
        silent_cfg.write_text(f'[tor]\nsocks = ""\ncontrol = "127.0.0.1:'
                              f'{silent.getsockname()[1]}"\n')
        started = time.monotonic()
        r_closed, r_silent = await asyncio.gather(
            asyncio.to_thread(run, "--config", str(closed_cfg), "status", "--json",
                              state=state),
            asyncio.to_thread(run, "--config", str(silent_cfg), "status",
                              "--tor-timeout", "1", state=state))
        took = time.monotonic() - started
    for r in (r_closed, r_silent):
        assert r.returncode == 0, r
    tor = r_closed.json()["tor"]
    assert tor["configured"] and not tor["reachable"] and tor["healthy"] is None
    assert f"127.0.0.1:{closed}" in tor["error"]
    assert "tor       UNREACHABLE at 127.0.0.1:" in r_silent.stdout
    assert "did not answer within 1 s" in r_silent.stdout
    assert took < 30


async def test_status_errors_are_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[metrics]\nlisten = "0.0.0.0:9464"\n')
    missing, bad_config = await asyncio.gather(
        asyncio.to_thread(run, "status", state=tmp_path / "nothing-here"),
        asyncio.to_thread(run, "--config", str(bad), "status", state=tmp_path))
    assert missing.returncode == 2 and "cohortwatch init" in missing.stderr, missing
    assert bad_config.returncode == 2 and "metrics.listen" in bad_config.stderr, bad_config
    for r in (missing, bad_config):
        assert "Traceback" not in r.stderr and r.stdout == ""


def test_status_outbox_cohorts_events_and_failing_site(tmp_path: Path) -> None:
    """In process (no subprocess start-up): outbox per endpoint, cohorts read without the
    key, a failing site with its reason, a site in the database no longer configured."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = tmp_path / "c.toml"
    config.write_text(NO_TOR + SITES.replace("{port}", "1"))
    db = open_db(state)
    store = CrawlStore(db)
    store.update_site("lab", state="down", failures=3, first_crawl="2025-07-06T12:00:00+00:00",
                      last_error="mirror 1: connection refused")
    store.update_site("gone", state="up", first_crawl="2025-07-01T12:00:00+00:00")
    store.add_event("site.down", datetime.now(UTC), dedupe="x", site="lab")
    with db.conn:
        db["cohorts"].insert({"name": "screening-2025", "created": "2025-07-06",
                              "updated": "2025-07-06", "key_check": "x", "members": 485000})
    fill_outbox(db)
    ctx = Context(state, load_config(str(config)))  # no key file at all
    try:
        s = collect_status(ctx)
    finally:
        ctx.close()
    assert s["outbox"]["depth"] == 2 and s["outbox"]["dead"] == 1
    assert s["outbox"]["disabled"] == 1 and list(s["outbox"]["disabled_endpoints"]) == ["chat"]
    assert s["outbox"]["endpoints"]["cert"] == {"pending": 2, "delivered": 1, "dead": 1}
    assert s["outbox"]["oldest_pending"].startswith("2025-07-06T12:00:00")
    assert s["cohorts"] == [{"name": "screening-2025", "members": 485000,
                             "updated": "2025-07-06"}]
    assert s["events"] == {"total": 1, "by_type": {"site.down": 1}}
    names = [site["name"] for site in s["sites"]]
    assert names == ["lab", "hidden", "gone"]
    assert s["sites"][2]["configured"] is False
    json.dumps(s)  # plain JSON values only
    text = render_text(s)
    assert "outbox    2 waiting, 1 dead, 1 disabled; oldest waiting since 2025-07-06" in text
    assert "  cert: 1 dead, 1 delivered, 2 pending" in text
    assert "  chat: 1 disabled  [DISABLED since 2025-07-06 12:00Z" in text
    assert "cohortwatch alerts enable chat]" in text
    assert "screening-2025     485,000 members" in text
    assert "why: mirror 1: connection refused" in text
    assert "[not configured]" in text


async def test_probe_managed_tor_not_running(tmp_path: Path) -> None:
    """With ``managed = true`` the probe looks where our managed tor leaves its port."""
    settings = TorSettings(managed=True, control="")
    out = await probe_tor(settings, tmp_path, timeout=1)
    assert out["configured"] and not out["reachable"] and "not running" in out["error"]
    (tmp_path / "tor").mkdir()
    port = _closed_port()
    (tmp_path / "tor" / "control-port").write_text(f"PORT=127.0.0.1:{port}\n")
    out = await probe_tor(settings, tmp_path, timeout=1)
    assert not out["reachable"] and out["control"] == f"127.0.0.1:{port}"


@pytest.mark.tor
@pytest.mark.timeout(240)
async def test_status_of_a_healthy_tor(tmp_path: Path, tor_network) -> None:
    """Against the private Tor network's client (cookie authentication): reachable and
    healthy, bootstrap 100 %, circuit established."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    open_db(state).conn.close()  # two commands creating a database at once would race
    config = tmp_path / "c.toml"
    config.write_text(f'[tor]\nsocks = ""\ncontrol = "127.0.0.1:{tor_network.control_port}"\n')
    as_json, as_text = await asyncio.gather(
        asyncio.to_thread(run, "--config", str(config), "status", "--json",
                          "--tor-timeout", "10", state=state),
        asyncio.to_thread(run, "--config", str(config), "status", "--tor-timeout", "10",
                          state=state))
    assert as_json.returncode == 0 and as_text.returncode == 0, (as_json, as_text)
    tor = as_json.json()["tor"]
    assert tor["reachable"] and tor["healthy"], tor
    assert tor["bootstrap_percent"] == 100 and tor["circuit_established"]
    assert tor["problems"] == [] and tor["error"] is None
    assert (f"tor       healthy (127.0.0.1:{tor_network.control_port}): bootstrap 100% "
            in as_text.stdout), as_text
