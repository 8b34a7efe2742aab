"""``cohortwatch demo --tor`` as a user runs it: the demo's own private Tor network (not the
session's ``tor_network``), the leak site behind its onion service, the daemon crawling and
downloading through the client tor; afterwards no tor of the demo runs and no file is left.
Interrupted (Ctrl-C to the whole process group), it stops its tors and removes its files too.
Without tor, ``--tor`` is a one-line error saying how to install it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CLI, REPO, Result, assert_clean_error, cli_env, require_tor, run


def tor_pids(under: Path) -> list[int]:
    """Running ``tor`` processes whose command line names a path below ``under``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(os.fsdecode(argv[0])).name == "tor" and os.fsencode(under) in b" ".join(argv):
            pids.append(int(entry.name))
    return pids


def _wait_gone(under: Path, seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := tor_pids(under)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.tor
@pytest.mark.timeout(300)
def test_demo_over_tor_crawls_the_onion_and_leaves_nothing(tmp_path: Path) -> None:
    require_tor()
    private = tmp_path / "tmpdir"
    private.mkdir()
    argv = ("demo", "--tor")
    started = time.monotonic()
    proc = subprocess.Popen(
        [*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env({"TMPDIR": str(private)}), cwd=tmp_path)
    seen: list[int] = []
    while proc.poll() is None and not seen and time.monotonic() - started < 60:
        seen = tor_pids(private)  # the demo's tors run below its private TMPDIR
        time.sleep(0.2)
    out, err = proc.communicate(timeout=240)
    result = Result(argv, proc.returncode, out, err)
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result
    assert seen, "no tor of the demo was seen running"
    assert "Traceback" not in result.stderr, result
    assert "WITHOUT Tor" not in out
    up = re.search(r"private Tor network up in ([\d.]+) s", out)
    assert up, result
    onion = re.search(r"published as the onion service http://([a-z2-7]{56}\.onion)/", out)
    assert onion, result
    hostname = onion[1]
    # The daemon's config, as written and shown: Tor's client ports, the site by its onion.
    assert re.search(r'^  socks = "127\.0\.0\.1:\d+"$', out, re.M), result
    assert re.search(r'^  control = "127\.0\.0\.1:\d+"$', out, re.M), result
    assert f'  mirrors = ["http://{hostname}/"]' in out
    assert "allow_direct = true" not in out
    # The post detected, the file downloaded through the onion service, the dataset matched,
    # both alerts signed and verified, and the same zip checked directly.
    assert "type=post.watchlist_matched" in out and "type=dataset.matched" in out
    assert (f"all through the onion service {hostname}: GET /, " in out
            and "GET /files/proof-sample.zip" in out), result
    assert "every signature verified (0 rejected)" in out
    assert "post.watchlist_matched  webhook-id msg_" in out
    assert "dataset.matched  webhook-id msg_" in out and "60 members" in out
    assert "FOUND 60 members" in out

    assert _wait_gone(private, 1) == [], "a tor of the demo is still running"
    assert list(private.iterdir()) == [], "the demo left files behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmpdir"]
    assert elapsed < 180, f"demo --tor took {elapsed:.0f} s (network up in {up[1]} s)"


@pytest.mark.tor
@pytest.mark.timeout(120)
def test_demo_over_tor_interrupted_stops_its_tors(tmp_path: Path) -> None:
    require_tor()
    private = tmp_path / "tmpdir"
    private.mkdir()
    proc = subprocess.Popen(
        [*CLI, "demo", "--tor"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env({"TMPDIR": str(private)}), cwd=tmp_path,
        start_new_session=True)  # its own process group, as at a terminal
    started = time.monotonic()
    try:
        while len(tor_pids(private)) < 5 and time.monotonic() - started < 60:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert len(tor_pids(private)) >= 5, "the relays of the demo's network never started"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at the terminal sends
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = Result(("demo", "--tor"), proc.returncode, out, err)
    assert result.returncode == 130, result
    assert "cohortwatch: interrupted" in err and "Traceback" not in err, result
    assert _wait_gone(private, 5) == [], "a tor of the interrupted demo is still running"
    assert list(private.iterdir()) == [], "the interrupted demo left files behind"


def test_demo_tor_without_tor_says_how_to_install_it(tmp_path: Path) -> None:
    """tor_binaries() also looks in /usr/sbin and /usr/bin, so no PATH hides an installed
    tor: the subprocess runs the real CLI with only that lookup answering "not found"."""
    private = tmp_path / "tmpdir"
    private.mkdir()
    code = ("import sys; from monitor.tor import testnet; testnet.tor_binaries = lambda: None; "
            "from monitor.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run(
        [sys.executable, "-c", code, "demo", "--tor"], capture_output=True, text=True,
        env=cli_env({"TMPDIR": str(private), "PYTHONPATH": str(REPO)}), cwd=tmp_path,
        timeout=60, check=False)
    result = Result(("demo", "--tor"), proc.returncode, proc.stdout, proc.stderr)
    assert_clean_error(result)
    assert "needs tor and tor-gencert, which are not installed" in result.stderr
    assert "sudo apt-get install tor" in result.stderr
    assert result.stdout == "" and list(private.iterdir()) == []


def test_demo_help_offers_tor() -> None:
    result = run("demo", "--help")
    assert result.returncode == 0 and "--tor" in result.stdout, result
    assert "apt-get install tor" in result.stdout
