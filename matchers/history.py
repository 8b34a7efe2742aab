"""Dataset history: which datasets were scanned before, recognised by fingerprint only.

Lets a report say "seen before" so that a re-post is recognised as such — the same bytes
(SHA-256), a near-identical file (TLSH), or the same records in another form: re-exported
as SQL instead of CSV, columns reordered, a sample posted first and the full dump later
(the keyed record sketch of :mod:`matchers.fingerprint`, compared by Jaccard similarity
and containment). Only hashes, sketches of keyed record hashes, sizes, counts and times
are stored.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from matchers.fingerprint import RecordSketch, compare_sketches, tlsh_near_identical

__all__ = [
    "CONTAINED",
    "SAME_RECORDS",
    "dataset_row",
    "ensure_history",
    "list_datasets",
    "record_dataset",
    "seen_before",
]

SAME_RECORDS = 0.5  # Jaccard of record sets: "the same data, posted again"
CONTAINED = 0.8  # share of one dataset's records found in the other: "a part of it"
_MIN_SAMPLE = 20  # sketch values compared below which a containment is not claimed


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
                "sketch": bytes,
            },
            pk="id",
        )
        db["datasets"].create_index(["sha256"])
    elif "sketch" not in db["datasets"].columns_dict:
        db["datasets"].add_column("sketch", bytes)  # databases from before sketches


def _load_sketch(blob: bytes | None) -> RecordSketch | None:
    if not blob:
        return None
    try:
        return RecordSketch.from_bytes(blob)
    except ValueError:
        return None  # damaged: that dataset is compared by its hashes only


def seen_before(
    db: sqlite_utils.Database,
    sha256: str,
    *,
    file_tlsh: list[str] | None = None,
    sketch: RecordSketch | None = None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Earlier datasets this one resembles, oldest first, each with how.

    ``relation`` is ``identical`` (same bytes), ``same_records`` (record Jaccard >=
    ``SAME_RECORDS``), ``contained_in`` (this dataset's records are a part of that one),
    ``contains`` (that one — a sample, say — is a part of this one), or ``similar_file``
    (a file is near-identical by TLSH while the records do not say more). ``similarity``
    is the record Jaccard and ``containment`` the share of this dataset's records in that
    one (1.0 for identical bytes); ``sample`` is how many sketch values the estimate
    rests on (its error is about 1/sqrt(sample)).
    """
    found: list[dict[str, Any]] = []
    where, args = ("id < ?", [before]) if before is not None else (None, [])
    for row in db["datasets"].rows_where(where, args, order_by="id"):
        entry: dict[str, Any] = {
            "id": row["id"],
            "first_seen": row["first_seen"],
            "cohort": row["cohort"],
            "members_matched": row["members_matched"],
        }
        if row["sha256"] == sha256:
            found.append({**entry, "relation": "identical", "similarity": 1.0,
                          "containment": 1.0})
            continue
        other = _load_sketch(row.get("sketch"))
        relation = None
        if sketch is not None and other is not None and other.key_tag == sketch.key_tag:
            cmp = compare_sketches(sketch, other)
            if cmp.sample_union >= _MIN_SAMPLE or cmp.exact:
                sample = min(cmp.sample_a, cmp.sample_b)
                if cmp.jaccard >= SAME_RECORDS:
                    relation = "same_records"
                elif cmp.containment_a_in_b >= CONTAINED and cmp.sample_a >= _MIN_SAMPLE:
                    relation = "contained_in"
                elif cmp.containment_b_in_a >= CONTAINED and cmp.sample_b >= _MIN_SAMPLE:
                    relation = "contains"
                if relation:
                    found.append({**entry, "relation": relation,
                                  "similarity": round(cmp.jaccard, 4),
                                  "containment": round(cmp.containment_a_in_b, 4),
                                  "contained": round(cmp.containment_b_in_a, 4),
                                  "sample": sample})
                    continue
        theirs = json.loads(row["fingerprint"] or "{}").get("tlsh_files", [])
        if file_tlsh and any(
            tlsh_near_identical(a, b) for a in file_tlsh if a for b in theirs if b
        ):
            found.append({**entry, "relation": "similar_file"})
    return found


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
    sketch: RecordSketch | None = None,
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
                    "sketch": sketch.to_bytes() if sketch is not None else None,
                }
            )
            .last_pk
        )


def list_datasets(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every dataset scanned, oldest first, without sketches."""
    return [_public(r) for r in db["datasets"].rows_where(order_by="id")]


def dataset_row(db: sqlite_utils.Database, dataset_id: int) -> dict[str, Any] | None:
    """One dataset with the earlier ones it resembles (``seen_before``), or None."""
    try:
        row = db["datasets"].get(dataset_id)
    except (sqlite_utils.db.NotFoundError, sqlite3.Error):
        return None
    fingerprint = json.loads(row["fingerprint"] or "{}")
    out = _public(row)
    out["fingerprint"] = fingerprint
    out["seen_before"] = seen_before(
        db, row["sha256"], file_tlsh=fingerprint.get("tlsh_files"),
        sketch=_load_sketch(row.get("sketch")), before=dataset_id,
    )
    return out


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "first_seen", "sha256", "bytes", "records", "files",
                                "cohort", "members_matched")}
