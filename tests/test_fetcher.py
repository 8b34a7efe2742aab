"""The fetcher routes every request through Tor's SOCKS port with remote name resolution,
fails closed, isolates sites, caps responses and resumes downloads."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from socks_relay import SocksRelay

from monitor.errors import (
    DirectConnectionRefused,
    DownloadError,
    SiteUnreachableError,
    TorUnavailableError,
)
from monitor.sites.model import Timeouts
from monitor.tor.socks import Fetcher, SocksSettings, is_loopback_literal

ONION = "exampleexampleexampleexampleexampleexampleexampleexampl.onion"


@dataclass(frozen=True)
class S:
    name: str
    allow_direct: bool = False
    timeout: Timeouts = field(default_factory=Timeouts)


async def _no_sleep(_s: float) -> None:
    return None


@pytest.fixture
async def server():
    """A loopback site that counts what reaches it."""
    hits: list[str] = []
    blob = bytes(range(256)) * 4096  # 1 MiB
    state = {"break_after": 0, "ignore_range": False}

    async def page(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<html><body>hello</body></html>", content_type="text/html")

    async def big(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"x" * (3 << 20))

    async def hang(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"<html><body>half a page")
        await asyncio.sleep(30)  # hangs mid-response
        return resp

    async def away(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound("http://10.255.255.1/elsewhere")

    async def blobfile(request: web.Request) -> web.StreamResponse:
        hits.append(request.path + " " + request.headers.get("Range", ""))
        start = 0
        rng = request.headers.get("Range")
        if rng and not state["ignore_range"]:
            start = int(rng.split("=")[1].split("-")[0])
        resp = web.StreamResponse(status=206 if start else 200)
        resp.content_length = len(blob) - start
        if start:
            resp.headers["Content-Range"] = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
        await resp.prepare(request)
        cut = state["break_after"]
        body = blob[start:]
        if cut and not start:
            await resp.write(body[:cut])
            request.transport.close()  # the connection drops mid-file
            return resp
        await resp.write(body)
        return resp

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/big", big)
    app.router.add_get("/away", away)
    app.router.add_get("/hang", hang)
    app.router.add_get("/blob.zip", blobfile)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    srv.hits, srv.blob, srv.state = hits, blob, state
    yield srv
    await srv.close()


@pytest.fixture
async def relay():
    r = await SocksRelay().start()
    yield r
    await r.stop()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_loopback_literal() -> None:
    assert is_loopback_literal("127.0.0.1") and is_loopback_literal("::1")
    assert is_loopback_literal("[::1]") and is_loopback_literal("127.3.4.5")
    assert not is_loopback_literal("localhost")  # a name would need a DNS lookup
    assert not is_loopback_literal("10.0.0.1") and not is_loopback_literal(ONION)


async def test_onion_goes_through_socks_with_remote_dns(server, relay) -> None:
    relay.routes[f"{ONION}:80"] = server.port
    f = Fetcher(SocksSettings(port=relay.port))
    try:
        page = await f.get(S("nova"), f"http://{ONION}/")
    finally:
        await f.close()
    assert b"hello" in page.body
    req = relay.requests[-1]
    assert req.address_type == 3 and req.host == ONION  # the name went to Tor, unresolved
    assert req.username == "cohortwatch-nova" and req.password


async def test_sites_get_their_own_credentials_and_rotate(server, relay) -> None:
    relay.routes[f"{ONION}:80"] = server.port
    f = Fetcher(SocksSettings(port=relay.port))
    try:
        await f.get(S("a"), f"http://{ONION}/")
        await f.get(S("b"), f"http://{ONION}/")
        first = relay.requests[0].password
        f.rotate("a")
        await f.get(S("a"), f"http://{ONION}/")
    finally:
        await f.close()
    users = [r.username for r in relay.requests]
    assert users == ["cohortwatch-a", "cohortwatch-b", "cohortwatch-a"]
    assert relay.requests[2].password != first  # new credentials: new circuits


async def test_fail_closed_when_socks_port_is_down(server) -> None:
    """Tor down: an error naming Tor, and nothing reaches the site by another route."""
    f = Fetcher(SocksSettings(port=_closed_port()))
    try:
        for url in (f"http://{ONION}/", f"http://127.0.0.1:{server.port}/"):
            with pytest.raises(TorUnavailableError, match="Nothing was sent another way"):
                await f.get(S("nova"), url)
        # allow_direct covers loopback literals only; a name still needs Tor.
        with pytest.raises(TorUnavailableError):
            await f.get(S("demo", allow_direct=True), f"http://{ONION}/")
    finally:
        await f.close()
    assert server.hits == []


async def test_no_socks_configured_refuses(server) -> None:
    f = Fetcher(SocksSettings(host=None))
    try:
        with pytest.raises(DirectConnectionRefused, match="refusing to connect directly"):
            await f.get(S("nova"), f"http://127.0.0.1:{server.port}/")
        with pytest.raises(DirectConnectionRefused):
            await f.get(S("nova"), "file:///etc/passwd")
        page = await f.get(S("demo", allow_direct=True), f"http://127.0.0.1:{server.port}/")
    finally:
        await f.close()
    assert page.status == 200 and server.hits == ["/"]


async def test_redirect_off_loopback_is_not_followed_directly(server) -> None:
    f = Fetcher(SocksSettings(host=None))
    try:
        with pytest.raises(DirectConnectionRefused):
            await f.get(S("demo", allow_direct=True), f"http://127.0.0.1:{server.port}/away")
    finally:
        await f.close()


async def test_page_cap_and_unreachable_onion(server, relay) -> None:
    f = Fetcher(SocksSettings(port=relay.port, max_page_bytes=1 << 20))
    try:
        with pytest.raises(SiteUnreachableError, match="larger than"):
            await f.get(S("demo", allow_direct=True), f"http://127.0.0.1:{server.port}/big")
        with pytest.raises(SiteUnreachableError):
            await f.get(S("nova"), f"http://{ONION}/")  # relay: host unreachable
    finally:
        await f.close()


async def test_download_resumes_after_a_broken_transfer(server, tmp_path: Path) -> None:
    server.state["break_after"] = 300_000
    f = Fetcher(SocksSettings(host=None), sleep=_no_sleep)
    dest = tmp_path / "blob.zip"
    try:
        n = await f.download(S("demo", allow_direct=True),
                             f"http://127.0.0.1:{server.port}/blob.zip", dest, max_bytes=2 << 20)
    finally:
        await f.close()
    assert n == len(server.blob) and dest.read_bytes() == server.blob
    ranges = [h for h in server.hits if "bytes=" in h]
    assert ranges and not ranges[0].endswith("bytes=0-")


async def test_download_restarts_when_range_is_ignored(server, tmp_path: Path) -> None:
    server.state.update(break_after=300_000, ignore_range=True)
    f = Fetcher(SocksSettings(host=None), sleep=_no_sleep)
    dest = tmp_path / "blob.zip"
    try:
        with pytest.raises(DownloadError, match="incomplete after 3 attempts"):
            await f.download(S("demo", allow_direct=True),
                             f"http://127.0.0.1:{server.port}/blob.zip", dest,
                             max_bytes=2 << 20, attempts=3)
    finally:
        await f.close()
    assert dest.stat().st_size <= 300_000  # never glued a restarted body onto a partial one


async def test_download_size_cap(server, tmp_path: Path) -> None:
    f = Fetcher(SocksSettings(host=None), sleep=_no_sleep)
    try:
        with pytest.raises(DownloadError, match="over the limit"):
            await f.download(S("demo", allow_direct=True),
                             f"http://127.0.0.1:{server.port}/blob.zip", tmp_path / "x",
                             max_bytes=1000)
    finally:
        await f.close()


async def test_a_site_that_hangs_mid_response_times_out(server) -> None:
    f = Fetcher(SocksSettings(host=None))
    site = S("slow", allow_direct=True, timeout=Timeouts(connect=5.0, read=1.0))
    started = time.monotonic()
    try:
        with pytest.raises(SiteUnreachableError, match="slow"):
            await f.get(site, f"http://127.0.0.1:{server.port}/hang")
    finally:
        await f.close()
    assert time.monotonic() - started < 10
