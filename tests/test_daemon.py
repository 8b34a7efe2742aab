"""``cohortwatch run`` as systemd runs it: a real subprocess with a real NOTIFY_SOCKET,
a loopback leak site the configuration allows without Tor, signals from outside."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
from conftest import fixed_key, run, start
from leaksite import LeakSite, Post
from webhook_receiver import Answer, Receiver, make_secret

CONFIG = """
[tor]
socks = ""
control = ""

[metrics]
listen = "127.0.0.1:{metrics_port}"

[alerts]
initial_backoff = 0.5
poll_interval = 0.5

[[alerts.endpoints]]
name = "soc"
url = "{hook}"
secret_file = "{secret_file}"
trusted = true

[watchlist]
[[watchlist.organisations]]
name = "Clinical Diagnostics NMDL"
aliases = ["Clinical Diagnostics"]

[sites.lab]
mirrors = ["http://127.0.0.1:{port}/"]
allow_direct = true
interval = {interval}

[sites.lab.parser]
type = "html"
post = "div.card"
victim = "h3.victim"
link = "a.more"
"""


class Notifications:
    """A real unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.seen: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.seen.extend(self.sock.recv(4096).decode().splitlines())
            except BlockingIOError:
                return self.seen

    async def wait_for(self, line: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(s.startswith(line) for s in self.drain()):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {line!r} from the daemon; saw {self.seen[-10:]}")


def _events(state: Path) -> list[str]:
    with sqlite3.connect(state / "cohortwatch.db") as db:
        try:
            return [r[0] for r in db.execute("select type from events order by id")]
        except sqlite3.OperationalError:
            return []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


@pytest.mark.crash
async def test_run_notify_reload_and_stop(tmp_path: Path) -> None:
    site = await LeakSite(posts=[Post(1, "Acme Holding B.V.")]).start()
    receiver = await Receiver(secrets={"soc": make_secret(3)}).start()
    secret = tmp_path / "webhook-soc"
    secret.write_text(make_secret(3))
    secret.chmod(0o600)
    state = tmp_path / "state"
    fixed_key(state / "secret.key")
    config = tmp_path / "cohortwatch.toml"
    metrics_port = _free_port()
    config.write_text(CONFIG.format(port=site.port, interval=1, metrics_port=metrics_port,
                                    hook=receiver.url("soc"), secret_file=secret))
    assert (await asyncio.to_thread(run, "init", state=state)).returncode == 0
    notes = Notifications(tmp_path / "notify.sock")
    daemon = start("--config", config, "run", state=state,
                   env={"NOTIFY_SOCKET": str(notes.path), "WATCHDOG_USEC": "2000000",
                        "WATCHDOG_PID": ""})
    try:
        await notes.wait_for("READY=1")
        await _until(lambda: len(site.requests) >= 1)  # the baseline crawl
        site.posts.insert(0, Post(2, "Clinical Diagnostics"))
        await _until(lambda: "post.watchlist_matched" in _events(state))
        await notes.wait_for("WATCHDOG=1")
        # The event became a signed alert, verified by the receiver with standardwebhooks.
        await _until(lambda: receiver.of("soc"))
        (arrival,) = receiver.of("soc")
        assert arrival.verified and arrival.json()["type"] == "post.watchlist_matched"
        assert arrival.json()["data"]["entry"] == "Clinical Diagnostics NMDL"
        delivered = 'cohortwatch_webhook_deliveries_total{endpoint="soc",result="delivered"} 1.0'
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{metrics_port}/healthz") as resp:
                assert resp.status == 200
            for _ in range(50):  # the attempt is counted once the receiver's answer is in
                async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                    text = await resp.text()
                if delivered in text:
                    break
                await asyncio.sleep(0.1)
        assert 'cohortwatch_crawls_total{site="lab"' in text
        assert delivered in text
        assert "Clinical" not in text  # no victim names in labels

        # A broken configuration on SIGHUP is rejected; the daemon goes on with the old one.
        config.write_text("[sites.lab\n")
        daemon.proc.send_signal(signal.SIGHUP)
        await notes.wait_for("RELOADING=1")
        seen = len(site.requests)
        await _until(lambda: len(site.requests) > seen + 1)
        assert daemon.proc.poll() is None

        daemon.proc.send_signal(signal.SIGTERM)
        result = await asyncio.to_thread(daemon.result, 30)
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
        await site.stop()
        await receiver.stop()
        notes.drain()
        notes.sock.close()
    assert result.returncode == 0, result
    assert "new configuration rejected" in result.stderr
    assert "Traceback" not in result.stderr
    assert any(s.startswith("STOPPING=1") for s in notes.seen)
    assert list((state / "tmp").iterdir()) == []
    assert not os.environ.get("NOTIFY_SOCKET")


@pytest.mark.crash
async def test_kill_9_mid_delivery_loses_no_alert(tmp_path: Path) -> None:
    """Events recorded, then the daemon SIGKILLed while webhooks are in flight, again and
    again: after a last clean run every alert has arrived, each webhook-id processed once."""
    from matchers.store import open_db
    from monitor.crawl.store import CrawlStore, utcnow

    site = await LeakSite(posts=[Post(1, "Acme Holding B.V.")]).start()
    receiver = await Receiver(secrets={"soc": make_secret(4)}).start()
    receiver.default["soc"] = Answer(delay=0.3)  # slow: kills land mid-request
    secret = tmp_path / "webhook-soc"
    secret.write_text(make_secret(4))
    secret.chmod(0o600)
    state = tmp_path / "state"
    fixed_key(state / "secret.key")
    config = tmp_path / "cohortwatch.toml"
    config.write_text(CONFIG.format(port=site.port, interval=3600, metrics_port=0,
                                    hook=receiver.url("soc"), secret_file=secret)
                      .replace("initial_backoff = 0.5", "initial_backoff = 0.2"))
    assert (await asyncio.to_thread(run, "init", state=state)).returncode == 0
    db = open_db(state)
    store = CrawlStore(db)
    for i in range(12):
        store.add_event("site.down", utcnow(), dedupe=f"test:{i}", site="lab",
                        data={"site": "lab", "failures": 3})
    db.conn.close()
    kills = 0
    try:
        for _ in range(4):
            daemon = start("--config", config, "run", state=state)
            before = len(receiver.arrivals)
            deadline = time.monotonic() + 30
            while not (receiver.in_flight and len(receiver.arrivals) > before):
                assert daemon.proc.poll() is None, daemon.result()
                assert time.monotonic() < deadline, "the daemon delivered nothing"
                await asyncio.sleep(0.01)
            daemon.proc.kill()
            await asyncio.to_thread(daemon.proc.communicate)
            kills += 1
        daemon = start("--config", config, "run", state=state)
        await _until(lambda: len(receiver.processed) == 12, timeout=60)
        daemon.proc.send_signal(signal.SIGTERM)
        result = await asyncio.to_thread(daemon.result, 30)
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
        await site.stop()
        await receiver.stop()
    assert result.returncode == 0, result
    assert kills == 4
    assert all(n == 1 for n in receiver.processed.values())
    assert all(a.verified for a in receiver.arrivals)
    assert len({a.webhook_id for a in receiver.arrivals}) == 12
