"""Cohorts: enroll from the holder's member file, list, remove, load for matching.

Enrollment reads the file in batches and encodes each row with the secret key. A cohort is
stored as arrays (:mod:`matchers.snapshot`): scans read the ones they need in a few large
reads instead of a million row fetches, and re-enrolling replaces members by their ``ref``
— so running the same enrollment twice changes nothing. Counts tell the operator what
was left out and why; no personal value is printed or stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlite_utils

from matchers import bsn as bsnrules
from matchers.columns import ColumnRoles, detect_columns, no_usable_columns_error, safe_roles
from matchers.encode import BLOCK_KEYS, EncodedRecords, RecordEncoder
from matchers.errors import (
    CohortError,
    CohortwatchError,
    EnrollmentInputError,
    KeyFileError,
    UnknownCohortError,
)
from matchers.index import CohortIndex
from matchers.keyed import key_check
from matchers.readers import open_table
from matchers.snapshot import (
    StoredArrays,
    TableArrays,
    layout,
    read_table,
    snapshot_schema,
    stored_layout,
    write_arrays,
)

__all__ = ["CohortInfo", "CohortStore", "EnrollResult"]

log = logging.getLogger(__name__)
_READ_SLICE = 8 << 20


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
            for table in ("cohort_arrays", "cohort_members", "cohort_blocks"):
                self.db.execute(f"DELETE FROM {table} WHERE cohort_id = ?", [row["id"]])  # noqa: S608 - fixed table names
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
        progress: Callable[[str, int, int, int], None] | None = None,
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
            error = no_usable_columns_error(path.name, reader.columns, roles)
            raise EnrollmentInputError(str(error))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        existing = list(self.db["cohorts"].rows_where("name = ?", [name]))
        cohort_id = self._cohort_row(name)["id"] if existing else None
        seen_refs: set[str] = set()
        seen_bsn: set[int] = set()
        counts = dict(rows=0, enrolled=0, invalid_bsn=0, duplicates=0, missing_fields=0)
        parts: list[pa.RecordBatch] = []
        only = getattr(reader, "table", None)  # a workbook or dump: its first table
        size = path.stat().st_size
        for batch in reader.batches():
            if batch.table != only:
                continue
            enc = self.encoder.encode(batch.data, roles)
            refs = self._refs(batch.data, roles, batch.first_record)
            keep = self._select(enc, refs, roles, seen_refs, seen_bsn, counts)
            parts.append(self._snapshot_batch(enc, refs, keep))
            counts["rows"] += enc.n
            counts["enrolled"] += int(keep.size)
            if progress:
                progress(path.name, counts["rows"], reader.stats.bytes_read, size)
        schema = snapshot_schema(self.encoder.words)
        new = pa.Table.from_batches(parts, schema=schema)
        if cohort_id is not None:
            old = self._load_table(self._cohort_row(name))
            stays = pc.invert(pc.is_in(old.column("ref"), value_set=new.column("ref")))
            new = pa.concat_tables([old.filter(stays), new])
        total = new.num_rows
        with self.db.conn:
            generation = self._next_generation()
            if cohort_id is None:
                cohort_id = self.db["cohorts"].insert(
                    {"name": name, "created": now, "updated": now,
                     "key_check": self._key_check, "members": total,
                     "generation": generation}
                ).last_pk
            else:
                self.db["cohorts"].update(cohort_id, {"updated": now, "members": total,
                                                      "generation": generation})
            self._write_snapshot(cohort_id, new)
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("cohort enrolled", extra={"cohort": name, "members": total})
        return EnrollResult(
            cohort=name,
            skipped_rows=reader.stats.skipped,
            members_total=total,
            columns=safe_roles(roles, reader.columns, overrides.values()),
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

    def _snapshot_batch(
        self, enc: EncodedRecords, refs: list[str | None], keep: np.ndarray
    ) -> pa.RecordBatch:
        """The kept rows of one batch in the packed member layout."""
        w = self.encoder.words
        n = int(keep.size)

        def fixed(a: np.ndarray, width: int) -> pa.Array:
            buf = pa.py_buffer(np.ascontiguousarray(a[keep]).tobytes())
            return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, buf])

        arrays = [
            pa.array([refs[i] for i in keep.tolist()], pa.string()),
            pa.array(enc.bsn[keep]),
            pa.array(enc.dob[keep]),
            pa.array(enc.dob_pairs[keep, 0]),
            pa.array(enc.dob_pairs[keep, 1]),
            pa.array(enc.dob_pairs[keep, 2]),
            pa.array(enc.initial[keep]),
            pa.array(enc.postcode[keep]),
            fixed(enc.gn, 8 * w),
            fixed(enc.gx, 8 * w),
            fixed(enc.sn, 16 * w),
            fixed(enc.blocks, 8 * BLOCK_KEYS),
        ]
        return pa.record_batch(arrays, schema=snapshot_schema(w))

    def _write_snapshot(self, cohort_id: int, table: pa.Table) -> None:
        """Replace the cohort's stored arrays (call inside a transaction); a cohort stored
        in the earlier layout is stored in the current one from now on."""
        write_arrays(self.db, cohort_id, table, self.encoder.words)
        for legacy in ("cohort_members", "cohort_blocks"):
            self.db.execute(f"DELETE FROM {legacy} WHERE cohort_id = ?", [cohort_id])  # noqa: S608 - fixed table names

    def _read_parts(self, name: str, cohort_id: int) -> list[pa.RecordBatch]:
        """The parts' record batches, each over one numpy buffer the blob was read into.

        Parts are read with SQLite's incremental blob I/O in slices of ``_READ_SLICE``:
        selecting a part of a hundred megabytes makes SQLite assemble it in a buffer of its
        own and Python copy that into a new bytes object, two fresh allocations whose page
        faults cost more than the reading (2-4x slower on the measuring machines).
        """
        conn = self.db.conn
        batches: list[pa.RecordBatch] = []
        parts = conn.execute(
            f"SELECT rowid, length(data) FROM {name} WHERE cohort_id = ? ORDER BY part",  # noqa: S608
            [cohort_id],
        ).fetchall()
        for rowid, size in parts:
            buf = np.empty(size, dtype=np.uint8)
            with conn.blobopen(name, "data", rowid, readonly=True) as blob:
                for lo in range(0, size, _READ_SLICE):
                    chunk = blob.read(min(_READ_SLICE, size - lo))
                    buf[lo : lo + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            batches.extend(pa.ipc.open_stream(pa.py_buffer(buf)).read_all().to_batches())
        return batches

    def _outdated(self, name: str) -> CohortError:
        # Encodings change between versions; matching against old ones would silently
        # miss people, so the operator is told to re-enroll.
        return CohortError(
            f"cohort {name!r} was enrolled by an earlier version of cohortwatch whose "
            f"encodings this version cannot use; run `cohortwatch cohort remove {name}` and "
            "enroll its member file again"
        )

    def _arrays(self, row: dict) -> StoredArrays | TableArrays:
        """The cohort's arrays, stored in either layout.

        :raises CohortError: enrolled by a version whose encodings this one cannot use.
        """
        cohort_id, name, words = row["id"], row["name"], self.encoder.words
        found = stored_layout(self.db, cohort_id)
        if found is not None:
            if found != layout(words):
                raise self._outdated(name)
            return StoredArrays(self.db, cohort_id, int(row["members"]), words)
        return TableArrays(
            self._load_legacy_table(cohort_id, name), words,
            lambda: self._load_sorted_blocks(cohort_id),
        )

    def _load_table(self, row: dict) -> pa.Table:
        """The cohort's members as enrollment builds them (a re-enrollment merges into it).

        :raises CohortError: enrolled by a version whose encodings this one cannot use.
        """
        arrays = self._arrays(row)
        if isinstance(arrays, TableArrays):
            return arrays._table
        return read_table(arrays, self.encoder.words)

    def _load_legacy_table(self, cohort_id: int, name: str) -> pa.Table:
        schema = snapshot_schema(self.encoder.words)
        batches = self._read_parts("cohort_members", cohort_id)
        if batches and batches[0].schema != schema:
            raise self._outdated(name)
        return pa.Table.from_batches(batches, schema=schema)

    def _load_sorted_blocks(self, cohort_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        batches = self._read_parts("cohort_blocks", cohort_id)
        if not batches:
            return None
        table = pa.Table.from_batches(batches).combine_chunks()
        return table.column("key").to_numpy(), table.column("member").to_numpy()

    def _next_generation(self) -> int:
        """A number no enrollment in this database had before (a removed cohort's id is
        reused by the next one enrolled, so ids cannot tell enrollments apart)."""
        row = self.db.execute(
            "SELECT value FROM meta WHERE key = 'cohort_generation'").fetchone()
        generation = int(row[0]) + 1 if row else 1
        self.db["meta"].upsert({"key": "cohort_generation", "value": str(generation)},
                               pk="key")
        return generation

    def version(self, name: str) -> tuple[int, int]:
        """What changes whenever cohort ``name``'s members do: (id, generation); every
        enrollment gets a generation of its own.

        :raises UnknownCohortError: no such cohort.
        :raises KeyFileError: enrolled with another key.
        """
        row = self._cohort_row(name)
        return int(row["id"]), int(row.get("generation") or 0)

    def load_index(self, name: str) -> CohortIndex:
        """Load cohort ``name`` for matching.

        :raises UnknownCohortError: no such cohort.
        :raises KeyFileError: enrolled with another key.
        :raises CohortError: enrolled by a version whose encodings this one cannot use.
        """
        return self.index_loader(name)()

    def index_loader(self, name: str) -> Callable[[], CohortIndex]:
        """Check that cohort ``name`` exists for this key, and return what loads it. Loading
        reads no arrays yet: the index reads each when first used (on a scan's matching
        thread, while the first batches are read and encoded).

        :raises UnknownCohortError: no such cohort.
        :raises KeyFileError: enrolled with another key.
        """
        row = self._cohort_row(name)

        def load() -> CohortIndex:
            """:raises CohortError: enrolled by a version whose encodings this one cannot use."""
            return CohortIndex(name, self._arrays(row))

        return load
