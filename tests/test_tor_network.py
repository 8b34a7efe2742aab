"""monitor.tor against a real private Tor network on 127.0.0.1 (monitor/tor/testnet.py).

All tests share the one session network (``tor_network``): onion services in front of
aiohttp servers the tests start and stop themselves, a client tor with SOCKS and control
ports, and a managed tor that joins the network with its ``DirAuthority`` lines.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import stem.control
from aiohttp import web
from aiohttp_socks import ProxyConnector, ProxyError

from monitor.errors import TorControlError, TorUnavailableError
from monitor.tor.control import BootstrapStatus, TorControl
from monitor.tor.managed import ManagedTor
from monitor.tor.testnet import Onion, TorTestNetwork

pytestmark = [pytest.mark.tor, pytest.mark.timeout(240)]


@asynccontextmanager
async def leak_site(onion: Onion, body: str) -> AsyncIterator[None]:
    """An aiohttp "leak site" on the onion's target port, for as long as the block runs."""
    app = web.Application()

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=body)

    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", onion.target_port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def fetch(socks_port: int, onion: Onion, user: str = "test", timeout: float = 60) -> str:
    """GET http://<onion>/ through tor's SOCKS port, the name resolved by tor."""
    connector = ProxyConnector.from_url(f"socks5://{user}:x@127.0.0.1:{socks_port}", rdns=True)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(timeout)) as s,
        s.get(f"http://{onion.hostname}/") as response,
    ):
        response.raise_for_status()
        return await response.text()


async def eventually(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)


async def client_control(net: TorTestNetwork) -> TorControl:
    return await TorControl.connect(port=net.control_port, cookie_path=net.cookie_path)


# --------------------------------------------------------------------------- the network


async def test_onion_site_is_fetched_by_name_and_can_go_down_and_up(
    tor_network: TorTestNetwork,
) -> None:
    onion = tor_network.onions[0]
    assert onion.hostname.endswith(".onion") and len(onion.hostname) == 62
    assert tor_network.timings["first_fetch"] < 120
    async with leak_site(onion, "posts: 3"):
        assert await fetch(tor_network.socks_port, onion) == "posts: 3"
    with pytest.raises(ProxyError, match="General SOCKS server failure"):
        await fetch(tor_network.socks_port, onion, timeout=20)  # the site is down: tor says so
    async with leak_site(onion, "posts: 4"):
        assert await fetch(tor_network.socks_port, onion) == "posts: 4"


def test_network_options_let_another_tor_join(tor_network: TorTestNetwork) -> None:
    options = tor_network.network_options()
    assert options[0] == "TestingTorNetwork 1"
    assert sum(line.startswith("DirAuthority ") for line in options) == 3
    assert tor_network.torrc_extra() == "".join(f"{line}\n" for line in options)
    assert all(rss > 0 for rss in tor_network.rss_kib().values())


# --------------------------------------------------------------------------- TorControl


async def test_control_reports_bootstrap_and_health(tor_network: TorTestNetwork) -> None:
    seen: list[BootstrapStatus] = []
    async with await client_control(tor_network) as tor:
        status = await tor.wait_for_bootstrap(timeout=30, on_progress=seen.append)
        health = await tor.health()
        listeners = await tor.socks_listeners()
    assert status.done and status.percent == 100
    assert seen and seen[-1].percent == 100
    assert health.healthy, health.problems()
    assert health.circuit_established and health.network_live
    assert health.problems() == []
    assert listeners == [("127.0.0.1", tor_network.socks_port)]


async def test_newnym_reaches_tor_and_a_second_one_is_deferred(
    tor_network: TorTestNetwork,
) -> None:
    signals: list[str] = []
    lock = threading.Lock()

    def on_signal(event: stem.response.events.SignalEvent) -> None:
        with lock:
            signals.append(event.signal)

    with tor_network.controller() as watcher:  # a separate stem connection
        watcher.add_event_listener(on_signal, stem.control.EventType.SIGNAL)
        async with await client_control(tor_network) as tor:
            first = await tor.newnym()
            second = await tor.newnym()
            # tor itself delays a NEWNYM that follows another within 10 s
            await eventually(lambda: "NEWNYM" in signals, 15, "tor announces NEWNYM")
    assert first.sent
    assert not second.sent and 0 < second.retry_after <= 10
    assert signals.count("NEWNYM") == 1


async def test_each_socks_username_gets_its_own_circuit(tor_network: TorTestNetwork) -> None:
    onion = tor_network.onions[1]
    streams: list[tuple[str, str]] = []  # (circuit id, target) of streams that connected

    def on_stream(event: stem.response.events.StreamEvent) -> None:
        if event.status == "SUCCEEDED" and event.target_address.startswith(onion.hostname):
            streams.append((event.circ_id, event.target_address))

    circuits: dict[str, list[str]] = {}
    with tor_network.controller() as watcher:
        watcher.add_event_listener(on_stream, stem.control.EventType.STREAM)
        async with leak_site(onion, "ok"):
            for user in ("site-a", "site-a", "site-b"):
                before = len(streams)
                assert await fetch(tor_network.socks_port, onion, user=user) == "ok"
                await eventually(lambda n=before: len(streams) > n, 10, "STREAM SUCCEEDED")
                circuits.setdefault(user, []).append(streams[-1][0])
        usernames = {c: watcher.get_circuit(c).socks_username for c in set(streams_ids(circuits))}
    assert circuits["site-a"][0] == circuits["site-a"][1]
    assert circuits["site-b"][0] != circuits["site-a"][0]
    assert usernames == {circuits["site-a"][0]: "site-a", circuits["site-b"][0]: "site-b"}


def streams_ids(circuits: dict[str, list[str]]) -> list[str]:
    return [c for ids in circuits.values() for c in ids]


async def test_bad_credentials_give_errors_that_say_what_to_change(
    tor_network: TorTestNetwork, tmp_path: Path
) -> None:
    port = tor_network.control_port
    with pytest.raises(TorControlError, match=r"refused the control password.*HashedControl"):
        await TorControl.connect(port=port, password="not-the-password")  # noqa: S106
    with pytest.raises(TorControlError, match=r"cookie .*missing.cookie does not exist"):
        await TorControl.connect(port=port, cookie_path=tmp_path / "missing.cookie")
    foreign = tmp_path / "other-tor.cookie"
    foreign.write_bytes(os.urandom(32))
    with pytest.raises(TorControlError, match=r"refused the control cookie .*not this tor's"):
        await TorControl.connect(port=port, cookie_path=foreign)
    async with await TorControl.connect(port=port, password=tor_network.control_password) as tor:
        assert (await tor.bootstrap_status()).done
    async with await TorControl.connect(port=port) as tor:  # the cookie tor names
        assert (await tor.health()).healthy


# --------------------------------------------------------------------------- managed mode


async def test_managed_tor_joins_is_restarted_and_stops(
    tor_network: TorTestNetwork, tmp_path: Path
) -> None:
    progress: list[int] = []
    managed = ManagedTor(
        tmp_path / "tor",
        extra_options=tor_network.network_options(),
        bootstrap_timeout=60,
        restart_delay=0.2,
        on_progress=lambda status: progress.append(status.percent),
    )
    await managed.start()
    try:
        assert progress[-1] == 100 and len(progress) > 1
        assert stat.S_IMODE((tmp_path / "tor").stat().st_mode) == 0o700
        assert (await managed.control.health()).healthy
        # a second, short-lived connection must not take tor down with it (TAKEOWNERSHIP)
        async with await TorControl.connect(port=managed.control_port) as other:
            assert (await other.health()).healthy
        async with leak_site(tor_network.onions[0], "via managed tor"):
            text = await fetch(managed.socks_port, tor_network.onions[0])
        assert text == "via managed tor"

        first_pid, socks_port = managed.pid, managed.socks_port
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        await eventually(lambda: managed.pid != first_pid, 10, "tor restarted")
        await managed.wait_ready(timeout=60)
        assert managed.restarts == 1
        assert managed.pid not in (None, first_pid)
        assert managed.socks_port == socks_port  # clients keep their settings
        assert (await managed.health()).healthy  # always the running tor's connection
        assert (await managed.newnym()).sent
    finally:
        last_pid = managed.pid
        await managed.close()
    assert managed.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(last_pid, 0)
    assert any("Owning controller connection has closed" in line for line in managed.log_tail)
    with pytest.raises(TorUnavailableError):
        managed.control  # noqa: B018


async def test_managed_tor_on_a_control_socket(tor_network: TorTestNetwork, tmp_path: Path) -> None:
    async with ManagedTor(tmp_path / "t", control_socket=True, bootstrap_timeout=60,
                          extra_options=tor_network.network_options()) as managed:
        assert managed.control_port is None and managed.control_socket is not None
        assert managed.control_socket.is_socket()
        async with await TorControl.connect(socket_path=managed.control_socket) as other:
            assert (await other.bootstrap_status()).done
        pid = managed.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
