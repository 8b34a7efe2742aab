"""The daemon's operations endpoints on loopback: ``/metrics``, ``/healthz``, ``/readyz``.

- ``GET /metrics`` — Prometheus text format (OpenMetrics when the scraper asks for it), the
  registry of :class:`monitor.metrics.Metrics`. Collected in a worker thread under a
  timeout, because part of it is read from the state database.
- ``GET /healthz`` — *liveness*: 200 ``{"status": "ok", …}`` when the event loop answers
  (it serves this request), the state database answers within the probe timeout (its file
  still there), and the scheduler's heartbeat (:meth:`Metrics.heartbeat`) is not older than
  ``stale_after`` seconds; else 503 ``{"status": "failing", "problems": […]}``. Tor's health
  is included as information but does not fail liveness — a decision: a Tor that is still
  bootstrapping, or down, is not fixed by restarting cohortwatch (the crawler records
  ``tor_unavailable`` and the daemon raises ``tor.unhealthy``), and a liveness probe that
  failed on it would make systemd or an orchestrator restart a healthy daemon in a loop.
- ``GET /readyz`` — *readiness*: as ``/healthz``, and Tor must be healthy at the last check
  (if the daemon checks Tor at all). For a load balancer or a dashboard's "can it crawl
  now?".

No personal value appears in any answer: problems name the database path, times, Tor's
bootstrap phase and configured names only. Requests are not logged (a scrape every 15 s
would fill the journal); the listener is refused on anything but loopback
(:func:`monitor.ops_settings.parse_listen`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from matchers.errors import ConfigError, StateError
from monitor.metrics import Metrics
from monitor.ops_settings import MetricsSettings, parse_listen

__all__ = ["OpsServer", "serve_ops"]

log = logging.getLogger(__name__)


class OpsServer:
    """An aiohttp server for the endpoints above; :meth:`start` / :meth:`stop`, or
    ``async with``.

    ``stale_after``: seconds without a heartbeat after which ``/healthz`` fails (checked
    only once the daemon has sent its first heartbeat). ``probe_timeout``: seconds the
    database (and a scrape) may take.
    """

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9464, *,
                 stale_after: float = 120.0, probe_timeout: float = 5.0) -> None:
        self.metrics = metrics
        self.host, self._port = host, port
        self.stale_after = stale_after
        self.probe_timeout = probe_timeout
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._app = app

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when configured as 0)."""
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        """Listen.

        :raises ConfigError: the address cannot be bound (in use, or not on this host); the
            message names ``metrics.listen``.
        """
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot serve /metrics on {self.host}:{self._port} ({exc.strerror or exc}): "
                "set metrics.listen to a free loopback port, or to \"\" to disable") from None
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple):
                self._port = int(address[1])
                break
        log.info("operations endpoints listening", extra={"url": self.url})

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> OpsServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # -- checks ----------------------------------------------------------------------------

    async def health(self, *, ready: bool = False) -> dict[str, Any]:
        """The ``/healthz`` (or, with ``ready``, ``/readyz``) answer as a dict; its
        ``status`` is ``ok`` or ``failing``."""
        m = self.metrics
        problems: list[str] = []
        database = "not configured"
        if m.reader is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(m.reader.ping), self.probe_timeout)
                database = "ok"
            except TimeoutError:
                database = "timeout"
                problems.append(f"state database did not answer within "
                                f"{self.probe_timeout:g} s")
            except StateError as exc:
                database = "error"
                problems.append(str(exc))
        now = time.monotonic()
        beat_age = None if m.last_heartbeat is None else round(now - m.last_heartbeat, 1)
        if beat_age is not None and beat_age > self.stale_after:
            problems.append(f"scheduler has not gone round for {beat_age:.0f} s "
                            f"(limit {self.stale_after:g} s)")
        tor = _tor_answer(m, now)
        if ready and tor is not None and not tor["healthy"]:
            problems.append("tor: " + ("; ".join(tor["problems"]) or "not healthy"))
        return {
            "status": "failing" if problems else "ok",
            "problems": problems,
            "database": database,
            "heartbeat_age_seconds": beat_age,
            "uptime_seconds": round(time.time() - m.started, 1),
            "tor": tor,
        }

    # -- handlers --------------------------------------------------------------------------

    async def _healthz(self, _request: web.Request) -> web.Response:
        return _json(await self.health())

    async def _readyz(self, _request: web.Request) -> web.Response:
        return _json(await self.health(ready=True))

    async def _metrics(self, request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        try:
            body, content_type = await asyncio.wait_for(
                asyncio.to_thread(self.metrics.render, accept), self.probe_timeout)
        except TimeoutError:
            return web.Response(status=503, text="metrics collection timed out\n",
                                headers={"Cache-Control": "no-store"})
        return web.Response(body=body, headers={"Content-Type": content_type,
                                                "Cache-Control": "no-store"})


def _tor_answer(m: Metrics, now: float) -> dict[str, Any] | None:
    """Tor as last checked by the daemon, or ``None`` when it never checked (no control
    port configured, or not yet)."""
    if m.tor_checked_at is None:
        return None
    age = round(now - m.tor_checked_at, 1)
    health = m.tor
    if health is None:
        return {"checked_age_seconds": age, "reachable": False, "healthy": False,
                "bootstrap_percent": None, "problems": [m.tor_error or "control port "
                                                        "did not answer"]}
    return {"checked_age_seconds": age, "reachable": True, "healthy": bool(health.healthy),
            "bootstrap_percent": health.bootstrap.percent,
            "circuit_established": health.circuit_established,
            "network_live": health.network_live, "problems": health.problems()}


def _json(answer: dict[str, Any]) -> web.Response:
    return web.Response(status=200 if answer["status"] == "ok" else 503,
                        text=json.dumps(answer, sort_keys=True),
                        content_type="application/json",
                        headers={"Cache-Control": "no-store"})


@contextlib.asynccontextmanager
async def serve_ops(listen: MetricsSettings | str, metrics: Metrics,
                    **options: Any) -> AsyncIterator[OpsServer | None]:
    """Serve the endpoints while the block runs; yields ``None`` when ``listen`` is ``""``
    (disabled). ``listen``: the ``[metrics]`` settings or a ``host:port`` string;
    ``options``: see :class:`OpsServer`.

    :raises ConfigError: ``listen`` is not a loopback host:port, or cannot be bound.
    """
    text = listen.listen if isinstance(listen, MetricsSettings) else listen
    if not text:
        yield None
        return
    host, port = parse_listen(text)
    server = OpsServer(metrics, host, port, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
