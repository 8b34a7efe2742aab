"""A small real SOCKS5 server on loopback for tests that need Tor's SOCKS behaviour but not
Tor's latency: it records every request (username, password, the host name as sent —
proving names are resolved remotely) and relays ``*.onion`` names to loopback ports.

The Tor integration tests (``-m tor``) use a real Tor network instead; this relay keeps
the crawler's unit tests fast and exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field


@dataclass
class SocksRequest:
    username: str | None
    password: str | None
    host: str
    port: int
    address_type: int  # 1 IPv4, 3 domain name, 4 IPv6


@dataclass
class SocksRelay:
    """``routes`` maps "host:port" as the client asked for it to a loopback port."""

    routes: dict[str, int] = field(default_factory=dict)
    requests: list[SocksRequest] = field(default_factory=list)
    port: int = 0
    _server: asyncio.base_events.Server | None = None

    async def start(self) -> SocksRelay:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            # Cancelled when the relay stops: swallowed, or 3.11's start_server callback
            # logs it as an error.
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _ver, n = await reader.readexactly(2)
        methods = await reader.readexactly(n)
        username = password = None
        if 2 in methods:
            writer.write(b"\x05\x02")
            await writer.drain()
            await reader.readexactly(1)
            username = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            password = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            writer.write(b"\x01\x00")
        else:
            writer.write(b"\x05\x00")
        await writer.drain()
        _ver, _cmd, _rsv, atyp = await reader.readexactly(4)
        if atyp == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        elif atyp == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        else:
            host = (await reader.readexactly(16)).hex()
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        self.requests.append(SocksRequest(username, password, host, port, atyp))
        target = self.routes.get(f"{host}:{port}")
        if target is None:
            # Tor's answer for an onion it cannot reach: "host unreachable".
            writer.write(b"\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00")
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        writer.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.write_eof()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        up_writer.close()
