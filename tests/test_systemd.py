"""The systemd side of the daemon: our sd_notify, the unit file, and the unit's sandbox.

* sd_notify (:mod:`monitor.systemd`) is tested against a **real** unix datagram socket —
  a file-system one and an abstract one — by checking the bytes that arrive, including
  the watchdog's cadence with a short ``WATCHDOG_USEC`` and its silence while the event
  loop is blocked.
* ``config/cohortwatch.service`` must pass ``systemd-analyze verify`` (which prints
  problems but exits 0, so any line about our unit fails the test) and
  ``systemd-analyze security --offline=yes`` at an overall exposure of at most 2.0, alone
  and with the example webhook drop-in. Without systemd-analyze these tests skip — and
  fail under ``CI=true`` (Debian package ``systemd``; ``make test`` installs it).
* The program must work inside the sandbox the unit builds. Nothing here runs systemd, so
  the sandbox is emulated: the unit's system-call filter (``@system-service`` minus
  ``@privileged @resources``, errors as EPERM, native ABI only) with
  ``MemoryDenyWriteExecute=`` and ``RestrictAddressFamilies=`` as a seccomp program built
  from systemd's own group lists, and — when the tests run as root — a mount namespace
  with everything read-only but the state and temporary directories
  (``ProtectSystem=strict``) and ``/proc`` mounted ``subset=pid,hidepid=invisible``
  (``ProcSubset=pid``, ``ProtectProc=invisible``). A probe first proves that the emulation
  bites; then the demo, every module import, and a scan of zip (AES), 7z (AES), tar.gz and
  XLSX files run in it.

Run as a script (``python test_systemd.py --seccomp FILTER.json CMD ARGS...``) this file
installs such a filter and execs the command: that is how the emulation starts programs.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "config" / "cohortwatch.service"
DROP_IN = REPO / "config" / "webhook-receiver.conf"
ADMIN = REPO / "config" / "cohortwatch-admin"
SYSUSERS = REPO / "config" / "cohortwatch.sysusers"
MAX_EXPOSURE = 2.0

# -------------------------------------------------------------------- seccomp emulation
# (stdlib only above this line's users: the script entry point at the bottom runs before
# any test machinery is needed.)

_LD_ABS, _ALU_AND, _JEQ, _JGE, _JSET, _RET = 0x20, 0x54, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_EPERM, _EAFNOSUPPORT = 1, 97
_PROT_WRITE, _PROT_EXEC, _SHM_EXEC = 0x2, 0x4, 0o100000
_FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)  # RestrictAddressFamilies=
_NR_OFF, _ARCH_OFF = 0, 4


def _arg(i: int) -> int:
    """Offset of the low 32 bits of syscall argument ``i`` in ``struct seccomp_data``."""
    return 16 + 8 * i


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def seccomp_program(allowed: dict[str, int]) -> bytes:
    """A classic-BPF seccomp program doing what the unit's settings make systemd load.

    x86-64 only. ``allowed`` maps syscall names to numbers. Special cases, each ending in a
    return so that no path needs the syscall number reloaded: ``mmap`` asking for W+X,
    ``mprotect``/``pkey_mprotect`` asking for X and ``shmat`` with ``SHM_EXEC`` get EPERM
    (MemoryDenyWriteExecute=); ``socket`` outside AF_UNIX/AF_INET/AF_INET6 gets
    EAFNOSUPPORT (RestrictAddressFamilies=). Everything not allowed gets EPERM
    (SystemCallErrorNumber=EPERM); another ABI is killed (SystemCallArchitectures=native).
    """
    eperm, allow = _insn(_RET, _ERRNO | _EPERM), _insn(_RET, _ALLOW)
    prog = [
        _insn(_LD_ABS, _ARCH_OFF), _insn(_JEQ, _AUDIT_ARCH_X86_64, 1, 0), _insn(_RET, _KILL),
        _insn(_LD_ABS, _NR_OFF), _insn(_JGE, _X32_BIT, 0, 1), _insn(_RET, _KILL),
    ]
    special: dict[str, list[bytes]] = {
        "mmap": [_insn(_LD_ABS, _arg(2)), _insn(_ALU_AND, _PROT_WRITE | _PROT_EXEC),
                 _insn(_JEQ, _PROT_WRITE | _PROT_EXEC, 0, 1), eperm, allow],
        "mprotect": [_insn(_LD_ABS, _arg(2)), _insn(_JSET, _PROT_EXEC, 0, 1), eperm, allow],
        "pkey_mprotect": [_insn(_LD_ABS, _arg(2)), _insn(_JSET, _PROT_EXEC, 0, 1), eperm, allow],
        "shmat": [_insn(_LD_ABS, _arg(2)), _insn(_JSET, _SHM_EXEC, 0, 1), eperm, allow],
        "socket": [_insn(_LD_ABS, _arg(0)), _insn(_JEQ, _FAMILIES[0], 2, 0),
                   _insn(_JEQ, _FAMILIES[1], 1, 0), _insn(_JEQ, _FAMILIES[2], 0, 1), allow,
                   _insn(_RET, _ERRNO | _EAFNOSUPPORT)],
    }
    for name, block in special.items():
        if name in allowed:
            prog += [_insn(_JEQ, allowed[name], 0, len(block)), *block]
    for name, nr in sorted(allowed.items(), key=lambda kv: kv[1]):
        if name not in special:
            prog += [_insn(_JEQ, nr, 0, 1), allow]
    prog.append(eperm)
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: bytes) -> None:
    """no_new_privs + the filter, for this process and whatever it execs.

    :raises OSError: the kernel refused either prctl.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(program)
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def _seccomp_exec(argv: list[str]) -> None:
    """Script entry: ``--seccomp FILTER.json CMD ARGS...``."""
    allowed = json.loads(Path(argv[0]).read_text())
    install_seccomp(seccomp_program(allowed))
    os.execv(argv[1], argv[1:])  # noqa: S606 - the command under test


if __name__ == "__main__" and sys.argv[1:2] == ["--seccomp"]:
    _seccomp_exec(sys.argv[2:])

import pytest  # noqa: E402 - the script entry above must not need the test machinery
from conftest import fixed_key, in_ci, run  # noqa: E402

from matchers.synthetic import make_people, write_people_csv  # noqa: E402
from monitor import systemd  # noqa: E402
from monitor.systemd import Notifier  # noqa: E402

# ================================================================ sd_notify, for real


@dataclass
class Receiver:
    """A bound unix datagram socket standing in for systemd's, with a thread that records
    each datagram and when it came."""

    address: str  # as NOTIFY_SOCKET spells it: a path, or @name
    sock: socket.socket
    got: list[tuple[float, bytes]] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def open(cls, address: str) -> Receiver:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind("\0" + address[1:] if address.startswith("@") else address)
        receiver = cls(address, sock)
        threading.Thread(target=receiver._read, daemon=True).start()
        return receiver

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            with self._arrived:
                self.got.append((time.monotonic(), data))
                self._arrived.notify_all()

    def next(self, timeout: float = 5.0) -> bytes:
        """The oldest datagram not yet taken."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: self.got, timeout):
                raise AssertionError("no notification arrived")
            return self.got.pop(0)[1]

    def pings(self) -> list[float]:
        with self._arrived:
            return [t for t, data in self.got if b"WATCHDOG=1" in data.split(b"\n")]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: AF_UNIX paths are limited to 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="cw-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def receiver(short_dir: Path) -> Iterator[Receiver]:
    rec = Receiver.open(str(short_dir / "notify"))
    yield rec
    rec.close()


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    rec = Receiver.open(f"@cohortwatch-test-{os.getpid()}-{secrets.token_hex(4)}")
    yield rec
    rec.close()


def _notifier(rec: Receiver, **env: str) -> Notifier:
    return Notifier.from_environ({"NOTIFY_SOCKET": rec.address, **env})


def test_messages_arrive_as_systemd_reads_them(receiver: Receiver) -> None:
    n = _notifier(receiver)
    assert n.enabled
    assert n.ready("3 sites, Tor bootstrapped")
    assert receiver.next() == b"READY=1\nSTATUS=3 sites, Tor bootstrapped\n"
    assert n.status("crawling\nquietleaks\t(2 of 3)")
    assert receiver.next() == b"STATUS=crawling quietleaks (2 of 3)\n"
    assert n.watchdog()
    assert receiver.next() == b"WATCHDOG=1\n"
    assert n.stopping()
    assert receiver.next() == b"STOPPING=1\n"
    assert n.extend_timeout(2.5)
    assert receiver.next() == b"EXTEND_TIMEOUT_USEC=2500000\n"
    assert n.notify("READY=1", "STATUS=ok")
    assert receiver.next() == b"READY=1\nSTATUS=ok\n"


def test_abstract_socket(abstract_receiver: Receiver) -> None:
    assert abstract_receiver.address.startswith("@")
    n = _notifier(abstract_receiver)
    assert n.ready()
    assert abstract_receiver.next() == b"READY=1\n"


def test_reloading_carries_the_monotonic_clock(receiver: Receiver) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert _notifier(receiver).reloading("re-reading configuration")
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = receiver.next().decode().splitlines()
    assert lines[0] == "RELOADING=1"
    assert lines[2] == "STATUS=re-reading configuration"
    key, _, usec = lines[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(usec) <= after


def test_status_is_one_capped_line(receiver: Receiver) -> None:
    _notifier(receiver).status("x" * 500 + "\nREADY=1")
    data = receiver.next()
    assert data.count(b"\n") == 1  # nothing smuggled in as a second assignment
    text = data.decode().removeprefix("STATUS=").rstrip("\n")
    assert len(text) == 200
    assert text.endswith("…")


def test_an_assignment_with_a_newline_is_dropped(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    n = _notifier(receiver)
    assert n.notify("STATUS=fine", "STATUS=x\nREADY=1")
    assert receiver.next() == b"STATUS=fine\n"
    assert "malformed sd_notify assignment" in caplog.text
    assert not n.notify("no equals sign")


async def test_not_under_systemd_nothing_happens() -> None:
    n = Notifier.from_environ({"WATCHDOG_USEC": "1000000"})
    assert not n.enabled
    assert not any([n.ready("x"), n.status("x"), n.watchdog(), n.stopping(), n.reloading(),
                    n.extend_timeout(1), n.notify("READY=1")])
    assert n.watchdog_interval() is None
    assert n.start_watchdog() is None
    await asyncio.wait_for(n.run_watchdog(), 1)  # returns at once


@pytest.mark.parametrize("value", ["relative/path", "vsock:2:1234", "@"])
def test_an_unusable_socket_address_means_not_under_systemd(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    n = Notifier.from_environ({"NOTIFY_SOCKET": value})
    assert not n.enabled
    assert not n.ready()
    if value != "@":
        assert "not notifying systemd" in caplog.text


def test_a_failed_send_is_logged_once_and_never_raised(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="monitor.systemd")
    path = short_dir / "gone"
    n = Notifier.from_environ({"NOTIFY_SOCKET": str(path)})
    assert not n.ready()
    assert not n.watchdog()
    assert not n.watchdog()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot notify" in warnings[0].getMessage()
    rec = Receiver.open(str(path))  # systemd is back
    try:
        assert n.watchdog()
        assert rec.next() == b"WATCHDOG=1\n"
        assert "notifications reach the service manager again" in caplog.text
    finally:
        rec.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": ""}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "{pid}"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),  # meant for another pid
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_the_period(
    env: dict[str, str], expected: float | None
) -> None:
    environ = {k: v.format(pid=os.getpid()) for k, v in env.items()}
    assert Notifier.from_environ({"NOTIFY_SOCKET": "/run/x", **environ}).watchdog_interval() \
        == expected
    assert Notifier.from_environ(environ).watchdog_interval() is None  # no socket, no pings


def test_the_process_notifier_keeps_the_variables_from_children(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    monkeypatch.setattr(systemd, "_default", None)
    monkeypatch.setenv("NOTIFY_SOCKET", receiver.address)
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.ready("up")
    assert receiver.next() == b"READY=1\nSTATUS=up\n"
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        assert name not in os.environ
    child = subprocess.run([sys.executable, "-c", "import os; print(sorted(os.environ))"],
                           capture_output=True, text=True, check=True)
    assert "NOTIFY_SOCKET" not in child.stdout
    assert systemd.watchdog_interval() == 2.0  # remembered
    assert systemd.watchdog() and systemd.stopping() and systemd.reloading()
    assert [receiver.next().split(b"\n")[0] for _ in range(3)] == \
        [b"WATCHDOG=1", b"STOPPING=1", b"RELOADING=1"]

    other = Receiver.open(str(short_dir / "again"))  # set anew (a test, a re-exec): taken up
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", other.address)
        assert systemd.status("moved")
        assert other.next() == b"STATUS=moved\n"
        assert systemd.watchdog_interval() is None  # WATCHDOG_USEC was not set again
    finally:
        other.close()


def test_a_real_process_notifies(receiver: Receiver) -> None:
    code = ("from monitor import systemd; import os; systemd.ready('loaded'); "
            "systemd.watchdog(); print(os.environ.get('NOTIFY_SOCKET'))")
    env = {**os.environ, "NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "1000000"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=REPO)
    assert out.stdout.strip() == "None"
    assert receiver.next() == b"READY=1\nSTATUS=loaded\n"
    assert receiver.next() == b"WATCHDOG=1\n"


# ------------------------------------------------------------------- the watchdog task

PERIOD_USEC = 200_000  # WatchdogSec=0.2s: a ping every 0.1 s


async def test_watchdog_pings_every_half_period(receiver: Receiver) -> None:
    n = _notifier(receiver, WATCHDOG_USEC=str(PERIOD_USEC))
    assert n.watchdog_interval() == 0.1
    task = n.start_watchdog()
    assert task is not None
    await asyncio.sleep(0.65)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    pings = receiver.pings()
    gaps = sorted(b - a for a, b in itertools.pairwise(pings))
    assert 4 <= len(pings) <= 8, pings  # 0.65 s: a ping at once, then every 0.1 s
    assert gaps[0] > 0.09, gaps  # never early
    assert 0.09 < gaps[len(gaps) // 2] < 0.16, gaps  # two shared cores: late at times


async def test_a_blocked_event_loop_stops_the_pings(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    n = _notifier(receiver, WATCHDOG_USEC=str(PERIOD_USEC))
    task = n.start_watchdog()
    assert task is not None
    await asyncio.sleep(0.25)
    time.sleep(0.45)  # the point: work done on the loop stalls it
    await asyncio.sleep(0.25)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    pings = receiver.pings()
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) >= 0.4, gaps  # systemd (WatchdogSec=0.2s) would have killed us
    assert "event loop stalled" in caplog.text


async def test_an_unhealthy_daemon_gets_no_pings(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = True
    n = _notifier(receiver, WATCHDOG_USEC=str(PERIOD_USEC))
    task = n.start_watchdog(healthy=lambda: healthy, status=lambda: "2 sites")
    assert task is not None
    await asyncio.sleep(0.15)
    healthy = False
    withheld_from = time.monotonic()
    await asyncio.sleep(0.35)
    healthy = True
    await asyncio.sleep(0.15)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    pings = receiver.pings()
    assert any(t < withheld_from for t in pings)
    assert not any(withheld_from + 0.05 < t < withheld_from + 0.3 for t in pings), pings
    assert pings[-1] > withheld_from + 0.3  # resumed
    assert caplog.text.count("watchdog pings withheld") == 1
    assert receiver.got[0][1] == b"WATCHDOG=1\nSTATUS=2 sites\n"


async def test_a_failing_health_check_ends_the_heartbeat(receiver: Receiver) -> None:
    def broken() -> bool:
        raise RuntimeError("scheduler state lost")

    n = _notifier(receiver, WATCHDOG_USEC=str(PERIOD_USEC))
    with pytest.raises(RuntimeError, match="scheduler state lost"):
        await asyncio.wait_for(n.run_watchdog(healthy=broken), 1)


# ===================================================================== the unit file


@pytest.fixture(scope="module")
def analyze() -> str:
    """``systemd-analyze``: skipped when missing — a failure under ``CI=true``."""
    found = shutil.which("systemd-analyze") or (
        "/usr/bin/systemd-analyze" if os.access("/usr/bin/systemd-analyze", os.X_OK) else None)
    if found is None:
        reason = ("systemd-analyze is not installed (`make test` installs it; or: "
                  "apt-get install systemd)")
        if in_ci():
            pytest.fail(f"{reason}; CI=true: the unit file tests must run", pytrace=False)
        pytest.skip(reason)
    return found


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections → key → every value assigned (systemd keys may repeat; "" resets)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        values = current.setdefault(key.strip(), [])
        if value.strip():
            values.append(value.strip())
        else:
            values.clear()
    return sections


def _cli_binary() -> Path:
    return Path(sys.executable).parent / "cohortwatch"


def unit_copy(where: Path, *, drop_in: bool = False) -> Path:
    """The unit with ExecStart pointing at this checkout's ``cohortwatch`` (verify wants an
    executable), optionally with the example drop-in beside it in ``NAME.service.d/``."""
    where.mkdir(parents=True, exist_ok=True)
    text = UNIT.read_text().replace("/opt/cohortwatch/bin/cohortwatch", str(_cli_binary()))
    unit = where / "cohortwatch.service"
    unit.write_text(text)
    if drop_in:
        (where / "cohortwatch.service.d").mkdir(exist_ok=True)
        shutil.copy(DROP_IN, where / "cohortwatch.service.d" / "webhook-receiver.conf")
    return unit


@pytest.mark.parametrize("drop_in", [False, True], ids=["unit", "with-webhook-drop-in"])
def test_unit_verifies(analyze: str, tmp_path: Path, drop_in: bool) -> None:
    """systemd-analyze verify exits 0 even for unknown keys or bad values; it prints them.
    Any line naming our unit or drop-in is an error; lines about other units (tor's, on a
    machine that has it) are not ours to fix."""
    unit = unit_copy(tmp_path, drop_in=drop_in)
    out = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})
    ours = [line for line in (out.stdout + out.stderr).splitlines()
            if "cohortwatch.service" in line or "webhook-receiver.conf" in line]
    assert out.returncode == 0, out
    assert ours == [], "\n".join(ours)


def exposure(analyze: str, unit: Path) -> float:
    """The "Overall exposure level" systemd-analyze security gives the unit (0 – 10)."""
    out = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(unit)],
                         capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out.stdout)
    assert found, out
    return float(found.group(1))


@pytest.mark.parametrize("drop_in", [False, True], ids=["unit", "with-webhook-drop-in"])
def test_unit_exposure_is_at_most_2(analyze: str, tmp_path: Path, drop_in: bool) -> None:
    level = exposure(analyze, unit_copy(tmp_path, drop_in=drop_in))
    assert level <= MAX_EXPOSURE, f"exposure {level} > {MAX_EXPOSURE}"


def test_unit_settings_the_design_depends_on() -> None:
    """What exposure does not measure: the protocol, the credential, the state, the
    privacy settings (no swap, no core dumps), and that network access is an allow-list."""
    service = parse_unit(UNIT.read_text())["Service"]
    want = {
        "Type": ["notify"], "NotifyAccess": ["main"],
        "ExecReload": ["/bin/kill -HUP $MAINPID"], "Restart": ["on-failure"],
        "StateDirectory": ["cohortwatch"], "StateDirectoryMode": ["0700"], "UMask": ["0077"],
        "LoadCredential": ["cohortwatch.key:/etc/cohortwatch/cohortwatch.key"],
        "SupplementaryGroups": ["debian-tor"], "MemorySwapMax": ["0"], "LimitCORE": ["0"],
        "MemoryDenyWriteExecute": ["yes"], "ProtectSystem": ["strict"],
        "IPAddressDeny": ["any"], "IPAddressAllow": ["localhost"],
        "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
        "SystemCallFilter": ["@system-service", "~@privileged @resources"],
    }
    assert {k: service.get(k) for k in want} == want
    assert float(service["WatchdogSec"][0]) > 0


def test_exec_start_is_a_command_line_the_program_accepts(tmp_path: Path) -> None:
    exec_start = parse_unit(UNIT.read_text())["Service"]["ExecStart"][0].split()
    assert exec_start[0] == "/opt/cohortwatch/bin/cohortwatch"
    config = tmp_path / "cohortwatch.toml"
    config.write_text("")
    args = [a if a != "/etc/cohortwatch/cohortwatch.toml" else str(config)
            for a in exec_start[1:]]
    result = run(*args, "--help")
    assert result.returncode == 0, result
    assert result.stdout.startswith("Usage:"), result


def test_admin_wrapper_runs_commands_as_the_unit_does(tmp_path: Path) -> None:
    """config/cohortwatch-admin through a stand-in systemd-run that prints its arguments:
    the same user, groups, state directory, key credential and command as the unit, the
    webhook secrets as credentials, the operator's arguments untouched."""
    bin_dir, etc = tmp_path / "bin", tmp_path / "etc"
    bin_dir.mkdir()
    etc.mkdir()
    fake = bin_dir / "systemd-run"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    (etc / "webhook-cert").write_text("whsec_x")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "COHORTWATCH_ETC": str(etc)}
    out = subprocess.run(["sh", str(ADMIN), "check-dataset", "/srv/in box/dump.zip", "--json"],
                         capture_output=True, text=True, env=env, check=True, cwd=tmp_path)
    argv = out.stdout.splitlines()
    command_at = argv.index("/opt/cohortwatch/bin/cohortwatch")
    props = dict(a.removeprefix("--property=").split("=", 1) for a in argv[:command_at]
                 if a.startswith("--property=") and "LoadCredential" not in a)
    creds = sorted(a.split("=", 2)[2] for a in argv[:command_at] if "LoadCredential" in a)
    service = parse_unit(UNIT.read_text())["Service"]
    for key in ("User", "Group", "SupplementaryGroups", "StateDirectory", "StateDirectoryMode",
                "UMask", "MemorySwapMax", "LimitCORE", "PrivateTmp", "NoNewPrivileges"):
        assert [props.get(key)] == service[key], key
    assert props["WorkingDirectory"] == f"-{tmp_path}"
    assert creds == [f"cohortwatch.key:{etc}/cohortwatch.key", f"webhook-cert:{etc}/webhook-cert"]
    assert argv[command_at:] == ["/opt/cohortwatch/bin/cohortwatch", "--config",
                                 f"{etc}/cohortwatch.toml", "check-dataset",
                                 "/srv/in box/dump.zip", "--json"]
    assert {"--wait", "--pipe", "--collect"} <= set(argv[:command_at])


def test_sysusers_creates_the_unit_user(tmp_path: Path) -> None:
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        pytest.skip("systemd-sysusers is not installed")
    (tmp_path / "etc").mkdir()
    subprocess.run([sysusers, f"--root={tmp_path}", str(SYSUSERS)], check=True,
                   capture_output=True, timeout=30)
    entry = next(line.split(":") for line in (tmp_path / "etc/passwd").read_text().splitlines()
                 if line.startswith("cohortwatch:"))
    assert entry[5] == "/var/lib/cohortwatch"
    assert entry[6].endswith("nologin")
    assert parse_unit(UNIT.read_text())["Service"]["User"] == ["cohortwatch"]


# ============================================================ the program in the sandbox

_HEADERS = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h")


def _syscall_numbers() -> dict[str, int]:
    for header in _HEADERS:
        if os.path.exists(header):
            text = Path(header).read_text()
            return {m[1]: int(m[2]) for m in re.finditer(r"#define __NR_(\w+)\s+(\d+)", text)}
    return {}


def _syscall_groups(analyze: str) -> dict[str, list[str]]:
    """``systemd-analyze syscall-filter``: every group with its entries (syscalls, groups)."""
    out = subprocess.run([analyze, "syscall-filter", "--no-pager"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif line.startswith("    ") and current is not None:
            entry = line.strip()
            if entry and not entry.startswith("#"):
                current.append(entry)
        else:
            current = None
    return groups


def _expand(groups: dict[str, list[str]], names: list[str]) -> set[str]:
    found: set[str] = set()
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name.startswith("@"):
            if name not in seen:
                seen.add(name)
                todo.extend(groups[name])
        else:
            found.add(name)
    return found


def unit_syscalls(analyze: str) -> dict[str, int]:
    """The syscalls the unit's SystemCallFilter= lines allow, by number."""
    service = parse_unit(UNIT.read_text())["Service"]
    groups = _syscall_groups(analyze)
    allowed: set[str] = set()
    for value in service["SystemCallFilter"]:
        if value.startswith("~"):
            allowed -= _expand(groups, value[1:].split())
        else:
            allowed |= _expand(groups, value.split())
    numbers = _syscall_numbers()
    return {name: numbers[name] for name in allowed if name in numbers}


# Mounts as the unit has them (run as root in a new mount namespace): the state and
# temporary directories writable, every other mount read-only, /proc holding only
# processes and only ours.
_MOUNTS = r"""
set -eu
work=$1; shift
mount --make-rprivate /
mount --bind /tmp /tmp
mount --bind "$work" "$work"
for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
    case "$mp" in
        /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/tmp|/tmp/*|"$work"|"$work"/*) ;;
        *) mount -o remount,bind,ro "$mp" 2>/dev/null || true ;;
    esac
done
mount -t proc -o nosuid,nodev,noexec,subset=pid,hidepid=invisible proc /proc
exec "$@"
"""

PROBE = r"""
import json, mmap, os, socket
seen = {}
def attempt(name, fn):
    try:
        fn()
        seen[name] = "allowed"
    except OSError as exc:
        seen[name] = exc.errno
attempt("wx_mmap", lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE
                                     | mmap.PROT_EXEC))
attempt("rw_mmap", lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE))
attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW).close())
attempt("inet6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close())
attempt("chroot", lambda: os.chroot("/"))
attempt("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, 0, 5))
attempt("write_etc", lambda: open("/etc/cohortwatch-sandbox-probe", "w").close())
seen["cpuinfo"] = os.path.exists("/proc/cpuinfo")
seen["self"] = os.path.exists("/proc/self/status")
print(json.dumps(seen))
"""

IMPORT_ALL = r"""
import importlib, pkgutil
names = []
for top in ("matchers", "monitor", "alerts"):
    pkg = importlib.import_module(top)
    names.append(top)
    names += [m.name for m in pkgutil.walk_packages(pkg.__path__, top + ".")]
for name in names:
    importlib.import_module(name)
import numpy, pyarrow.compute, pyarrow.csv, pyarrow.ipc, rapidfuzz.process, python_calamine
import aiohttp, aiohttp_socks, stem.control, bs4, pyzipper, py7zr, tlsh, pypdf, sqlite_utils
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
enc = Cipher(algorithms.AES(bytes(32)), modes.ECB()).encryptor()
enc.update(bytes(16 * 1024))
np.bitwise_count(np.arange(1 << 16, dtype=np.uint64)).sum()
print(len(names), "modules")
"""

SECRET = "geheim"  # noqa: S105 - the password of the synthetic test archives


@dataclass
class Sandboxed:
    returncode: int
    stdout: str
    stderr: str
    mounts: bool


@dataclass
class SandboxRuns:
    mounts: bool
    allowed: int
    runs: dict[str, Sandboxed]


def _leak_files(leak: Path, csv_bytes: bytes, py7zr: Any, pyzipper: Any) -> None:
    """The same leaked rows as a password zip (AES), a password 7z, a tar.gz and an XLSX."""
    import openpyxl

    leak.mkdir()
    with pyzipper.AESZipFile(leak / "dump.zip", "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(SECRET.encode())
        zf.writestr("export/patients.csv", csv_bytes)
    with py7zr.SevenZipFile(leak / "dump.7z", "w", password=SECRET) as archive:
        archive.writestr(csv_bytes, "patients.csv")
    with tarfile.open(leak / "dump.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("patients.csv")
        info.size = len(csv_bytes)
        tar.addfile(info, io.BytesIO(csv_bytes))
    wb = openpyxl.Workbook()
    sheet = wb.active
    for row in csv_bytes.decode().splitlines():
        sheet.append(row.split(";"))
    wb.save(leak / "dump.xlsx")


@pytest.fixture(scope="module")
def sandbox(analyze: str, tmp_path_factory: pytest.TempPathFactory) -> SandboxRuns:
    """Run the probe and the workloads in the emulated sandbox, side by side."""
    if os.uname().machine != "x86_64":
        pytest.skip("the seccomp emulation is written for x86-64")
    allowed = unit_syscalls(analyze)
    if not allowed:
        reason = ("no syscall table: /usr/include/x86_64-linux-gnu/asm/unistd_64.h is missing "
                  "(`make test` installs it; or: apt-get install linux-libc-dev)")
        if in_ci():
            pytest.fail(f"{reason}; CI=true: the sandbox tests must run", pytrace=False)
        pytest.skip(reason)
    py7zr = pytest.importorskip("py7zr")
    pyzipper = pytest.importorskip("pyzipper")
    work = tmp_path_factory.mktemp("sandbox")
    filter_file = work / "filter.json"
    filter_file.write_text(json.dumps(allowed))

    state = work / "state"
    fixed_key(state / "secret.key")
    people = make_people(40, seed=77)
    write_people_csv(work / "cohort.csv", people)
    outsiders = make_people(30, seed=78, ref_prefix="X", exclude_bsns={p.bsn for p in people})
    write_people_csv(work / "leak.csv", people[:12] + outsiders,
                     columns=("bsn", "naam", "geboortedatum", "postcode"))
    _leak_files(work / "leak", (work / "leak.csv").read_bytes(), py7zr, pyzipper)
    enrolled = run("cohort", "enroll", work / "cohort.csv", "--name", "screening", state=state)
    assert enrolled.returncode == 0, enrolled

    mounts = (os.geteuid() == 0 and shutil.which("unshare") is not None
              and subprocess.run(["unshare", "--mount", "true"], capture_output=True,
                                 check=False).returncode == 0)
    prefix = ["unshare", "--mount", "sh", "-c", _MOUNTS, "sh", str(work)] if mounts else []
    seccomp = [sys.executable, str(Path(__file__).resolve()), "--seccomp", str(filter_file),
               sys.executable]
    env = {k: v for k, v in os.environ.items()
           if k not in ("STATE_DIRECTORY", "CREDENTIALS_DIRECTORY", "COHORTWATCH_CONFIG",
                        "NOTIFY_SOCKET")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    jobs = {
        "probe": ["-c", PROBE],
        "imports": ["-c", IMPORT_ALL],
        "demo": ["-m", "monitor.cli", "demo"],
        "scan": ["-m", "monitor.cli", "--state-dir", str(state), "check-dataset",
                 str(work / "leak"), "--password", SECRET, "--json"],
    }
    started = {name: subprocess.Popen([*prefix, *seccomp, *args], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env, cwd=work)
               for name, args in jobs.items()}
    runs = {}
    for name, proc in started.items():
        out, err = proc.communicate(timeout=240)
        runs[name] = Sandboxed(proc.returncode, out, err, mounts)
    return SandboxRuns(mounts, len(allowed), runs)


@pytest.mark.slow
def test_the_emulated_sandbox_bites(sandbox: SandboxRuns) -> None:
    """Without this, the tests below could pass in no sandbox at all."""
    probe = sandbox.runs["probe"]
    assert probe.returncode == 0, probe
    seen = json.loads(probe.stdout)
    assert seen["wx_mmap"] == 1  # EPERM: MemoryDenyWriteExecute=
    assert seen["rw_mmap"] == "allowed"
    assert seen["netlink"] == 97  # EAFNOSUPPORT: RestrictAddressFamilies=
    assert seen["inet6"] == "allowed"
    assert seen["chroot"] == 1  # @privileged: refused even to root
    assert seen["setpriority"] == 1  # @resources
    if sandbox.mounts:
        assert seen["write_etc"] == 30  # EROFS: ProtectSystem=strict
        assert seen["cpuinfo"] is False  # ProcSubset=pid
        assert seen["self"] is True


def _clean(run_: Sandboxed) -> None:
    assert run_.returncode in (0, 1), run_
    for sign in ("Traceback", "Operation not permitted", "Read-only file system",
                 "Permission denied", "/proc/"):
        assert sign not in run_.stderr, run_


@pytest.mark.slow
def test_every_module_imports_in_the_sandbox(sandbox: SandboxRuns) -> None:
    """numpy, pyarrow, rapidfuzz, cryptography, calamine, aiohttp, py7zr … load and run
    without W+X memory, without @privileged/@resources syscalls and with /proc cut down."""
    result = sandbox.runs["imports"]
    _clean(result)
    assert result.returncode == 0
    assert "modules" in result.stdout


@pytest.mark.slow
def test_the_demo_runs_in_the_sandbox(sandbox: SandboxRuns) -> None:
    _clean(sandbox.runs["demo"])


@pytest.mark.slow
def test_archives_and_spreadsheets_are_scanned_in_the_sandbox(sandbox: SandboxRuns) -> None:
    result = sandbox.runs["scan"]
    _clean(result)
    assert result.returncode == 1, result  # members found
    report = json.loads(result.stdout)
    formats = {f["path"].split("/")[1]: f["records"] for f in report["dataset"]["files"]}
    assert report["summary"]["members_matched"] == 12, report["summary"]
    assert set(formats) == {"dump.zip", "dump.7z", "dump.tar.gz", "dump.xlsx"}, formats
    assert all(records == 42 for records in formats.values()), formats

