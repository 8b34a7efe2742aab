"""The in-memory cohort index: numpy arrays of keyed encodings, sorted for lookups.

Loaded once per scan (and once per daemon run) from the packed snapshot the cohort store
keeps, so start-up costs a few large reads instead of a million row fetches. The name side
(filters, blocking keys) is built only when a dataset actually needs name matching.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from matchers.bloom import popcount
from matchers.encode import BLOCK_KEYS

__all__ = ["CohortIndex", "NameSide", "snapshot_schema", "sort_blocks"]


def snapshot_schema(words: int) -> pa.Schema:
    """Arrow schema of the packed snapshot for filters of ``words`` 64-bit words."""
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



def _fixed(col: pa.ChunkedArray | pa.Array, width: int) -> np.ndarray:
    """A fixed-size-binary column as a (n, width/8) uint64 array without per-row work."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
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


SortedBlocks = tuple[np.ndarray, np.ndarray]


def sort_blocks(blocks: pa.ChunkedArray | pa.Array) -> SortedBlocks:
    """Every non-zero blocking key of every member, sorted, with the member it belongs to.

    Sorting ten million keys takes a second or two, so the cohort store does it once at
    enrollment and keeps the result next to the members.
    """
    keys = _fixed(blocks, 8 * BLOCK_KEYS)
    members = np.repeat(np.arange(keys.shape[0], dtype=np.uint32), keys.shape[1])
    flat = keys.reshape(-1)
    keep = flat != 0
    flat, members = flat[keep], members[keep]
    order = np.argsort(flat, kind="stable")
    return flat[order], members[order]


class NameSide:
    """What name + birth-date matching needs: per-member encodings and a block index."""

    def __init__(
        self,
        table: pa.Table,
        words: int,
        load_sorted: Callable[[], SortedBlocks | None] | None = None,
    ) -> None:
        self._load_sorted = load_sorted
        num = lambda name: table.column(name).to_numpy()  # noqa: E731
        self.dob = num("dob")
        self.dob_pairs = np.stack([num("dob_ym"), num("dob_yd"), num("dob_md")], axis=1)
        self.initial = num("initial")
        self.postcode = num("postcode")
        # Filters as C-contiguous (n, W) arrays, the two surname parts apart: gathering
        # rows of a strided view is many times slower.
        (self.gn,) = _fixed_split(table.column("gn"), words, 1)
        (self.gx,) = _fixed_split(table.column("gx"), words, 1)
        self._sn_parts = tuple(_fixed_split(table.column("sn"), words, 2))
        self._blocks_column = table.column("blocks")
        self._block_index_cache: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None = None
        self._popcounts: tuple[np.ndarray, ...] | None = None

    def popcounts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Set bits of every member's given-name filter, surname-part filters (part 1,
        part 2) and given name as a surname; each (n,) int32."""
        if self._popcounts is None:
            sn0, sn1 = self.surname_parts()
            self._popcounts = (popcount(self.gn), popcount(sn0), popcount(sn1), popcount(self.gx))
        return self._popcounts

    def surname_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """Every member's two surname-part filters, each (n, W)."""
        return self._sn_parts  # type: ignore[return-value]

    def _block_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Every member's blocking keys sorted, the member of each, and a directory over
        the keys' top ``bits`` bits: the keys of bucket ``b`` sit at ``dir[b]:dir[b+1]``.
        Built on first use only, as BSN-keyed scans never need it.

        Keys are keyed PRF outputs, uniform over 64 bits, so with about one bucket per key
        a look-up reads one short run instead of binary-searching tens of millions of bytes
        (most of whose levels miss the CPU cache).
        """
        if self._block_index_cache is None:
            stored = self._load_sorted() if self._load_sorted else None
            flat, members = stored if stored is not None else sort_blocks(self._blocks_column)
            # About two keys a bucket: a short run to read per look-up, a small directory.
            bits = int(min(max(max(flat.size, 1).bit_length() - 1, 1), 26))
            shift = np.uint64(64 - bits)
            sizes = np.bincount((flat >> shift).astype(np.intp), minlength=1 << bits)
            directory = np.zeros((1 << bits) + 1, dtype=np.int64 if flat.size >> 31 else np.int32)
            np.cumsum(sizes, out=directory[1:])
            self._block_index_cache = (flat, members, directory, bits)
        return self._block_index_cache

    def candidates(self, queries: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
        """All (query row, member) pairs sharing a blocking key; blocks over ``max_block``
        members are passed over (a placeholder date shared by thousands identifies nobody).

        Pairs come in no particular order; a member listed twice under one key (both
        surname parts sound alike) gives its pair twice.
        """
        flat, block_members, directory, bits = self._block_index()
        k = queries.shape[1]
        q_all = queries.reshape(-1)
        qidx = np.flatnonzero(q_all)
        if qidx.size == 0 or flat.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        q = q_all[qidx]
        bucket = (q >> np.uint64(64 - bits)).astype(np.int64)
        lo = directory.take(bucket).astype(np.int64)
        span = directory.take(bucket + 1) - lo
        # Every key of each query's bucket: the query's own block plus a key or so of others.
        which = np.repeat(np.arange(q.size), span)
        pos = np.repeat(lo - (np.cumsum(span) - span), span) + np.arange(which.size)
        same = flat.take(pos) == q.take(which)
        which, pos = which[same], pos[same]
        size = np.bincount(which, minlength=q.size)
        small = (size <= max_block).take(which)
        rows = (qidx.take(which[small])) // k
        return rows, block_members.take(pos[small]).astype(np.int64)


class CohortIndex:
    """A loaded cohort: BSN lookup always, name side on demand."""

    def __init__(
        self,
        name: str,
        table: pa.Table,
        words: int,
        load_sorted: Callable[[], SortedBlocks | None] | None = None,
    ) -> None:
        self._load_sorted = load_sorted
        self.name = name
        self.size = table.num_rows
        self.words = words
        self._table = table
        self._bsn: tuple[np.ndarray, np.ndarray] | None = None
        self._names: NameSide | None = None

    def _bsn_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Keyed BSNs sorted, with their members; built at the first BSN to look up (a
        dump of names only never needs it)."""
        if self._bsn is None:
            bsn = self._table.column("bsn").to_numpy()
            present = np.flatnonzero(bsn != 0)
            order = np.argsort(bsn[present], kind="stable")
            self._bsn = (bsn[present][order], present[order])
        return self._bsn

    @property
    def names(self) -> NameSide:
        if self._names is None:
            self._names = NameSide(self._table, self.words, self._load_sorted)
        return self._names

    def lookup_bsn(self, keys: np.ndarray) -> np.ndarray:
        """Member index per keyed BSN, -1 where not in the cohort (0 keys never match).

        Keys are searched in sorted order: the walk through the cohort's array is then
        ordered, which on a million members beats random probes by a wide margin.
        """
        out = np.full(keys.shape, -1, dtype=np.int64)
        if keys.size == 0 or not keys.any():
            return out
        bsn_sorted, bsn_member = self._bsn_index()
        if bsn_sorted.size == 0:
            return out
        order = np.argsort(keys)
        sk = keys[order]
        pos = np.minimum(np.searchsorted(bsn_sorted, sk), bsn_sorted.size - 1)
        hit = (bsn_sorted[pos] == sk) & (sk != 0)
        out[order[hit]] = bsn_member[pos[hit]]
        return out

    def refs(self, members: np.ndarray) -> list[str]:
        """The holder's references of the given member indices."""
        return self._table.column("ref").take(pa.array(members)).to_pylist()
