"""A webhook receiver for the alert tests: a real aiohttp server on 127.0.0.1.

It does what the README tells receivers to do: verify every request with the reference
``standardwebhooks`` library, and process each ``webhook-id`` once (a retry of something
already processed is answered 2xx and not processed again). A test scripts its answers per
endpoint path — status, delay, headers — to play a receiver that is down, slow, rate
limited, gone or redirecting. It records every raw arrival and every processing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def make_secret(seed: int) -> str:
    """A deterministic ``whsec_`` secret of 32 bytes (tests only)."""
    return "whsec_" + base64.b64encode(bytes((seed + i) % 256 for i in range(32))).decode()


@dataclass(frozen=True)
class Answer:
    status: int = 204
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Arrival:
    path: str
    webhook_id: str
    timestamp: str
    body: bytes
    verified: bool | None  # None: no secret known for this path
    at: float  # time.monotonic()
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)  # path name → whsec_ secret
    script: dict[str, list[Answer]] = field(default_factory=dict)  # consumed in order
    default: dict[str, Answer] = field(default_factory=dict)  # after the script runs out
    arrivals: list[Arrival] = field(default_factory=list)
    processed: Counter[tuple[str, str]] = field(default_factory=Counter)
    elsewhere: list[str] = field(default_factory=list)  # redirect targets reached
    in_flight: int = 0
    server: TestServer | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook/{name}", self.hook)
        app.router.add_route("*", "/elsewhere/{name}", self.other)
        return app

    async def start(self, port: int = 0) -> Receiver:
        self.server = TestServer(self.app(), host="127.0.0.1", port=port)
        await self.server.start_server()
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.port or 0)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    def of(self, name: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.path == name]

    async def hook(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = None
        if name in self.secrets:
            try:
                Webhook(self.secrets[name]).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        msg_id = headers.get("webhook-id", "")
        self.arrivals.append(Arrival(name, msg_id, headers.get("webhook-timestamp", ""),
                                     body, verified, time.monotonic(), headers))
        queue = self.script.get(name) or []
        answer = queue.pop(0) if queue else self.default.get(name, Answer())
        self.in_flight += 1
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if verified is False:
                return web.Response(status=401, text="bad signature")
            if 200 <= answer.status < 300 and (name, msg_id) not in self.processed:
                self.processed[(name, msg_id)] += 1  # dedupe on webhook-id: process once
            return web.Response(status=answer.status, headers=answer.headers)
        finally:
            self.in_flight -= 1

    async def other(self, request: web.Request) -> web.Response:
        self.elsewhere.append(request.match_info["name"])
        return web.Response(status=204)
