"""Read-only questions to the state database that operations ask: site states, mirrors,
posts, events, datasets, cohorts, the alert outbox.

Shared by ``/metrics`` (:mod:`monitor.metrics`, at every scrape) and ``cohortwatch status``
(:mod:`monitor.status`) so the two never disagree. Every function takes a plain
:class:`sqlite3.Connection`, writes nothing, and answers for a table that does not exist
yet (a fresh state directory, a daemon that has not crawled, an alerts stage not deployed)
as if it were empty. Answers hold counts, times, states and configured names only — never
a victim name, a post text, a cohort ref or a file name.

The outbox tables belong to :mod:`alerts.outbox` (``alert_outbox``: one row per alert and
endpoint with its ``status``; ``alert_endpoints``: endpoints disabled by a 410 answer). They
are read here with plain SQL rather than through :class:`alerts.outbox.Outbox`, whose
constructor creates its tables — a scrape must never write. ``tests/test_metrics.py`` fills
them through ``Outbox`` itself, so a change of that schema fails a test here.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "METHODS",
    "OUTBOX",
    "OUTBOX_ENDPOINTS",
    "OutboxCounts",
    "cohorts",
    "dataset_counts",
    "event_counts",
    "iso_to_unix",
    "members_by_method",
    "mirror_counts",
    "outbox_counts",
    "post_counts",
    "site_rows",
    "table_names",
]

METHODS = ("bsn", "bsn_corrected", "name_dob")
OUTBOX = "alert_outbox"  # alerts.outbox: one row per alert and endpoint
OUTBOX_ENDPOINTS = "alert_endpoints"  # alerts.outbox: endpoints disabled by 410 Gone


def table_names(conn: sqlite3.Connection) -> set[str]:
    """Every table in the database."""
    return {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}


def iso_to_unix(text: str | None) -> float | None:
    """``2025-07-06T12:00:00+00:00`` → unix seconds; ``None`` for no or unreadable text."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def site_rows(conn: sqlite3.Connection, tables: set[str]) -> list[dict[str, Any]]:
    """``crawl_sites`` rows (state, failures, times, parser_broken, last_posts), by name."""
    if "crawl_sites" not in tables:
        return []
    cur = conn.execute("select * from crawl_sites order by name")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur]


def mirror_counts(conn: sqlite3.Connection, tables: set[str]) -> dict[str, dict[str, int]]:
    """Per site, how many of its mirrors are ``up``, ``down`` or ``unknown`` (by address
    history; addresses themselves are not returned: they may carry access tokens)."""
    out: dict[str, dict[str, int]] = {}
    if "crawl_mirrors" not in tables:
        return out
    for site, state, n in conn.execute(
            "select site, coalesce(state, 'unknown'), count(*) from crawl_mirrors "
            "group by 1, 2"):
        out.setdefault(site, {})[state] = n
    return out


def post_counts(conn: sqlite3.Connection, tables: set[str]) -> dict[str, dict[str, int]]:
    """Per site, posts currently ``listed`` and ``removed``."""
    out: dict[str, dict[str, int]] = {}
    if "posts" not in tables:
        return out
    for site, listed, n in conn.execute(
            "select site, removed_at is null, count(*) from posts group by 1, 2"):
        out.setdefault(site, {"listed": 0, "removed": 0})["listed" if listed else "removed"] = n
    return out


def event_counts(conn: sqlite3.Connection, tables: set[str]) -> dict[str, int]:
    """Events recorded, by type (``dataset.matched``, ``site.down``, …)."""
    if "events" not in tables:
        return {}
    return dict(conn.execute("select type, count(*) from events group by type order by type"))


def members_by_method(conn: sqlite3.Connection, tables: set[str]) -> dict[str, int]:
    """Cohort members reported in ``dataset.matched`` events, summed by method.

    Read from the events (deduplicated, so a re-posted dataset does not count twice). Only
    ``by_method`` is taken out, by SQLite: an event's data also lists every matched ref,
    megabytes for a large leak, which a scrape every 15 s should not parse in Python.
    ``json_valid`` first, so one damaged row cannot abort the query.
    """
    totals = dict.fromkeys(METHODS, 0)
    if "events" not in tables:
        return totals
    for (text,) in conn.execute(
            "select json_extract(data, '$.by_method') from events "
            "where type = 'dataset.matched' and json_valid(data)"):
        try:
            by_method = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            continue
        if not isinstance(by_method, dict):
            continue
        for method, n in by_method.items():
            if method in totals and isinstance(n, int):
                totals[method] += n
    return totals


def dataset_counts(conn: sqlite3.Connection, tables: set[str]) -> dict[str, int]:
    """Datasets scanned (crawled or checked by hand) and those with cohort members."""
    if "datasets" not in tables:
        return {"scanned": 0, "matched": 0}
    scanned, matched = conn.execute(
        "select count(*), coalesce(sum(members_matched > 0), 0) from datasets").fetchone()
    return {"scanned": int(scanned), "matched": int(matched)}


def cohorts(conn: sqlite3.Connection, tables: set[str]) -> list[dict[str, Any]]:
    """Enrolled cohorts: id, name, members, updated (read without the key)."""
    if "cohorts" not in tables:
        return []
    return [{"id": i, "name": name, "members": int(members or 0), "updated": updated}
            for i, name, members, updated in conn.execute(
                "select id, name, members, updated from cohorts order by name")]


@dataclass(frozen=True)
class OutboxCounts:
    """Alerts in the outbox by status (``pending``, ``delivered``, ``dead``, ``disabled``),
    overall and per endpoint, and the endpoints disabled by a 410 answer.

    ``depth`` is what waits for delivery (``pending``); ``dead`` gave up after every
    retry; ``disabled`` waits for an endpoint an operator has to re-enable.
    """

    by_status: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)
    disabled_endpoints: dict[str, str | None] = field(default_factory=dict)  # name → since
    oldest_pending: str | None = None  # ISO time the oldest pending alert was committed

    @property
    def depth(self) -> int:
        return self.by_status.get("pending", 0)

    @property
    def dead(self) -> int:
        return self.by_status.get("dead", 0)

    @property
    def disabled(self) -> int:
        return self.by_status.get("disabled", 0)


def outbox_counts(conn: sqlite3.Connection, tables: set[str]) -> OutboxCounts | None:
    """The outbox by status and endpoint, or ``None`` before the alerts stage made it."""
    if OUTBOX not in tables:
        return None
    by_status: Counter[str] = Counter()
    by_endpoint: dict[str, dict[str, int]] = {}
    for endpoint, status, n in conn.execute(
            f"select endpoint, status, count(*) from {OUTBOX} group by 1, 2"):  # noqa: S608
        by_status[str(status)] += n
        by_endpoint.setdefault(str(endpoint), {})[str(status)] = n
    (oldest,) = conn.execute(
        f"select min(created) from {OUTBOX} where status = 'pending'").fetchone()  # noqa: S608
    disabled: dict[str, str | None] = {}
    if OUTBOX_ENDPOINTS in tables:
        disabled = dict(conn.execute(
            f"select name, disabled_at from {OUTBOX_ENDPOINTS} "  # noqa: S608
            "where disabled_at is not null order by name"))
    return OutboxCounts(dict(by_status), by_endpoint, disabled, oldest)
