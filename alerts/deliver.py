"""Sending what the outbox holds: signed POSTs with retries, one queue per endpoint.

Webhook receivers are the operator's own systems (or its chat service), not leak sites, so
requests go out directly with aiohttp — not through Tor, whose exits a receiver may block
and whose latency would only delay alerts. Proxy variables are ignored (``trust_env=False``)
and redirects are never followed.

Each endpoint is its own queue: its rows go out one at a time, oldest first, and after a
transient failure (timeout, 5xx, 429, connection refused) the endpoint is held until its
retry time, so a receiver that is down costs one attempt per backoff step — never a delay
for the other endpoints, whose queues run beside it. A global semaphore bounds the requests
in flight. Nothing a receiver does raises out of here: every attempt ends as an outbox state
(see :mod:`alerts.policy` for what each answer means).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

import aiohttp

from alerts.credentials import find_credential, parse_secret, read_credential
from alerts.errors import WebhookSecretError
from alerts.outbox import Outbox, OutboxRow
from alerts.policy import Verdict, backoff, judge_exception, judge_status
from alerts.settings import AlertSettings, Endpoint, url_problem
from alerts.signing import webhook_headers
from matchers.store import is_storage_full

__all__ = ["AttemptResult", "Deliverer", "DeliveryCounts", "Target", "resolve_target"]

log = logging.getLogger(__name__)

LEASE_GRACE = 2.0  # seconds past the request timeout before a claimed row is due again
_BATCH = 50

Result = Literal["delivered", "retrying", "dead", "disabled", "skipped"]


@dataclass
class DeliveryCounts:
    """What a delivery round did (rows, not alerts)."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    disabled: int = 0

    def add(self, result: AttemptResult) -> None:
        if result.outcome == "skipped":
            return
        self.attempted += 1
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)


@dataclass(frozen=True)
class AttemptResult:
    """One attempt: which alert to which endpoint, how it ended and why."""

    endpoint: str
    webhook_id: str
    outcome: Result
    status: int | None = None
    error: str = ""
    seconds: float = 0.0
    next_attempt: float | None = None


@dataclass(frozen=True)
class Target:
    """An endpoint with its URL and secret read from their files."""

    endpoint: Endpoint
    url: str = field(repr=False)
    secret: bytes | None = field(repr=False)

    @property
    def name(self) -> str:
        return self.endpoint.name

    @property
    def url_digest(self) -> str:
        """Names the URL in the database without storing it (it may carry a token)."""
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]


def resolve_target(endpoint: Endpoint, base_dir: Path | None = None) -> Target:
    """Read ``endpoint``'s secret (and URL file), checking both.

    :raises WebhookSecretError: a file is missing, readable by others or malformed, or the
        URL in a ``url_file`` is unusable. The message names the endpoint and the file.
    """
    name = endpoint.name
    try:
        secret = None
        if endpoint.secret_file:
            path = find_credential(endpoint.secret_file, base_dir)
            what = f"endpoint {name!r}: secret file"
            secret = parse_secret(read_credential(path, what), f"{what} {path}")
        url = endpoint.url
        if endpoint.url_file:
            path = find_credential(endpoint.url_file, base_dir)
            url = read_credential(path, f"endpoint {name!r}: URL file")
            problem = url_problem(url, trusted=endpoint.trusted)
            if problem:
                raise WebhookSecretError(f"endpoint {name!r}: URL file {path}: {problem}")
    except WebhookSecretError as exc:
        text = str(exc)
        raise WebhookSecretError(text if text.startswith("endpoint ")
                                 else f"endpoint {name!r}: {text}") from None
    return Target(endpoint, url, secret)


def _user_agent() -> str:
    try:
        version = metadata.version("cohortwatch")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"cohortwatch/{version} (Standard Webhooks)"


class Deliverer:
    """Delivers the outbox's pending rows to the configured endpoints.

    Build it once per configuration (it reads every endpoint's secret now, so a missing
    secret fails at start-up, not at the first alert); use it as an async context manager
    or call :meth:`aclose`. ``clock`` and ``rng`` are for tests.

    :raises WebhookSecretError: an endpoint's secret or URL file is unusable.
    """

    def __init__(self, outbox: Outbox, settings: AlertSettings, *,
                 clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None,
                 on_attempt: Callable[[AttemptResult], None] | None = None) -> None:
        self.outbox = outbox
        # Told of every attempt's result (the daemon's /metrics counts them).
        self.on_attempt = on_attempt
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.targets = {e.name: resolve_target(e, settings.base_dir)
                        for e in settings.endpoints}
        self.totals = DeliveryCounts()
        self._hold: dict[str, float] = {}  # endpoint → no attempt before (after a failure)
        self._failures: dict[str, int] = {}  # endpoint → transient failures in a row
        self._wake = {name: asyncio.Event() for name in self.targets}
        self._sem = asyncio.Semaphore(settings.concurrency)
        self._session: aiohttp.ClientSession | None = None
        for name, info in outbox.disabled().items():
            target = self.targets.get(name)
            if target and info.get("url_digest") and info["url_digest"] != target.url_digest:
                rows = outbox.enable_endpoint(name)
                log.warning("endpoint URL changed since it answered 410: enabled again",
                            extra={"endpoint": name, "rows": rows})

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Deliverer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.concurrency),
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                headers={"User-Agent": _user_agent()},
                trust_env=False,
            )
        return self._session

    def wake(self) -> None:
        """Tell :meth:`run_forever` that alerts were enqueued (send them now, not at the
        next poll). Call from the event loop's thread."""
        for event in self._wake.values():
            event.set()

    def held_until(self, endpoint: str) -> float | None:
        """When a failing endpoint is tried again (None: it is not held)."""
        until = self._hold.get(endpoint)
        return until if until is not None and until > self.clock() else None

    # -- one attempt -----------------------------------------------------------------------

    async def _attempt(self, target: Target, row: OutboxRow, *,
                       final: bool = False) -> AttemptResult:
        async with self._sem:
            started = self.clock()
            if not self.outbox.claim(row.id, started,
                                     started + self.settings.timeout + LEASE_GRACE):
                return AttemptResult(target.name, row.webhook_id, "skipped")
            headers = webhook_headers(target.secret, row.webhook_id, int(started), row.body)
            headers["Content-Type"] = "application/json"
            try:
                async with self._client().post(target.url, data=row.body, headers=headers,
                                               allow_redirects=False) as resp:
                    verdict = judge_status(resp.status, resp.headers.get("Retry-After"),
                                           self.clock())
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                verdict = judge_exception(exc, self.settings.timeout)
            except asyncio.CancelledError:
                # Shutting down mid-request: due again at once, sent again with the same id.
                self.outbox.release(row.id, started)
                raise
        result = self._record(target, row, verdict, started, final=final)
        self.totals.add(result)
        if self.on_attempt is not None:
            self.on_attempt(result)
        return result

    def _record(self, target: Target, row: OutboxRow, verdict: Verdict, started: float, *,
                final: bool) -> AttemptResult:
        now = self.clock()
        s = self.settings
        name, attempts = target.name, row.attempts + 1
        fields = {"endpoint": name, "alert": row.webhook_id, "type": row.type,
                  "attempt": attempts, "status": verdict.status}
        took = round(now - started, 3)
        if verdict.outcome == "delivered":
            self.outbox.mark_delivered(row.id, now, verdict.status or 0)
            self._hold.pop(name, None)
            self._failures.pop(name, None)
            log.info("alert delivered", extra=fields)
            return AttemptResult(name, row.webhook_id, "delivered", verdict.status,
                                 seconds=took)
        if verdict.outcome == "gone":
            rows = self.outbox.disable_endpoint(name, verdict.error, target.url_digest)
            log.error("endpoint answered 410 Gone: disabled until `cohortwatch alerts enable "
                      f"{name}` or a new URL", extra={**fields, "rows": rows})
            return AttemptResult(name, row.webhook_id, "disabled", verdict.status,
                                 verdict.error, took)
        deadline = row.created + s.give_up_after
        delay = backoff(attempts, s, self.rng)
        if verdict.transient:
            # The receiver, not this alert, is failing: its whole queue backs off, growing
            # with failures in a row, so a thousand queued alerts do not each start anew.
            self._failures[name] = self._failures.get(name, 0) + 1
            delay = max(delay, backoff(self._failures[name], s, self.rng))
        if verdict.retry_after is not None:
            delay = max(delay, verdict.retry_after)
        why = None
        if final:
            why = f"{verdict.error} (a test alert is not retried)"
        elif verdict.outcome == "refused" and attempts >= s.refused_attempts:
            why = f"{verdict.error}, refused {attempts} times"
        elif now >= deadline or (verdict.retry_after is not None and now + delay > deadline):
            why = f"{verdict.error}; gave up after {attempts} attempts over " \
                  f"{(now - row.created) / 3600:.1f} h"
        if why is not None:
            self.outbox.mark_dead(row.id, why, verdict.status)
            # A failed test alert is the caller's answer, not an incident to page about.
            log.log(logging.INFO if final else logging.ERROR, "alert dead: not delivered",
                    extra={**fields, "error": why})
            return AttemptResult(name, row.webhook_id, "dead", verdict.status, why, took)
        next_at = min(now + delay, deadline)
        self.outbox.mark_retry(row.id, next_at, verdict.error, verdict.status)
        if verdict.transient:
            self._hold[name] = max(self._hold.get(name, 0.0), next_at)
        log.warning("alert not delivered; will retry",
                    extra={**fields, "error": verdict.error, "retry_in": round(next_at - now, 1)})
        return AttemptResult(name, row.webhook_id, "retrying", verdict.status, verdict.error,
                             took, next_at)

    # -- rounds ----------------------------------------------------------------------------

    async def _drain(self, target: Target, counts: DeliveryCounts,
                     stop: asyncio.Event | None = None) -> None:
        """Send ``target``'s due rows, oldest first, until none is due or it is held."""
        while not (stop and stop.is_set()):
            rows = self.outbox.due(self.clock(), endpoint=target.name, limit=_BATCH)
            if not rows:
                return
            for row in rows:
                if self.held_until(target.name) is not None or (stop and stop.is_set()):
                    return
                counts.add(await self._attempt(target, row))

    async def deliver_due(self) -> DeliveryCounts:
        """One round: every endpoint sends what is due now (side by side), until nothing
        due is left or the endpoint fails and is held. Returns what was done."""
        counts = DeliveryCounts()
        self.outbox.expire_unconfigured(self.targets, self.clock() - self.settings.give_up_after)
        await asyncio.gather(*(self._drain(t, counts) for t in self.targets.values()))
        return counts

    async def deliver_alert(self, webhook_id: str, *, retry: bool = True) -> list[AttemptResult]:
        """Attempt one alert now at every endpoint that has it pending (``cohortwatch
        alerts test``). With ``retry=False`` a failure is final (the row is dead)."""
        rows = {r.endpoint: r for r in self.outbox.rows(webhook_id=webhook_id)}
        results: list[AttemptResult] = []

        async def one(target: Target, row: OutboxRow) -> None:
            if row.status != "pending":
                results.append(AttemptResult(target.name, webhook_id, "disabled"
                                             if row.status == "disabled" else "skipped",
                                             error=row.last_error or row.status))
                return
            results.append(await self._attempt(target, row, final=not retry))

        await asyncio.gather(*(one(t, rows[n]) for n, t in self.targets.items() if n in rows))
        return sorted(results, key=lambda r: r.endpoint)

    def next_attempt_at(self, endpoint: str) -> float | None:
        """When ``endpoint`` next sends something (its earliest pending row, or the end of
        its hold after a failure), or None when nothing is pending for it."""
        due = self.outbox.next_due(endpoint)
        if due is None:
            return None
        return max(due, self.held_until(endpoint) or 0.0)

    def next_wake(self, endpoint: str) -> float:
        """Seconds until ``endpoint`` has something due (at most the poll interval)."""
        now = self.clock()
        when = self.next_attempt_at(endpoint)
        limit = now + self.settings.poll_interval
        return max(0.0, min(limit, when if when is not None else limit) - now)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: one task per endpoint, each sending its due rows
        and then sleeping until its next row is due, :meth:`wake` is called or the poll
        interval has passed. An attempt in flight when ``stop`` is set is finished and
        recorded (at most the request timeout); unexpected errors (a locked database) are
        logged and retried, never raised: alerting must not take the daemon down."""
        try:
            async with asyncio.TaskGroup() as group:
                for target in self.targets.values():
                    group.create_task(self._endpoint_loop(target, stop))
                group.create_task(self._housekeeping(stop))
        finally:
            await self.aclose()

    async def _endpoint_loop(self, target: Target, stop: asyncio.Event) -> None:
        wake = self._wake[target.name]
        while not stop.is_set():
            wake.clear()
            try:
                await self._drain(target, DeliveryCounts(), stop)
                pause = self.next_wake(target.name)
            except Exception as exc:
                if is_storage_full(exc):
                    # The outbox cannot record attempts: sending now would send alerts
                    # again whose delivery it could not note.
                    log.error("alert delivery paused: no space left on the disk of the "
                              "state database; undelivered alerts stay in the outbox",
                              extra={"endpoint": target.name})
                else:
                    log.exception("alert delivery round failed; retrying",
                                  extra={"endpoint": target.name})
                pause = self.settings.poll_interval
            await _wait_any((stop, wake), pause)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.outbox.expire_unconfigured(
                    self.targets, self.clock() - self.settings.give_up_after)
            except Exception:
                log.exception("outbox housekeeping failed; retrying")
            await _wait_any((stop,), 600.0)


async def _wait_any(events: tuple[asyncio.Event, ...], timeout: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        for w in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await w
