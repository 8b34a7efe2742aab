"""Dataset history: which datasets were scanned before, by fingerprint, with no content.

Lets a report say "seen before" so that a re-post is recognised as such. Only hashes,
sizes, counts and times are stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

__all__ = ["ensure_history", "record_dataset", "seen_before"]


def ensure_history(db: sqlite_utils.Database) -> None:
    if "datasets" not in db.table_names():
        db["datasets"].create(
            {
                "id": int,
                "sha256": str,
                "bytes": int,
                "records": int,
                "files": int,
                "cohort": str,
                "members_matched": int,
                "fingerprint": str,
                "first_seen": str,
            },
            pk="id",
        )
        db["datasets"].create_index(["sha256"])


def seen_before(db: sqlite_utils.Database, sha256: str) -> list[dict[str, Any]]:
    """Earlier scans of a dataset with the same content hash, oldest first."""
    return [
        {
            "id": r["id"],
            "first_seen": r["first_seen"],
            "similarity": 1.0,
            "containment": 1.0,
            "cohort": r["cohort"],
            "members_matched": r["members_matched"],
        }
        for r in db["datasets"].rows_where("sha256 = ?", [sha256], order_by="id")
    ]


def record_dataset(
    db: sqlite_utils.Database,
    *,
    sha256: str,
    size: int,
    records: int,
    files: int,
    cohort: str,
    members_matched: int,
    fingerprint: dict[str, Any],
) -> int:
    """Store one scan; returns its dataset id."""
    with db.conn:
        return int(
            db["datasets"]
            .insert(
                {
                    "sha256": sha256,
                    "bytes": size,
                    "records": records,
                    "files": files,
                    "cohort": cohort,
                    "members_matched": members_matched,
                    "fingerprint": json.dumps(fingerprint, sort_keys=True),
                    "first_seen": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
            .last_pk
        )
