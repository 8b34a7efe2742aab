"""How a cohort's keyed encodings are stored: one SQLite blob per array and part.

Enrollment builds the members as an Arrow table (:func:`snapshot_schema`; re-enrolling
merges tables by ref). It is stored column by column as the arrays a scan uses, in the
layout it uses them in — raw little-endian numpy arrays in ``cohort_arrays`` (the refs as
one Arrow IPC stream), parts of at most ``_PART_BYTES`` — together with what enrollment
can derive once instead of every scan: the blocking keys sorted with their members and
bucket directory, and the keyed BSNs sorted. A scan then reads only the arrays it needs
(a BSN dump 12 bytes a member, a name dump about 250), each straight into the array it
ends up in: no Arrow decoding, no concatenation, no copies that touch fresh memory twice
(on the measuring machines, touching fresh memory costs as much as reading it).

Cohorts enrolled before this layout (``cohort_members`` Arrow parts) are still read, from
the Arrow table (:class:`TableArrays`); enrolling again rewrites them in this layout.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import sqlite_utils

from matchers.encode import BLOCK_KEYS
from matchers.index import aligned_empty, block_directory, first_look_rows

__all__ = [
    "StoredArrays",
    "TableArrays",
    "layout",
    "read_table",
    "snapshot_schema",
    "sort_blocks",
    "write_arrays",
]

LAYOUT_VERSION = 4
_PART_BYTES = 64 << 20
_READ_SLICE = 8 << 20
_MMAP_BYTES = 1 << 31
_PER_MEMBER = ("bsn", "dob", "dob_pairs", "initial", "postcode", "gn", "gx", "sn0", "sn1",
               "blocks")  # fmt: skip
_DTYPES = {"bsn_members": "<u4", "block_directory": None}


def snapshot_schema(words: int) -> pa.Schema:
    """Arrow schema of a cohort's members as enrollment builds them, for filters of
    ``words`` 64-bit words."""
    return pa.schema(
        [
            ("ref", pa.string()),
            ("bsn", pa.uint64()),
            ("dob", pa.uint64()),
            ("dob_ym", pa.uint64()),
            ("dob_yd", pa.uint64()),
            ("dob_md", pa.uint64()),
            ("initial", pa.uint64()),
            ("postcode", pa.uint64()),
            ("gn", pa.binary(8 * words)),
            ("gx", pa.binary(8 * words)),
            ("sn", pa.binary(16 * words)),
            ("blocks", pa.binary(8 * BLOCK_KEYS)),
        ]
    )


def layout(words: int) -> dict[str, int]:
    """What a stored cohort's arrays mean; a cohort stored otherwise cannot be matched."""
    return {"layout": LAYOUT_VERSION, "words": words, "blocking_keys": BLOCK_KEYS}


# -- Arrow table <-> arrays -----------------------------------------------------------------


def _fixed(col: pa.ChunkedArray | pa.Array, width: int) -> np.ndarray:
    """A fixed-size-binary column as a (n, width/8) uint64 array without per-row work."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if len(col) == 0:
        return np.zeros((0, width // 8), dtype=np.uint64)
    buf = col.buffers()[1]
    start = col.offset * width
    raw = np.frombuffer(buf, dtype=np.uint8)[start : start + len(col) * width]
    return raw.view("<u8").reshape(len(col), width // 8)


def _fixed_split(col: pa.ChunkedArray | pa.Array, words: int, parts: int) -> list[np.ndarray]:
    """A fixed-size-binary column of ``parts`` filters of ``words`` 64-bit words per row
    as ``parts`` C-contiguous (n, words) uint64 arrays, copied chunk by chunk (one copy)."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out = [np.empty((len(col), words), dtype=np.uint64) for _ in range(parts)]
    lo = 0
    for chunk in chunks:
        m = len(chunk)
        if m:
            rows = _fixed(chunk, 8 * words * parts).reshape(m, parts, words)
            for p in range(parts):
                out[p][lo : lo + m] = rows[:, p]
        lo += m
    return out


def sort_blocks(blocks: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Every non-zero blocking key of every member, sorted, with the member it belongs to.

    Sorting ten million keys takes a second or two, so enrollment does it once.
    """
    keys = _fixed(blocks, 8 * BLOCK_KEYS)
    members = np.repeat(np.arange(keys.shape[0], dtype=np.uint32), keys.shape[1])
    flat = keys.reshape(-1)
    keep = flat != 0
    flat, members = flat[keep], members[keep]
    order = np.argsort(flat, kind="stable")
    return flat[order], members[order]


def _sorted_bsns(bsn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = np.flatnonzero(bsn != 0)
    order = np.argsort(bsn[present], kind="stable")
    return bsn[present][order], present[order].astype(np.uint32)


class TableArrays:
    """The arrays of a cohort held as an Arrow table (a cohort in the earlier layout),
    derived on first use. ``sorted_blocks`` gives the stored sorted blocking keys, if any."""

    def __init__(
        self,
        table: pa.Table,
        words: int,
        sorted_blocks: Callable[[], tuple[np.ndarray, np.ndarray] | None] | None = None,
    ) -> None:
        self.size = table.num_rows
        self._table = table
        self._words = words
        self._sorted_blocks = sorted_blocks
        self._cache: dict[str, np.ndarray] = {}

    def array(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache.update(self._derive(name))
        return self._cache[name]

    def _derive(self, name: str) -> dict[str, np.ndarray]:
        t, w = self._table, self._words
        if name in ("bsn_keys", "bsn_members"):
            keys, members = _sorted_bsns(t.column("bsn").to_numpy())
            return {"bsn_keys": keys, "bsn_members": members}
        if name in ("block_entries", "block_directory"):
            stored = self._sorted_blocks() if self._sorted_blocks else None
            keys, members = stored if stored is not None else sort_blocks(t.column("blocks"))
            return {"block_entries": np.stack([keys, members.astype(np.uint64)], axis=1),
                    "block_directory": block_directory(keys)}  # fmt: skip
        if name == "first_look":
            a = self.array
            return {name: first_look_rows(a("dob"), a("postcode"), a("gn"), a("gx"), a("sn0"),
                                          a("sn1"))}  # fmt: skip
        if name == "dob_pairs":
            cols = [t.column(c).to_numpy() for c in ("dob_ym", "dob_yd", "dob_md")]
            return {name: np.stack(cols, axis=1)}
        if name in ("gn", "gx"):
            return {name: _fixed_split(t.column(name), w, 1)[0]}
        if name in ("sn0", "sn1"):
            sn0, sn1 = _fixed_split(t.column("sn"), w, 2)
            return {"sn0": sn0, "sn1": sn1}
        return {name: t.column(name).to_numpy()}

    def refs(self, members: np.ndarray) -> list[str]:
        return self._table.column("ref").take(pa.array(members)).to_pylist()


def _arrays_of(table: pa.Table, words: int) -> dict[str, np.ndarray]:
    """Everything a scan may read, from enrollment's table."""
    source = TableArrays(table, words)
    out = {name: source.array(name) for name in _PER_MEMBER if name != "blocks"}
    out["blocks"] = _fixed(table.column("blocks"), 8 * BLOCK_KEYS)
    for name in ("first_look", "bsn_keys", "bsn_members", "block_entries", "block_directory"):
        out[name] = source.array(name)
    return out


def read_table(source: StoredArrays, words: int) -> pa.Table:
    """A stored cohort back as enrollment's table (to merge a re-enrollment into)."""
    n = source.size

    def fixed(a: np.ndarray, width: int) -> pa.Array:
        buf = pa.py_buffer(np.ascontiguousarray(a))
        return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, buf])

    pairs = source.array("dob_pairs")
    sn = np.stack([source.array("sn0"), source.array("sn1")], axis=1)
    arrays = [
        source.ref_array(),
        pa.array(source.array("bsn")),
        pa.array(source.array("dob")),
        *(pa.array(np.ascontiguousarray(pairs[:, i])) for i in range(3)),
        pa.array(source.array("initial")),
        pa.array(source.array("postcode")),
        fixed(source.array("gn"), 8 * words),
        fixed(source.array("gx"), 8 * words),
        fixed(sn, 16 * words),
        fixed(source.array("blocks"), 8 * BLOCK_KEYS),
    ]
    return pa.Table.from_arrays(arrays, schema=snapshot_schema(words))


# -- the database ---------------------------------------------------------------------------


def write_arrays(db: sqlite_utils.Database, cohort_id: int, table: pa.Table, words: int) -> None:
    """Replace a cohort's stored arrays with those of ``table`` (call inside a
    transaction)."""
    db.execute("DELETE FROM cohort_arrays WHERE cohort_id = ?", [cohort_id])
    insert = "INSERT INTO cohort_arrays (cohort_id, name, part, rows, data) VALUES (?,?,?,?,?)"
    for name, a in _arrays_of(table, words).items():
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        row_bytes = max(a[:1].nbytes, 1)
        step = max(_PART_BYTES // row_bytes, 1)
        for part, lo in enumerate(range(0, max(len(a), 1), step)):
            chunk = a[lo : lo + step]
            db.execute(insert, [cohort_id, name, part, len(chunk), memoryview(chunk).cast("B")])
    sink = io.BytesIO()
    refs = pa.table({"ref": table.column("ref")})
    with pa.ipc.new_stream(sink, refs.schema) as writer:
        writer.write_table(refs)
    db.execute(insert, [cohort_id, "ref", 0, table.num_rows, sink.getvalue()])
    meta = json.dumps(layout(words)).encode()
    db.execute(insert, [cohort_id, "layout", 0, 0, meta])


def stored_layout(db: sqlite_utils.Database, cohort_id: int) -> dict[str, int] | None:
    """The layout a cohort's arrays were stored in; None for a cohort in the earlier
    layout (or none at all)."""
    row = db.execute(
        "SELECT data FROM cohort_arrays WHERE cohort_id = ? AND name = 'layout'", [cohort_id]
    ).fetchone()
    return json.loads(bytes(row[0])) if row else None


class StoredArrays:
    """A cohort's arrays in the database, each read when first asked for."""

    def __init__(self, db: sqlite_utils.Database, cohort_id: int, size: int, words: int) -> None:
        self.size = size
        self._conn = db.conn
        self._cohort_id = cohort_id
        self._words = words
        self._refs: pa.Array | None = None

    def _shape(self, name: str) -> tuple[str, tuple[int, ...]]:
        w = self._words
        width = {"dob_pairs": 3, "gn": w, "gx": w, "sn0": w, "sn1": w, "blocks": BLOCK_KEYS,
                 "block_entries": 2, "first_look": -(-(3 + w) // 8) * 8}  # fmt: skip
        dtype = _DTYPES.get(name, "<u8")
        return dtype or "<i4", ((width[name],) if name in width else ())

    def array(self, name: str) -> np.ndarray:
        dtype, inner = self._shape(name)
        parts = self._conn.execute(
            "SELECT rowid, rows, length(data) FROM cohort_arrays"
            " WHERE cohort_id = ? AND name = ? ORDER BY part",
            [self._cohort_id, name],
        ).fetchall()
        rows = sum(r for _, r, _ in parts)
        total = sum(s for _, _, s in parts)
        if name == "block_directory" and rows and total == 8 * rows:
            dtype = "<i8"  # more than 2**31 blocking keys
        out = aligned_empty((rows, *inner), dtype)
        raw = out.reshape(-1).view(np.uint8)
        if raw.size != total:
            raise ValueError(f"stored array {name} has {total} bytes, expected {raw.size}")
        at = 0
        # Memory-mapped while reading: SQLite then copies the blob's pages out of the
        # mapping instead of one read() call per 4 KiB page (2-4x faster on the measuring
        # machines). Only for the reads here; the connection's other work goes on as set.
        self._conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        try:
            for rowid, _, size in parts:
                if not size:
                    continue
                with self._conn.blobopen("cohort_arrays", "data", rowid, readonly=True) as b:
                    for lo in range(0, size, _READ_SLICE):
                        chunk = b.read(min(_READ_SLICE, size - lo))
                        raw[at : at + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                        at += len(chunk)
        finally:
            self._conn.execute("PRAGMA mmap_size=0")
        return out

    def ref_array(self) -> pa.Array:
        if self._refs is None:
            (data,) = self._conn.execute(
                "SELECT data FROM cohort_arrays WHERE cohort_id = ? AND name = 'ref'",
                [self._cohort_id],
            ).fetchone()
            self._refs = pa.ipc.open_stream(data).read_all().column("ref").combine_chunks()
        return self._refs

    def refs(self, members: np.ndarray) -> list[str]:
        return self.ref_array().take(pa.array(members)).to_pylist()
