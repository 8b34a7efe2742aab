"""What an answer means and when to try again: the retry policy, free of I/O.

* 2xx — delivered.
* 410 Gone — the receiver says it is gone for good: the endpoint is disabled (its pending
  alerts kept as ``disabled``) until the operator re-enables it or changes its URL.
* 408, 425, 429 and 5xx, timeouts, refused or reset connections, TLS failures — transient:
  retried with exponential backoff and jitter, never sooner than a ``Retry-After`` asks
  (seconds or an HTTP date), until the alert is ``give_up_after`` old; then dead.
* 3xx and every other 4xx — refused: redirects are not followed (the Standard Webhooks
  spec counts them as failures, and following one would send a signed body somewhere the
  operator did not configure); a 400/401/403/404/413 is usually a misconfigured or
  redeployed receiver that an operator fixes within hours, so it is retried like a
  transient failure, but only ``refused_attempts`` times before the alert is dead.
"""

from __future__ import annotations

import math
import random
import ssl
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Literal

import aiohttp

from alerts.settings import AlertSettings

__all__ = ["Verdict", "backoff", "judge_exception", "judge_status", "parse_retry_after"]

Outcome = Literal["delivered", "retry", "refused", "gone"]
_TRANSIENT = {408, 425, 429}


@dataclass(frozen=True)
class Verdict:
    """The meaning of one attempt's result."""

    outcome: Outcome
    error: str = ""
    status: int | None = None
    retry_after: float | None = None  # seconds, from the receiver's Retry-After
    transient: bool = True  # the receiver (not this alert) is the problem: hold its queue


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None
    when absent or unreadable. A date in the past means zero."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def judge_status(status: int, retry_after: str | None, now: float) -> Verdict:
    """The verdict for an HTTP status (and its ``Retry-After`` header)."""
    if 200 <= status < 300:
        return Verdict("delivered", status=status)
    wait = parse_retry_after(retry_after, now)
    if status == 410:
        return Verdict("gone", "HTTP 410 Gone: endpoint disabled", status=status)
    if status in _TRANSIENT or status >= 500:
        return Verdict("retry", f"HTTP {status}", status=status, retry_after=wait)
    if 300 <= status < 400:
        return Verdict("refused", f"HTTP {status}: redirect not followed (fix the URL)",
                       status=status, retry_after=wait, transient=False)
    return Verdict("refused", f"HTTP {status}", status=status, retry_after=wait,
                   transient=False)


def judge_exception(exc: BaseException, timeout: float) -> Verdict:
    """The verdict for a request that got no HTTP answer. Always transient."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return Verdict("retry", f"timed out after {timeout:g} s")
    if isinstance(exc, ssl.SSLError | aiohttp.ClientSSLError):
        return Verdict("retry", "TLS failure")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Verdict("retry", f"cannot connect ({exc.os_error.strerror or 'refused'})")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Verdict("retry", "receiver closed the connection")
    return Verdict("retry", f"request failed ({type(exc).__name__})")


def backoff(attempts: int, settings: AlertSettings, rng: random.Random | None = None) -> float:
    """Delay before the next attempt after ``attempts`` failed ones: the step doubles from
    ``initial_backoff`` up to ``max_backoff``; the delay is drawn between half the step
    and the whole of it (receivers that come back are not hit by every retry at once)."""
    exponent = min(max(attempts - 1, 0), 62)
    step = min(settings.max_backoff, settings.initial_backoff * math.pow(2, exponent))
    return step * (0.5 + 0.5 * (rng or random).random())
