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

import pytest
from conftest import fixed_key, run, start
from leaksite import LeakSite, Post

CONFIG = """
[tor]
socks = ""
control = ""

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
    state = tmp_path / "state"
    fixed_key(state / "secret.key")
    config = tmp_path / "cohortwatch.toml"
    config.write_text(CONFIG.format(port=site.port, interval=1))
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
        notes.drain()
        notes.sock.close()
    assert result.returncode == 0, result
    assert "new configuration rejected" in result.stderr
    assert "Traceback" not in result.stderr
    assert any(s.startswith("STOPPING=1") for s in notes.seen)
    assert list((state / "tmp").iterdir()) == []
    assert not os.environ.get("NOTIFY_SOCKET")
