"""The durable outbox: alerts committed to SQLite before anything is sent.

One row per alert and endpoint (``alert_outbox``), holding the exact body to send. Rows are
``pending`` until an attempt succeeds (``delivered``), the alert is given up (``dead``) or
the endpoint answered 410 Gone (``disabled``, per endpoint in ``alert_endpoints``).

Why it survives ``kill -9``: every change is one short transaction, and the order is
enqueue → *claim* (attempts + 1, next attempt pushed past the request timeout: a lease) →
send → record the outcome. A process killed mid-request leaves a pending row whose lease
runs out, so the alert is sent again with the same ``webhook-id`` (receivers deduplicate on
it); a row recorded as delivered is never sent again. Enqueueing is idempotent on
(``webhook_id``, ``endpoint``) — a unique index — so a crash between enqueueing and the
caller's own bookkeeping cannot make a second alert. Claims are compare-and-set, so two
processes (the daemon and ``cohortwatch alerts flush``) never send one row at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from alerts.model import Alert
from alerts.payloads import render
from alerts.settings import Endpoint

__all__ = ["STATUSES", "Outbox", "OutboxRow"]

STATUSES = ("pending", "delivered", "dead", "disabled")
_TABLE = "alert_outbox"
_ENDPOINTS = "alert_endpoints"


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _ts(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


@dataclass(frozen=True)
class OutboxRow:
    """One alert for one endpoint, as stored. Times are POSIX seconds."""

    id: int
    webhook_id: str
    endpoint: str
    type: str
    body: bytes
    status: str
    attempts: int
    created: float
    next_attempt: float | None
    last_attempt: float | None
    last_status: int | None
    last_error: str | None
    delivered_at: float | None

    @classmethod
    def from_db(cls, row: dict[str, Any]) -> OutboxRow:
        body = row["body"]
        return cls(
            id=int(row["id"]), webhook_id=row["webhook_id"], endpoint=row["endpoint"],
            type=row["type"], body=body.encode("utf-8") if isinstance(body, str) else body,
            status=row["status"], attempts=int(row["attempts"] or 0),
            created=_ts(row["created"]) or 0.0, next_attempt=_ts(row["next_attempt"]),
            last_attempt=_ts(row["last_attempt"]), last_status=row["last_status"],
            last_error=row["last_error"], delivered_at=_ts(row["delivered_at"]))

    def public(self) -> dict[str, Any]:
        """The row for ``cohortwatch alerts list --json`` (no body: it may hold refs)."""
        return {"id": self.id, "webhook_id": self.webhook_id, "type": self.type,
                "endpoint": self.endpoint, "status": self.status, "attempts": self.attempts,
                "created": _iso(self.created),
                "next_attempt": _iso(self.next_attempt) if self.status == "pending" else None,
                "last_attempt": _iso(self.last_attempt), "last_status": self.last_status,
                "last_error": self.last_error, "delivered_at": _iso(self.delivered_at)}


class Outbox:
    """Typed access to the outbox tables of the state database.

    ``db`` is the state database (:func:`matchers.store.open_db`); the tables are created
    on first use. Use it from one thread (the event loop's); every method is quick.
    """

    def __init__(self, db: sqlite_utils.Database,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        # IF NOT EXISTS: the daemon and a CLI command may create them at the same moment.
        with self.db.conn:
            self.db[_TABLE].create({
                "id": int, "webhook_id": str, "endpoint": str, "type": str,
                "alert_at": str, "body": str, "status": str, "attempts": int,
                "next_attempt": str, "last_attempt": str, "last_status": int,
                "last_error": str, "created": str, "delivered_at": str,
            }, pk="id", not_null={"webhook_id", "endpoint", "type", "body", "status"},
                defaults={"status": "pending", "attempts": 0}, if_not_exists=True)
            self.db[_TABLE].create_index(["webhook_id", "endpoint"], unique=True,
                                         if_not_exists=True)
            self.db[_TABLE].create_index(["status", "endpoint", "next_attempt"],
                                         if_not_exists=True)
            self.db[_ENDPOINTS].create({"name": str, "disabled_at": str, "reason": str,
                                        "url_digest": str}, pk="name", if_not_exists=True)

    # -- enqueueing ------------------------------------------------------------------------

    def enqueue(self, alert: Alert, endpoints: Iterable[Endpoint]) -> int:
        """Commit ``alert`` for every endpoint that wants its type; returns rows added.

        Idempotent: an (alert id, endpoint) pair already in the outbox — in any state — is
        left alone, so calling this again after a crash or a restart sends nothing twice.
        An alert for a disabled endpoint is stored as ``disabled``.

        :raises InvalidAlertError: the alert's data cannot be rendered as JSON.
        """
        now = _iso(self.clock())
        disabled = self.disabled()
        rows = [{
            "webhook_id": alert.id, "endpoint": e.name, "type": alert.type,
            "alert_at": alert.timestamp.astimezone(UTC).isoformat(timespec="seconds"),
            "body": render(alert, e).decode("utf-8"),
            "status": "disabled" if e.name in disabled else "pending",
            "attempts": 0, "next_attempt": now, "created": now,
        } for e in endpoints if e.wants(alert.type)]
        added = 0
        with self.db.conn:
            for row in rows:
                cur = self.db.conn.execute(
                    f"insert or ignore into {_TABLE} ({', '.join(row)}) "  # noqa: S608
                    f"values ({', '.join('?' * len(row))})", list(row.values()))
                added += cur.rowcount
        return added

    # -- what to send ----------------------------------------------------------------------

    def due(self, now: float, *, endpoint: str | None = None,
            limit: int = 100) -> list[OutboxRow]:
        """Pending rows whose next attempt has come, oldest first."""
        where, args = "status = 'pending' and next_attempt <= ?", [_iso(now)]
        if endpoint is not None:
            where += " and endpoint = ?"
            args.append(endpoint)
        return [OutboxRow.from_db(r) for r in self.db[_TABLE].rows_where(
            where, args, order_by="next_attempt, id", limit=limit)]

    def next_due(self, endpoint: str | None = None) -> float | None:
        """When the earliest pending row (of ``endpoint``) comes due, or None."""
        sql = f"select min(next_attempt) from {_TABLE} where status = 'pending'"  # noqa: S608
        args: list[Any] = []
        if endpoint is not None:
            sql += " and endpoint = ?"
            args.append(endpoint)
        (value,) = self.db.conn.execute(sql, args).fetchone()
        return _ts(value)

    def claim(self, row_id: int, now: float, lease_until: float) -> bool:
        """Start an attempt: count it and push the row's next attempt to ``lease_until``.

        Returns False when the row is no longer pending and due (another process took it).
        """
        with self.db.conn:
            cur = self.db.conn.execute(
                f"update {_TABLE} set attempts = attempts + 1, last_attempt = ?, "  # noqa: S608
                "next_attempt = ? where id = ? and status = 'pending' and next_attempt <= ?",
                (_iso(now), _iso(lease_until), row_id, _iso(now)))
            return cur.rowcount == 1

    def _set(self, row_id: int, **values: Any) -> None:
        with self.db.conn:
            self.db[_TABLE].update(row_id, values)

    def mark_delivered(self, row_id: int, now: float, status: int) -> None:
        self._set(row_id, status="delivered", delivered_at=_iso(now), last_status=status,
                  last_error=None, next_attempt=None)

    def mark_retry(self, row_id: int, next_attempt: float, error: str,
                   status: int | None = None) -> None:
        self._set(row_id, next_attempt=_iso(next_attempt), last_error=error[:300],
                  last_status=status)

    def mark_dead(self, row_id: int, error: str, status: int | None = None) -> None:
        self._set(row_id, status="dead", next_attempt=None, last_error=error[:300],
                  last_status=status)

    def release(self, row_id: int, next_attempt: float) -> None:
        """Give back a claimed row without an outcome (shutting down before it was sent)."""
        with self.db.conn:
            self.db.conn.execute(
                f"update {_TABLE} set attempts = max(attempts - 1, 0), "  # noqa: S608
                "next_attempt = ? where id = ? and status = 'pending'",
                (_iso(next_attempt), row_id))

    # -- endpoints -------------------------------------------------------------------------

    def disabled(self) -> dict[str, dict[str, Any]]:
        """Endpoints disabled by a 410 answer: name → disabled_at, reason, url_digest."""
        return {r["name"]: r for r in self.db[_ENDPOINTS].rows_where("disabled_at is not null")}

    def disable_endpoint(self, name: str, reason: str, url_digest: str | None = None) -> int:
        """Stop sending to ``name``: its pending rows become ``disabled``; returns how many."""
        with self.db.conn:
            self.db[_ENDPOINTS].upsert({"name": name, "disabled_at": _iso(self.clock()),
                                        "reason": reason[:300], "url_digest": url_digest},
                                       pk="name")
            cur = self.db.conn.execute(
                f"update {_TABLE} set status = 'disabled', next_attempt = null "  # noqa: S608
                "where endpoint = ? and status = 'pending'", (name,))
            return cur.rowcount

    def enable_endpoint(self, name: str) -> int:
        """Send to ``name`` again: its disabled rows become pending, due now; returns how
        many (rows past the give-up age go dead at their next attempt)."""
        with self.db.conn:
            self.db.conn.execute(f"delete from {_ENDPOINTS} where name = ?", (name,))  # noqa: S608
            cur = self.db.conn.execute(
                f"update {_TABLE} set status = 'pending', next_attempt = ? "  # noqa: S608
                "where endpoint = ? and status = 'disabled'", (_iso(self.clock()), name))
            return cur.rowcount

    def expire_unconfigured(self, configured: Iterable[str], created_before: float) -> int:
        """Rows for endpoints no longer in the configuration are kept (a renamed endpoint
        may come back) until they reach the give-up age; then they are dead."""
        names = list(configured)
        marks = ", ".join("?" * len(names)) or "''"
        with self.db.conn:
            cur = self.db.conn.execute(
                f"update {_TABLE} set status = 'dead', next_attempt = null, "  # noqa: S608
                "last_error = 'endpoint no longer configured' where status = 'pending' "
                f"and endpoint not in ({marks}) and created < ?",
                [*names, _iso(created_before)])
            return cur.rowcount

    # -- reading ---------------------------------------------------------------------------

    def depth(self, endpoint: str | None = None) -> int:
        """Alerts waiting to be delivered (``pending`` rows): the metrics' outbox depth."""
        where, args = "status = 'pending'", []
        if endpoint is not None:
            where += " and endpoint = ?"
            args.append(endpoint)
        return int(self.db[_TABLE].count_where(where, args))

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per endpoint and status, e.g. ``{"ops": {"delivered": 10, "pending": 1}}``."""
        out: dict[str, dict[str, int]] = {}
        for endpoint, status, n in self.db.conn.execute(
                f"select endpoint, status, count(*) from {_TABLE} "  # noqa: S608
                "group by endpoint, status"):
            out.setdefault(endpoint, {})[status] = n
        return out

    def rows(self, *, status: str | None = None, webhook_id: str | None = None,
             limit: int | None = None) -> list[OutboxRow]:
        """Rows, newest first, optionally of one status or one alert."""
        clauses, args = [], []
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        if webhook_id is not None:
            clauses.append("webhook_id = ?")
            args.append(webhook_id)
        found = self.db[_TABLE].rows_where(" and ".join(clauses) or None, args,
                                           order_by="id desc", limit=limit)
        return [OutboxRow.from_db(r) for r in found]
