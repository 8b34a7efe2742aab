"""What an alert is: a type, a stable id, a time and a small JSON object of facts.

The id is the Standard Webhooks ``webhook-id``: receivers deduplicate on it, so it must be
the same for every attempt, across restarts and ``kill -9``. It is therefore derived from
something durable — the crawler's event ``dedupe`` key (``dataset.matched:<sha256>:<cohort>``
and the like, unique in the ``events`` table) — and never from a counter or a clock. It is
hashed so that receivers see an opaque token rather than our internal keys.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.errors import InvalidAlertError

__all__ = [
    "EVENT_TYPES",
    "Alert",
    "alert_from_event",
    "alert_id",
    "selftest_alert",
]

EVENT_TYPES: tuple[str, ...] = (
    "post.watchlist_matched",
    "post.reappeared",
    "dataset.matched",
    "dataset.reposted",
    "site.down",
    "site.up",
    "parser.broken",
    "tor.unhealthy",
    "selftest.ping",
)

# Printable ASCII without whitespace: the id goes into an HTTP header and the signed text.
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


@dataclass(frozen=True)
class Alert:
    """One thing an operator should hear about.

    ``data`` holds counts, fingerprints, names the operator configured and leak-site facts
    (site, post); it never holds a raw personal value. Cohort refs (``data["refs"]``) are
    only rendered for trusted generic endpoints (:mod:`alerts.payloads`).

    :raises InvalidAlertError: unknown ``type``, naive ``timestamp`` or malformed ``id``.
    """

    type: str
    id: str
    timestamp: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise InvalidAlertError(f"unknown alert type {self.type!r} "
                                    f"(known: {', '.join(EVENT_TYPES)})")
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise InvalidAlertError("an alert's timestamp must be timezone-aware")
        if not _ID.fullmatch(self.id):
            raise InvalidAlertError(f"alert id {self.id!r} must be 1-200 characters of "
                                    "letters, digits and _ . : -")


def alert_id(key: str) -> str:
    """The ``webhook-id`` for a durable key: ``msg_`` and 32 hex digits of its SHA-256.

    The same key gives the same id on every machine and after every restart; different
    keys collide with probability ~2^-128.
    """
    digest = hashlib.sha256(b"cohortwatch.alert\x00" + key.encode("utf-8")).hexdigest()
    return f"msg_{digest[:32]}"


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidAlertError(f"event time {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def alert_from_event(event: Mapping[str, Any]) -> Alert:
    """The alert for one row of the crawler's ``events`` table (or a dict shaped like it).

    Uses ``type``, ``at`` (ISO 8601; UTC when naive), ``dedupe`` (the id is derived from it)
    and ``data`` (a dict, or the JSON text stored in the table).

    :raises InvalidAlertError: unknown type, unreadable time, or ``data`` not a JSON object.
    """
    data = event.get("data") or {}
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            raise InvalidAlertError("event data is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidAlertError("event data must be a JSON object")
    key = event.get("dedupe") or f"event:{event.get('id')}"
    return Alert(type=str(event["type"]), id=alert_id(str(key)),
                 timestamp=_parse_time(event["at"]).astimezone(UTC), data=data)


def selftest_alert(now: datetime | None = None) -> Alert:
    """A ``selftest.ping`` with a fresh random id (each ``alerts test`` is its own event)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return Alert(type="selftest.ping", id=f"msg_selftest_{secrets.token_hex(12)}",
                 timestamp=moment, data={"message": "cohortwatch test alert"})
