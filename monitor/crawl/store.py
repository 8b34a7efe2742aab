"""What the crawler remembers, in the state database next to the cohorts.

- ``crawl_sites``: per site its state (``up``/``down``/``unknown``), consecutive failed
  cycles, last success, when it is next due, whether its baseline crawl is done, and
  whether its parser is currently reported broken.
- ``crawl_mirrors``: per onion address its own up/down history.
- ``posts``: every post ever seen with first-seen, last-seen, removed and re-appeared
  times, its folded identity key and watchlist match.
- ``post_files``: the files a post links to, and what became of each download (size,
  SHA-256, the dataset it was matched as, or why it failed).
- ``events``: what happened, for alerting (issue 5 delivers them). ``dedupe`` is unique,
  so the same post or dataset never produces the same event twice, across restarts too.

Leak-site text (victim names, titles, descriptions) is about organisations, not people;
descriptions are still capped, and nothing from a posted *file* is stored here — only its
fingerprint and match counts, through :mod:`matchers.history`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

__all__ = ["CrawlStore", "utcnow"]

_DESCRIPTION_MAX = 4000


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="seconds") if when else None


class CrawlStore:
    """Typed access to the crawler's tables; every write is its own short transaction so
    a crash (or ``kill -9``) leaves the database consistent."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._in_tx = False
        self._ensure_schema()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one transaction (a listing of 60 posts is one commit, not
        180); writes outside it commit one by one. Not for use across an ``await``."""
        if self._in_tx:
            yield
            return
        self._in_tx = True
        try:
            with self.db.conn:
                yield
        finally:
            self._in_tx = False

    def _ensure_schema(self) -> None:
        db = self.db
        tables = set(db.table_names())
        with self.transaction():
            if "crawl_sites" not in tables:
                db["crawl_sites"].create({
                    "name": str, "state": str, "failures": int, "first_crawl": str,
                    "last_attempt": str, "last_success": str, "last_error": str,
                    "next_due": str, "last_posts": int, "baseline_done": int,
                    "parser_broken": int,
                }, pk="name", defaults={"state": "unknown", "failures": 0, "last_posts": 0,
                                        "baseline_done": 0, "parser_broken": 0})
            if "crawl_mirrors" not in tables:
                db["crawl_mirrors"].create({
                    "site": str, "url": str, "state": str, "failures": int,
                    "last_attempt": str, "last_success": str, "last_error": str,
                }, pk=("site", "url"), defaults={"state": "unknown", "failures": 0})
            if "posts" not in tables:
                db["posts"].create({
                    "id": int, "site": str, "key": str, "url_key": str, "url": str,
                    "victim": str, "title": str, "description": str, "published": str,
                    "deadline": str, "truncated": int, "first_seen": str, "last_seen": str,
                    "removed_at": str, "reappeared_at": str, "reappearances": int,
                    "baseline": int, "watch_entry": str, "watch_score": float,
                    "watch_field": str,
                }, pk="id", defaults={"reappearances": 0, "baseline": 0, "truncated": 0})
                db["posts"].create_index(["site"])
            if "post_files" not in tables:
                db["post_files"].create({
                    "id": int, "post_id": int, "url": str, "status": str, "bytes": int,
                    "sha256": str, "dataset_id": int, "members_matched": int,
                    "error": str, "attempts": int, "updated": str,
                }, pk="id", foreign_keys=[("post_id", "posts", "id")],
                    defaults={"status": "pending", "attempts": 0})
                db["post_files"].create_index(["post_id", "url"], unique=True)
            if "events" not in tables:
                db["events"].create({
                    "id": int, "type": str, "at": str, "site": str, "post_id": int,
                    "dataset_id": int, "dedupe": str, "data": str,
                }, pk="id")
                db["events"].create_index(["dedupe"], unique=True)

    # -- sites and mirrors -------------------------------------------------------------

    def site(self, name: str) -> dict[str, Any]:
        try:
            return dict(self.db["crawl_sites"].get(name))
        except sqlite_utils.db.NotFoundError:
            return {"name": name, "state": "unknown", "failures": 0, "last_posts": 0,
                    "baseline_done": 0, "parser_broken": 0, "next_due": None,
                    "last_success": None, "first_crawl": None}

    def update_site(self, name: str, **values: Any) -> None:
        with self.transaction():
            self.db["crawl_sites"].upsert({"name": name, **values}, pk="name")

    def mirrors(self, site: str) -> dict[str, dict[str, Any]]:
        return {r["url"]: r for r in self.db["crawl_mirrors"].rows_where("site = ?", [site])}

    def mirror_result(self, site: str, url: str, *, ok: bool, when: datetime,
                      error: str | None = None) -> None:
        old = self.mirrors(site).get(url, {})
        row: dict[str, Any] = {"site": site, "url": url, "last_attempt": _iso(when)}
        if ok:
            row.update(state="up", failures=0, last_success=_iso(when), last_error=None)
        else:
            failures = int(old.get("failures") or 0) + 1
            row.update(state="down", failures=failures, last_error=(error or "")[:300])
        with self.transaction():
            self.db["crawl_mirrors"].upsert(row, pk=("site", "url"))

    # -- posts -------------------------------------------------------------------------

    def posts(self, site: str) -> list[dict[str, Any]]:
        return list(self.db["posts"].rows_where("site = ?", [site], order_by="id"))

    def post(self, post_id: int) -> dict[str, Any]:
        return dict(self.db["posts"].get(post_id))

    def insert_post(self, row: dict[str, Any]) -> int:
        row = {**row, "description": (row.get("description") or "")[:_DESCRIPTION_MAX]}
        with self.transaction():
            return int(self.db["posts"].insert(row).last_pk)

    def update_post(self, post_id: int, **values: Any) -> None:
        if values.get("description"):
            values["description"] = values["description"][:_DESCRIPTION_MAX]
        with self.transaction():
            self.db["posts"].update(post_id, values)

    def mark_removed(self, post_ids: list[int], when: datetime) -> None:
        with self.transaction():
            for pid in post_ids:
                self.db["posts"].update(pid, {"removed_at": _iso(when)})

    # -- files ---------------------------------------------------------------------------

    def add_files(self, post_id: int, urls: list[str]) -> None:
        with self.transaction():
            for url in urls:
                self.db["post_files"].insert(
                    {"post_id": post_id, "url": url, "status": "pending", "attempts": 0},
                    ignore=True)

    def pending_files(self, post_id: int, max_attempts: int) -> list[dict[str, Any]]:
        return list(self.db["post_files"].rows_where(
            "post_id = ? and status in ('pending', 'failed') and attempts < ?",
            [post_id, max_attempts], order_by="id"))

    def files(self, post_id: int) -> list[dict[str, Any]]:
        return list(self.db["post_files"].rows_where("post_id = ?", [post_id], order_by="id"))

    def update_file(self, file_id: int, when: datetime, **values: Any) -> None:
        with self.transaction():
            self.db["post_files"].update(file_id, {**values, "updated": _iso(when)})

    # -- events --------------------------------------------------------------------------

    def add_event(self, type_: str, when: datetime, *, dedupe: str, site: str | None = None,
                  post_id: int | None = None, dataset_id: int | None = None,
                  data: dict[str, Any] | None = None) -> int | None:
        """Record an event once: returns its id, or ``None`` when ``dedupe`` was seen."""
        try:
            with self.transaction():
                cur = self.db.conn.execute(
                    "insert into events (type, at, site, post_id, dataset_id, dedupe, data) "
                    "values (?, ?, ?, ?, ?, ?, ?)",
                    (type_, _iso(when), site, post_id, dataset_id, dedupe,
                     json.dumps(data or {}, sort_keys=True)))
                return int(cur.lastrowid or 0)
        except sqlite3.IntegrityError:
            return None

    def events(self, *, since_id: int = 0, type_: str | None = None) -> list[dict[str, Any]]:
        where, args = "id > ?", [since_id]
        if type_:
            where += " and type = ?"
            args.append(type_)
        rows = list(self.db["events"].rows_where(where, args, order_by="id"))
        for r in rows:
            r["data"] = json.loads(r["data"] or "{}")
        return rows
