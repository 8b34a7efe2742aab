"""The daemon under faults: SIGTERM and SIGKILL in the middle of a download of an endless
("5 GB") posted file, and Tor's SOCKS port down from the start. What the user sees, and
that nothing is lost and no raw data stays on disk."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
from pathlib import Path

import leaksite
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import start
from test_daemon import _events, _until

CONFIG = """
[tor]
socks = "{socks}"
control = ""

[metrics]
listen = ""

[crawler]
baseline_alerts = true

[watchlist]
[[watchlist.organisations]]
name = "Clinical Diagnostics NMDL"
aliases = ["Clinical Diagnostics"]

[sites.lab]
mirrors = ["http://127.0.0.1:{port}/"]
allow_direct = {direct}
interval = 1

[sites.lab.parser]
type = "html"
post = "div.card"
victim = "h3.victim"
link = "a.more"
files = "a.file"
"""


class Site:
    """A leak site whose one watched post links a file that is endless or the real zip."""

    def __init__(self, archive: bytes) -> None:
        self.archive = archive
        self.endless = True
        self.sent = 0
        self.listings = 0
        self.served = 0  # complete downloads of the real archive
        self.quiet = False  # True: the listing shows an unwatched victim only
        self.file_requests = 0

    async def listing(self, _r: web.Request) -> web.Response:
        self.listings += 1
        if self.quiet:
            return web.Response(content_type="text/html", text=(
                '<div class="card"><h3 class="victim">Acme Holding</h3>'
                '<a class="more" href="/post/9">more</a></div>'))
        return web.Response(content_type="text/html", text=(
            '<div class="card"><h3 class="victim">Clinical Diagnostics</h3>'
            '<a class="more" href="/post/1">more</a>'
            '<a class="file" href="/files/dump.zip">dump.zip</a></div>'))

    async def file(self, request: web.Request) -> web.StreamResponse:
        self.file_requests += 1
        if not self.endless:
            resp = web.Response(body=self.archive)
            await resp.prepare(request)
            await resp.write_eof()
            self.served += 1
            return resp
        resp = web.StreamResponse()  # chunked, no length: sends slowly until cut off
        await resp.prepare(request)
        chunk = b"PK" + b"\0" * 65534
        while True:
            await resp.write(chunk)
            self.sent += len(chunk)
            await asyncio.sleep(0.02)

    async def start(self) -> TestServer:
        app = web.Application()
        app.router.add_get("/", self.listing)
        app.router.add_get("/files/dump.zip", self.file)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        return server


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    return leaksite.cohort_state(tmp_path_factory.mktemp("faults"))


def _state(cohort, tmp_path: Path) -> Path:
    import shutil

    state = tmp_path / "state"
    shutil.copytree(cohort[0], state)
    return state


ONION = "vanvaegh6dlmvrsixfnjrqqp2fetqk4vsh3gpnsqc5pxvj2vwsu74sqd.onion"


def _site_error(state: Path) -> str | None:
    with sqlite3.connect(state / "cohortwatch.db") as db:
        try:
            row = db.execute("select last_error from crawl_sites where name = 'lab'").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def _leftovers(state: Path) -> list[str]:
    tmp = state / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


@pytest.mark.crash
async def test_sigterm_and_sigkill_during_a_download(cohort, tmp_path: Path) -> None:
    state = _state(cohort, tmp_path)
    site = Site(cohort[1])
    server = await site.start()
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(socks="", port=server.port, direct="true"))
    try:
        # SIGTERM mid-download: a clean stop, the partial file removed.
        daemon = start("--config", config, "run", state=state)
        await _until(lambda: site.sent > 1 << 20 and _leftovers(state), timeout=60)
        daemon.proc.send_signal(signal.SIGTERM)
        result = await asyncio.to_thread(daemon.result, 30)
        assert result.returncode == 0, result
        assert "stopping" in result.stderr and "Traceback" not in result.stderr
        assert _leftovers(state) == []

        # SIGKILL mid-download: the directory stays behind ... until the next start.
        daemon = start("--config", config, "run", state=state)
        sent = site.sent
        await _until(lambda: site.sent > sent + (1 << 20) and _leftovers(state), timeout=60)
        daemon.proc.kill()
        await asyncio.to_thread(daemon.proc.communicate)
        assert _leftovers(state)
        site.endless = False  # the site now serves the real archive
        daemon = start("--config", config, "run", state=state)
        await _until(lambda: "dataset.matched" in _events(state), timeout=60)
        daemon.proc.send_signal(signal.SIGTERM)
        result = await asyncio.to_thread(daemon.result, 30)
    finally:
        await server.close()
    assert result.returncode == 0, result
    assert "removed download directories left by a process that died" in result.stderr
    assert _events(state).count("dataset.matched") == 1  # nothing lost, nothing twice
    assert _leftovers(state) == []


@pytest.mark.crash
async def test_tor_down_from_the_start(cohort, tmp_path: Path) -> None:
    """Tor's SOCKS port is down: the daemon runs, says why it cannot crawl, declares no
    site down, and sends nothing around Tor."""
    state = _state(cohort, tmp_path)
    site = Site(cohort[1])
    server = await site.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(socks=f"127.0.0.1:{closed}", port=server.port,
                                    direct="false")
                      .replace(f"http://127.0.0.1:{server.port}/", f"http://{ONION}/")
                      .replace("interval = 1\n", "interval = 60\n"))
    try:
        daemon = start("--config", config, "run", state=state)
        await _until(lambda: _site_error(state), timeout=30)
        daemon.proc.send_signal(signal.SIGTERM)
        result = await asyncio.to_thread(daemon.result, 30)
    finally:
        await server.close()
    assert result.returncode == 0, result
    assert "tor unavailable; site not crawled" in result.stderr
    with sqlite3.connect(state / "cohortwatch.db") as db:
        (site_state, error) = db.execute(
            "select state, last_error from crawl_sites where name = 'lab'").fetchone()
    assert site_state != "down" and "SOCKS port" in error
    assert site.listings == 0  # nothing reached the site


def _slow_to_match(cohort, tmp_path: Path) -> bytes:
    """The posted zip with 1.5 million more rows of people outside the cohort after the
    members: a few seconds of matching (repeated rows keep the zip small)."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(cohort[1])) as z:
        (name,) = z.namelist()
        head = z.read(name)
    lines = head.decode().splitlines(keepends=True)
    tail = "".join(lines[-5:]).encode() * 300_000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, head + tail)
    return buf.getvalue()


@pytest.mark.crash
async def test_sigkill_during_matching(cohort, tmp_path: Path) -> None:
    """kill -9 while a downloaded dump is being matched: the next start removes the raw
    file left behind, downloads and matches the post again, and alerts it exactly once."""
    state = _state(cohort, tmp_path)
    site = Site(_slow_to_match(cohort, tmp_path))
    site.endless = False
    server = await site.start()
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(socks="", port=server.port, direct="true"))
    try:
        daemon = start("--config", config, "run", state=state)
        await _until(lambda: site.served == 1 and _leftovers(state), timeout=60)
        await asyncio.sleep(0.5)  # well into the scan
        daemon.proc.kill()
        await asyncio.to_thread(daemon.proc.communicate)
        # Killed during matching: the file is still on disk and no result was recorded.
        assert _leftovers(state)
        assert "dataset.matched" not in _events(state)
        daemon = start("--config", config, "run", state=state)
        await _until(lambda: "dataset.matched" in _events(state), timeout=90)
        daemon.proc.send_signal(signal.SIGTERM)
        result = await asyncio.to_thread(daemon.result, 30)
    finally:
        await server.close()
    assert result.returncode == 0, result
    assert "removed download directories left by a process that died" in result.stderr
    assert site.served == 2
    assert _events(state).count("dataset.matched") == 1
    with sqlite3.connect(state / "cohortwatch.db") as db:
        (data,) = db.execute(
            "select data from events where type = 'dataset.matched'").fetchone()
    assert json.loads(data)["members_matched"] == 10  # the 10 members among the rows
    assert _leftovers(state) == []


def _mount_tmpfs(where: Path, size: str) -> bool:
    """A small filesystem of our own for the state dir, so that it can really fill up
    (root only; elsewhere the test is skipped)."""
    import subprocess

    where.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(where)], capture_output=True, check=False)
    return done.returncode == 0


def _fill(where: Path) -> Path:
    """Fill the filesystem of ``where`` to the last byte."""
    filler = where / "filler"
    block = b"\0" * (64 << 10)
    with filler.open("wb", buffering=0) as fh:
        while True:
            try:
                fh.write(block)
            except OSError:
                break
    while True:  # and the last partial block
        try:
            with filler.open("ab", buffering=0) as fh:
                fh.write(b"\0" * 512)
        except OSError:
            return filler


def _with_scans(archive: bytes) -> bytes:
    """The posted zip plus 3 MB of scanned images: more than the space left in phase 2."""
    import io
    import zipfile

    buf = io.BytesIO(archive)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as z:
        z.writestr("export/scan-0001.tif", os.urandom(3 << 20))
    return buf.getvalue()


def _file_attempts(state: Path) -> list[int]:
    with sqlite3.connect(state / "cohortwatch.db") as db:
        return [r[0] or 0 for r in db.execute("select attempts from post_files")]


@pytest.mark.crash
async def test_state_dir_full(cohort, tmp_path: Path) -> None:
    """The state dir's disk fills up while the daemon runs — first so full that the
    database cannot be written, then with room for the database but not for a posted
    file. The daemon says so, keeps running, counts no download attempt, and once space
    is freed the post is downloaded, matched and alerted: nothing lost."""
    import shutil
    import subprocess

    from webhook_receiver import Receiver, make_secret

    state = tmp_path / "state"
    if not _mount_tmpfs(state, "24m"):
        pytest.skip("needs root to mount a small tmpfs for the state dir")
    try:
        for item in cohort[0].iterdir():
            shutil.copy2(item, state / item.name)
        site = Site(_with_scans(cohort[1]))
        site.endless = False
        site.quiet = True  # no watched post yet
        server = await site.start()
        receiver = await Receiver(secrets={"soc": make_secret(4)}).start()
        secret = tmp_path / "webhook-soc"
        secret.write_text(make_secret(4))
        secret.chmod(0o600)
        config = tmp_path / "c.toml"
        config.write_text(
            CONFIG.format(socks="", port=server.port, direct="true")
            + f'\n[alerts]\ninitial_backoff = 0.5\npoll_interval = 0.5\n'
              f'[[alerts.endpoints]]\nname = "soc"\nurl = "{receiver.url("soc")}"\n'
              f'secret_file = "{secret}"\n')
        daemon = start("--config", config, "run", state=state)
        try:
            await _until(lambda: site.listings >= 2, timeout=60)
            # Phase 1: not a byte left. Each crawl fails at its first database write.
            filler = _fill(state)
            site.quiet = False  # the watched post appears while the disk is full
            await asyncio.sleep(6)
            assert daemon.proc.poll() is None  # still running
            assert site.file_requests == 0 and "dataset.matched" not in _events(state)
            # Phase 2: room for the database, not for the posted file.
            filler.unlink()
            filler = _fill(state)
            os.truncate(filler, max(0, filler.stat().st_size - (1 << 20)))
            await _until(lambda: site.file_requests >= 2, timeout=60)
            assert daemon.proc.poll() is None
            assert _file_attempts(state) == [0]  # the file is not given up on
            assert "dataset.matched" not in _events(state)
            # Space again: everything that was held back goes through, once.
            filler.unlink()
            await _until(lambda: "dataset.matched" in _events(state), timeout=60)
            await _until(lambda: any(a.json()["type"] == "dataset.matched"
                                     for a in receiver.of("soc")), timeout=60)
            daemon.proc.send_signal(signal.SIGTERM)
            result = await asyncio.to_thread(daemon.result, 30)
        finally:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
            await server.close()
            await receiver.stop()
        assert result.returncode == 0, result
        assert "Traceback" not in result.stderr
        assert "no space left on the disk of the state directory" in result.stderr
        assert "no space left to download or unpack posted file" in result.stderr
        assert _events(state).count("dataset.matched") == 1
        assert [a.json()["type"] for a in receiver.of("soc")].count("dataset.matched") == 1
        assert _leftovers(state) == []
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)
