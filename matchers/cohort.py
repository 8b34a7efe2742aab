"""Cohorts: enroll from the holder's member file, list, remove, load for matching.

Enrollment reads the file in batches, encodes each row with the secret key and upserts
``(cohort, ref)`` rows — so running the same enrollment twice changes nothing — then packs
the cohort into an Arrow snapshot that scans load in one read. Counts tell the operator what
was left out and why; no personal value is printed or stored.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlite_utils

from matchers import bsn as bsnrules
from matchers.columns import ColumnRoles, detect_columns
from matchers.encode import EncodedRecords, RecordEncoder
from matchers.errors import (
    CohortwatchError,
    EnrollmentInputError,
    KeyFileError,
    UnknownCohortError,
)
from matchers.index import CohortIndex, snapshot_schema
from matchers.keyed import key_check
from matchers.readers import open_table

__all__ = ["CohortInfo", "CohortStore", "EnrollResult"]

log = logging.getLogger(__name__)
_SNAPSHOT_PART_ROWS = 500_000


@dataclass(frozen=True)
class EnrollResult:
    """What an enrollment did, in counts only."""

    cohort: str
    rows: int
    enrolled: int
    invalid_bsn: int
    duplicates: int
    missing_fields: int
    skipped_rows: int
    members_total: int
    columns: dict[str, str]


@dataclass(frozen=True)
class CohortInfo:
    name: str
    members: int
    created: str
    updated: str


def _signed(a: np.ndarray) -> list[int]:
    return a.view(np.int64).tolist()


def _slices(buf: bytes, width: int, n: int) -> list[bytes]:
    return [buf[i * width : (i + 1) * width] for i in range(n)]


class CohortStore:
    """Cohort operations on one state database with one key."""

    def __init__(self, db: sqlite_utils.Database, key: bytes, encoder: RecordEncoder) -> None:
        self.db = db
        self.key = key
        self.encoder = encoder
        self._key_check = key_check(key)

    # -- queries ----------------------------------------------------------------------------

    def list(self) -> list[CohortInfo]:
        return [
            CohortInfo(r["name"], r["members"], r["created"], r["updated"])
            for r in self.db["cohorts"].rows_where(order_by="name")
        ]

    def _cohort_row(self, name: str) -> dict:
        rows = list(self.db["cohorts"].rows_where("name = ?", [name]))
        if not rows:
            known = ", ".join(c.name for c in self.list()) or "none"
            raise UnknownCohortError(
                f"cohort {name!r} is not enrolled (enrolled cohorts: {known}); "
                "enroll it with `cohortwatch cohort enroll FILE --name NAME`"
            )
        row = rows[0]
        if row["key_check"] != self._key_check:
            raise KeyFileError(
                f"cohort {name!r} was enrolled with another secret key; use the original key "
                "file, or remove and re-enroll the cohort"
            )
        return row

    def default_cohort(self) -> str:
        """The only cohort, when ``--cohort`` was not given."""
        names = [c.name for c in self.list()]
        if len(names) == 1:
            return names[0]
        if not names:
            raise UnknownCohortError(
                "no cohort is enrolled; run `cohortwatch cohort enroll FILE --name NAME` first"
            )
        raise UnknownCohortError(
            f"several cohorts are enrolled ({', '.join(names)}); choose one with --cohort NAME"
        )

    # -- changes ----------------------------------------------------------------------------

    def remove(self, name: str) -> int:
        """Delete a cohort with all its encodings; returns the member count removed."""
        row = self._cohort_row(name)
        with self.db.conn:
            self.db.execute("DELETE FROM cohort_index WHERE cohort_id = ?", [row["id"]])
            self.db.execute("DELETE FROM members WHERE cohort_id = ?", [row["id"]])
            self.db.execute("DELETE FROM cohorts WHERE id = ?", [row["id"]])
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(row["members"])

    def enroll(
        self,
        name: str,
        path: Path,
        *,
        ref_column: str | None = None,
        mapping: Mapping[str, str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> EnrollResult:
        """Enroll (or update) cohort ``name`` from a CSV/XLSX member file.

        :raises EnrollmentInputError: unreadable file or no usable columns.
        :raises KeyFileError: the cohort exists under another key.
        """
        overrides = dict(mapping or {})
        if ref_column:
            overrides["ref"] = ref_column
        try:
            reader = open_table(path)
            roles = detect_columns(reader.columns, reader.sample(), overrides=overrides)
        except EnrollmentInputError:
            raise
        except CohortwatchError as exc:
            raise EnrollmentInputError(str(exc)) from None
        if not roles.usable_for_matching():
            raise EnrollmentInputError(
                f"{path.name}: no BSN column and no name + birth-date columns found among "
                f"{', '.join(reader.columns) or 'no columns'}; name them with "
                "--map bsn=COLUMN --map surname=COLUMN --map dob=COLUMN ..."
            )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        existing = list(self.db["cohorts"].rows_where("name = ?", [name]))
        if existing:
            cohort_id = self._cohort_row(name)["id"]
        else:
            cohort_id = (
                self.db["cohorts"]
                .insert(
                    {
                        "name": name,
                        "created": now,
                        "updated": now,
                        "key_check": self._key_check,
                        "members": 0,
                    }
                )
                .last_pk
            )
        seen_refs: set[str] = set()
        seen_bsn: set[int] = set()
        counts = dict(rows=0, enrolled=0, invalid_bsn=0, duplicates=0, missing_fields=0)
        sql = (
            "INSERT INTO members (cohort_id, ref, bsn, dob, dob_ym, dob_yd, dob_md, initial, "
            "postcode, gn, sn, blocks) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(cohort_id, ref) DO UPDATE SET bsn=excluded.bsn, dob=excluded.dob, "
            "dob_ym=excluded.dob_ym, dob_yd=excluded.dob_yd, dob_md=excluded.dob_md, "
            "initial=excluded.initial, postcode=excluded.postcode, gn=excluded.gn, "
            "sn=excluded.sn, blocks=excluded.blocks"
        )
        with self.db.conn:
            for batch in reader.batches():
                enc = self.encoder.encode(batch.data, roles)
                refs = self._refs(batch.data, roles, batch.first_record)
                keep = self._select(enc, refs, roles, seen_refs, seen_bsn, counts)
                self.db.conn.executemany(sql, self._rows(cohort_id, enc, refs, keep))
                counts["rows"] += enc.n
                counts["enrolled"] += int(keep.size)
                if progress:
                    progress(counts["rows"])
            total = self.db.execute(
                "SELECT count(*) FROM members WHERE cohort_id = ?", [cohort_id]
            ).fetchone()[0]
            self.db["cohorts"].update(cohort_id, {"updated": now, "members": total})
            self._write_snapshot(cohort_id)
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("cohort enrolled", extra={"cohort": name, "members": total})
        return EnrollResult(
            cohort=name,
            skipped_rows=reader.stats.skipped,
            members_total=total,
            columns=roles.describe(),
            **counts,
        )

    @staticmethod
    def _refs(batch: pa.RecordBatch, roles: ColumnRoles, first_record: int) -> list[str | None]:
        if roles.ref is not None:
            return [
                (r.strip() or None) if r is not None else None
                for r in batch.column(roles.ref).to_pylist()
            ]
        return [f"row{first_record + i}" for i in range(batch.num_rows)]

    @staticmethod
    def _select(
        enc: EncodedRecords,
        refs: list[str | None],
        roles: ColumnRoles,
        seen_refs: set[str],
        seen_bsn: set[int],
        counts: dict[str, int],
    ) -> np.ndarray:
        """Rows to enroll; counts the others. A row needs a ref and a valid BSN or names +
        birth date; a repeated ref or BSN within the file is a duplicate."""
        valid_bsn = enc.bsn_status == bsnrules.VALID
        if roles.bsn is not None:
            given_bsn = enc.bsn_status != bsnrules.ABSENT
            counts["invalid_bsn"] += int((given_bsn & ~valid_bsn).sum())
        usable = valid_bsn | enc.name_dob_usable()
        keep: list[int] = []
        bsn_list = enc.bsn.tolist()
        for i in np.flatnonzero(usable).tolist():
            ref = refs[i]
            if ref is None:
                continue
            b = bsn_list[i]
            if ref in seen_refs or (b and b in seen_bsn):
                counts["duplicates"] += 1
                continue
            seen_refs.add(ref)
            if b:
                seen_bsn.add(b)
            keep.append(i)
        counts["missing_fields"] += int((~usable).sum()) + sum(
            1 for i in np.flatnonzero(usable).tolist() if refs[i] is None
        )
        return np.asarray(keep, dtype=np.int64)

    def _rows(
        self, cohort_id: int, enc: EncodedRecords, refs: list[str | None], keep: np.ndarray
    ) -> zip:
        n = keep.size
        w = self.encoder.words
        return zip(
            [cohort_id] * n,
            [refs[i] for i in keep.tolist()],
            _signed(enc.bsn[keep]),
            _signed(enc.dob[keep]),
            _signed(enc.dob_pairs[keep, 0]),
            _signed(enc.dob_pairs[keep, 1]),
            _signed(enc.dob_pairs[keep, 2]),
            _signed(enc.initial[keep]),
            _signed(enc.postcode[keep]),
            _slices(np.ascontiguousarray(enc.gn[keep]).tobytes(), 8 * w, n),
            _slices(np.ascontiguousarray(enc.sn[keep]).tobytes(), 16 * w, n),
            _slices(np.ascontiguousarray(enc.blocks[keep]).tobytes(), 48, n),
            strict=True,
        )

    # -- snapshot ---------------------------------------------------------------------------

    def _write_snapshot(self, cohort_id: int) -> None:
        """Pack the cohort into Arrow IPC parts; the members table stays the truth."""
        self.db.execute("DELETE FROM cohort_index WHERE cohort_id = ?", [cohort_id])
        schema = snapshot_schema(self.encoder.words)
        cur = self.db.execute(
            "SELECT ref, bsn, dob, dob_ym, dob_yd, dob_md, initial, postcode, gn, sn, blocks "
            "FROM members WHERE cohort_id = ? ORDER BY rowid",
            [cohort_id],
        )
        part = 0
        while True:
            rows = cur.fetchmany(_SNAPSHOT_PART_ROWS)
            if not rows:
                break
            cols = list(zip(*rows, strict=True))
            arrays = [pa.array(cols[0], pa.string())]
            for j in range(1, 8):
                arrays.append(pa.array(np.array(cols[j], dtype=np.int64).view(np.uint64)))
            for j, width in ((8, 8 * self.encoder.words), (9, 16 * self.encoder.words), (10, 48)):
                arrays.append(
                    pa.FixedSizeBinaryArray.from_buffers(
                        pa.binary(width), len(rows), [None, pa.py_buffer(b"".join(cols[j]))]
                    )
                )
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, schema) as writer:
                writer.write_batch(pa.record_batch(arrays, schema=schema))
            self.db.execute(
                "INSERT INTO cohort_index (cohort_id, part, rows, data) VALUES (?,?,?,?)",
                [cohort_id, part, len(rows), sink.getvalue()],
            )
            part += 1

    def load_index(self, name: str) -> CohortIndex:
        """Load cohort ``name`` for matching.

        :raises UnknownCohortError: no such cohort.
        :raises KeyFileError: enrolled with another key.
        """
        row = self._cohort_row(name)
        batches = []
        for (data,) in self.db.execute(
            "SELECT data FROM cohort_index WHERE cohort_id = ? ORDER BY part", [row["id"]]
        ):
            batches.extend(pa.ipc.open_stream(data).read_all().to_batches())
        schema = snapshot_schema(self.encoder.words)
        table = pa.Table.from_batches(batches, schema=schema)
        return CohortIndex(name, table, self.encoder.words)
