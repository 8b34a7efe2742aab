"""The state database: one SQLite file (WAL) holding cohorts and their keyed encodings.

Opened through sqlite-utils so that schema, upserts and inspection use one well-known tool.
The database never holds a raw personal value: member rows carry the holder's reference and
keyed encodings only (see docs/architecture.md, threat model).
"""

from __future__ import annotations

import errno
import random
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from matchers.errors import StateError, StateFullError
from matchers.history import ensure_history

__all__ = ["DB_NAME", "is_storage_full", "open_db"]

DB_NAME = "cohortwatch.db"
SCHEMA_VERSION = 1
OPEN_TIMEOUT = 30.0  # seconds another process may hold the database while we open it


def open_db(state_dir: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the state database in ``state_dir``.

    :raises StateError: the directory is missing or the file is not a usable database.
    """
    if not state_dir.is_dir():
        raise StateError(
            f"state directory {state_dir} does not exist: run `cohortwatch init` first "
            "(or pass --state-dir)"
        )
    path = state_dir / DB_NAME
    try:
        # The scan's matching thread reads a cohort's blocking keys lazily; SQLite's default
        # serialized mode makes sharing the connection safe.
        conn = sqlite3.connect(path, timeout=OPEN_TIMEOUT, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        _prepare(db)
    except sqlite3.DatabaseError as exc:
        raise StateError(
            f"state database {path} is not usable ({exc}); restore it from backup "
            "or move it aside and run `cohortwatch init`"
        ) from None
    path.chmod(0o600)
    return db


_RACES = ("database is locked", "already exists", "duplicate column")


def _prepare(db: sqlite_utils.Database) -> None:
    """WAL mode and the schema, retried while another process is doing the same.

    Two commands started together on a fresh state directory (a daemon and an operator's
    ``cohortwatch status``, say) both switch the file to WAL — which takes an exclusive
    lock that SQLite's busy timeout does not wait for — and both find a table missing that
    one of them then creates first. Either is a moment's wait, not an unusable database.
    """
    deadline = time.monotonic() + OPEN_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            _ensure_schema(db)
            return
        except sqlite3.OperationalError as exc:
            if not any(race in str(exc) for race in _RACES) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.05))  # noqa: S311 - spreading retries only


def _ensure_schema(db: sqlite_utils.Database) -> None:
    if "meta" not in db.table_names():
        db["meta"].create({"key": str, "value": str}, pk="key")
        db["meta"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)})
    if "cohorts" not in db.table_names():
        db["cohorts"].create(
            {
                "id": int,
                "name": str,
                "created": str,
                "updated": str,
                "key_check": str,
                "members": int,
            },
            pk="id",
            not_null={"name", "key_check"},
        )
        db["cohorts"].create_index(["name"], unique=True)
    if "generation" not in db["cohorts"].columns_dict:
        # Bumped by every enrollment: a daemon holding a cohort's index loaded knows
        # from it when to load the cohort again.
        db["cohorts"].add_column("generation", int, not_null_default=0)
    ensure_history(db)
    # cohort_members/cohort_blocks: the earlier layout of cohorts (Arrow parts), still read;
    # cohort_arrays: matchers.snapshot's layout, one blob per array and part.
    for name in ("cohort_members", "cohort_blocks"):
        if name not in db.table_names():
            db[name].create(
                {"cohort_id": int, "part": int, "rows": int, "data": bytes},
                pk=("cohort_id", "part"),
                foreign_keys=[("cohort_id", "cohorts", "id")],
            )
    if "cohort_arrays" not in db.table_names():
        db["cohort_arrays"].create(
            {"cohort_id": int, "name": str, "part": int, "rows": int, "data": bytes},
            pk=("cohort_id", "name", "part"),
            foreign_keys=[("cohort_id", "cohorts", "id")],
        )


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk or quota: SQLite's "database or
    disk is full", or ENOSPC/EDQUOT from a file write. A long-running process says so in
    plain words and tries again later instead of failing as if it had a bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StateFullError):
            return True
        if isinstance(current, sqlite3.Error) and (
                getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                or "database or disk is full" in str(current)):
            return True
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        current = current.__cause__ or current.__context__
    return False
