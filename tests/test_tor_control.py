"""The parts of monitor.tor that need no tor: parsing, messages, rate limit, event hand-off,
failures to connect, and a managed tor that cannot start. (The real thing:
test_tor_network.py, marked ``tor``.)"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import require_tor

from matchers.errors import ConfigError
from monitor.errors import TorControlError, TorUnavailableError
from monitor.tor import testnet
from monitor.tor.auth import cookie_error
from monitor.tor.control import TorControl
from monitor.tor.managed import ManagedTor, find_tor
from monitor.tor.settings import TorSettings
from monitor.tor.status import BootstrapStatus, TorHealth

# --------------------------------------------------------------------------- status values


def test_bootstrap_phase_is_parsed() -> None:
    done = BootstrapStatus.parse('NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"')
    assert done == BootstrapStatus(100, "done", "Done")
    assert done.done and done.describe() == "100% (Done)"
    stuck = BootstrapStatus.parse(
        'WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay" '
        'WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore '
        'HOSTID="$AAAA" HOSTADDR="192.0.2.1:443"')
    assert (stuck.percent, stuck.tag, stuck.summary) == (5, "conn", "Connecting to a relay")
    assert stuck.warning == "Connection refused" and stuck.recommendation == "ignore"
    assert not stuck.done
    assert stuck.describe() == "5% (Connecting to a relay); problem: Connection refused"
    quoted = BootstrapStatus.parse(r'NOTICE BOOTSTRAP PROGRESS=50 SUMMARY="say \"hi\""')
    assert quoted.summary == 'say "hi"'


@pytest.mark.parametrize("text", ["", "NOTICE BOOTSTRAP TAG=done", "PROGRESS=lots"])
def test_not_a_bootstrap_phase(text: str) -> None:
    with pytest.raises(ValueError, match="not a bootstrap status"):
        BootstrapStatus.parse(text)


def test_health_names_its_problems() -> None:
    good = TorHealth(BootstrapStatus(100, "done", "Done"), True, True, dormant=True)
    assert good.healthy and good.problems() == []
    bad = TorHealth(BootstrapStatus(45, "requesting_descriptors", "Asking for relay descriptors"),
                    False, False, dormant=False)
    assert not bad.healthy
    assert bad.problems() == [
        "bootstrap at 45% (Asking for relay descriptors)",
        "no circuit established",
        "tor believes the network is down (check connectivity and the clock)",
    ]


# --------------------------------------------------------------------------- messages


def test_cookie_errors_say_what_to_do() -> None:
    path = "/run/tor/control.authcookie"
    denied = cookie_error(path, OSError(errno.EACCES, "Permission denied"), "control port x")
    assert str(denied) == (
        "cannot read Tor's control cookie /run/tor/control.authcookie: permission denied; add "
        "the user running cohortwatch to the group tor runs as (debian-tor on Debian), or use a "
        "control password (tor.password_file)")
    missing = cookie_error(path, OSError(errno.ENOENT, "No such file"), "control port 1.2.3.4:1")
    assert "does not exist" in str(missing) and "CookieAuthentication 1" in str(missing)
    assert "the tor at control port 1.2.3.4:1?" in str(missing)
    other = cookie_error(path, OSError(errno.EISDIR, "Is a directory"), "x")
    assert str(other).endswith(": Is a directory")
    assert all(isinstance(e, TorControlError) for e in (denied, missing, other))


# --------------------------------------------------------------------------- connecting


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_nothing_at_the_control_port() -> None:
    port = closed_port()
    with pytest.raises(TorUnavailableError, match=rf"{port} does not answer .*ControlPort {port}"):
        await TorControl.connect(port=port)


async def test_a_control_port_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client goes away
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(TorUnavailableError, match=r"did not answer within 0.5 s"):
            await TorControl.connect(port=port, timeout=0.5)


async def test_missing_control_socket(tmp_path: Path) -> None:
    with pytest.raises(TorUnavailableError, match=r"socket .* does not exist.*ControlSocket"):
        await TorControl.connect(socket_path=tmp_path / "control")


async def test_port_or_socket_not_both() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await TorControl.connect()
    with pytest.raises(ValueError, match="exactly one"):
        await TorControl.connect(port=9051, socket_path="/run/tor/control")


async def test_settings_password_file_must_be_readable(tmp_path: Path) -> None:
    settings = TorSettings(control="127.0.0.1:9051", password_file=str(tmp_path / "nope"))
    with pytest.raises(TorControlError, match=r"password file .*nope \(tor.password_file\)"):
        await TorControl.from_settings(settings)
    with pytest.raises(TorControlError, match="no Tor control port configured"):
        await TorControl.from_settings(TorSettings(control=""))
    port = closed_port()
    with pytest.raises(TorUnavailableError, match=str(port)):
        await TorControl.from_settings(TorSettings(control=f"127.0.0.1:{port}"))


# --------------------------------------------------------------------------- rate limit, events


class FakeController:
    """Just what TorControl calls on stem's Controller; NEWNYM bookkeeping as stem does it."""

    def __init__(self) -> None:
        self.signals: list[str] = []
        self.wait = 0.0
        self.listeners: list[Callable[[Any], None]] = []

    def is_alive(self) -> bool:
        return True

    def get_newnym_wait(self) -> float:
        return self.wait

    def signal(self, name: str) -> None:
        self.signals.append(str(name))
        self.wait = 0.3

    def add_event_listener(self, listener: Callable[[Any], None], *events: str) -> None:
        self.listeners.append(listener)

    def remove_event_listener(self, listener: Callable[[Any], None]) -> None:
        self.listeners.remove(listener)

    def close(self) -> None:
        pass


async def test_newnym_is_deferred_within_the_rate_limit_or_waits() -> None:
    fake = FakeController()
    tor = TorControl(fake, "control port test", command_timeout=5)  # type: ignore[arg-type]
    first = await tor.newnym()
    assert first.sent and first.retry_after == pytest.approx(0.3)
    second = await tor.newnym()
    assert not second.sent and second.retry_after == pytest.approx(0.3)
    assert fake.signals == ["NEWNYM"]

    loop = asyncio.get_running_loop()
    started = loop.time()
    fake.wait = 0.2
    waited = await tor.newnym(wait=True)
    assert waited.sent and loop.time() - started >= 0.19
    assert fake.signals == ["NEWNYM", "NEWNYM"]


async def test_events_are_handed_back_to_the_event_loop() -> None:
    fake = FakeController()
    tor = TorControl(fake, "control port test", command_timeout=5)  # type: ignore[arg-type]
    got: list[tuple[str, int]] = []
    arrived = asyncio.Event()

    def listener(event: Any) -> None:
        got.append((event, threading.get_ident()))
        arrived.set()

    await tor.add_event_listener(listener, "SIGNAL")
    (relay,) = fake.listeners
    thread = threading.Thread(target=relay, args=("NEWNYM",))  # as stem's event thread does
    thread.start()
    thread.join()
    await asyncio.wait_for(arrived.wait(), 5)
    assert got == [("NEWNYM", threading.get_ident())]  # called on the loop's thread
    await tor.remove_event_listener(listener)
    assert fake.listeners == []


# --------------------------------------------------------------------------- managed mode


@pytest.mark.parametrize("line", ["SocksPort 9050", "controlport 9051", "DataDirectory /tmp/x",
                                  "__OwningControllerProcess 1", "RunAsDaemon 1"])
def test_managed_options_cannot_be_overridden(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError, match="set by cohortwatch's managed mode"):
        ManagedTor(tmp_path, extra_options=[line])


def test_managed_options_are_one_per_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="one option per line"):
        ManagedTor(tmp_path, extra_options=["Bridge x\nSocksPort 1"])
    ManagedTor(tmp_path, extra_options=["# a comment", "", "UseBridges 1"])


def test_managed_control_socket_path_length(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="longer than 107 bytes"):
        ManagedTor(tmp_path / ("d" * 120), control_socket=True)


def test_tor_not_installed() -> None:
    with pytest.raises(TorUnavailableError, match=r"tor is not installed.*apt-get install tor"):
        find_tor("no-such-tor-binary")


async def test_a_tor_that_cannot_start_reports_what_it_said(tmp_path: Path) -> None:
    fake_tor = tmp_path / "tor"
    fake_tor.write_text('#!/bin/sh\necho "Nov 23 16:00:00.000 [warn] Failed to parse/validate '
                        'config: Unknown option \'Brigde\'"\necho "[err] Reading config failed"\n'
                        "exit 1\n")
    fake_tor.chmod(0o755)
    managed = ManagedTor(tmp_path / "data", tor_binary=str(fake_tor), bootstrap_timeout=5)
    with pytest.raises(TorUnavailableError) as info:
        await managed.start()
    message = str(info.value)
    assert message.startswith("tor exited with status 1 while starting; tor said:")
    assert "Unknown option 'Brigde'" in message and "Reading config failed" in message
    assert managed.pid is None
    torrc = (tmp_path / "data" / "torrc").read_text()
    assert "SocksPort 127.0.0.1:auto" in torrc and "CookieAuthentication 1" in torrc
    await managed.close()


# --------------------------------------------------------------------------- the fixture


@pytest.mark.parametrize("ci", ["", "false", "true", "1"])
def test_without_tor_the_network_tests_skip_but_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setattr(testnet, "tor_binaries", lambda: None)
    monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci in ("true", "1") else pytest.skip.Exception
    with pytest.raises(outcome) as info:
        require_tor()
    assert "tor is not installed (`make test` installs it" in str(info.value)
    assert ("CI=true: the Tor tests must run" in str(info.value)) == (ci in ("true", "1"))
