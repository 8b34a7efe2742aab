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
        self.gn = _fixed(table.column("gn"), 8 * words)
        self.gx = _fixed(table.column("gx"), 8 * words)
        self.sn = _fixed(table.column("sn"), 16 * words).reshape(-1, 2, words)
        self._blocks_column = table.column("blocks")
        self._block_index_cache: tuple[np.ndarray, ...] | None = None
        self._popcounts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def popcounts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Set bits of every member's given-name filter (n,), surname filters (n, 2) and
        given name as a surname (n,)."""
        if self._popcounts is None:
            self._popcounts = (popcount(self.gn), popcount(self.sn), popcount(self.gx))
        return self._popcounts

    def _block_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distinct blocking keys (sorted) with the start and size of their run in the
        member list; built on first use only, as BSN-keyed scans never need it."""
        if self._block_index_cache is None:
            stored = self._load_sorted() if self._load_sorted else None
            flat, members = stored if stored is not None else sort_blocks(self._blocks_column)
            # Runs of equal keys in the sorted array (np.unique would sort a second time).
            first = np.ones(flat.size, dtype=bool)
            np.not_equal(flat[1:], flat[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            counts = np.diff(np.append(starts, flat.size))
            self._block_index_cache = (flat[starts], starts, counts, members)
        return self._block_index_cache

    def candidates(self, queries: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
        """All (query row, member) pairs sharing a blocking key; blocks over ``max_block``
        members are passed over (a placeholder date shared by thousands identifies nobody).

        Queries are sorted before the binary search: on a cohort of millions the key array
        is far larger than the CPU cache, and sorted look-ups walk it in order.
        """
        distinct, starts, counts_all, block_members = self._block_index()
        k = queries.shape[1]
        flat = queries.reshape(-1)
        qidx = np.flatnonzero(flat)
        if qidx.size == 0 or distinct.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        order = np.argsort(flat[qidx], kind="stable")
        qidx = qidx[order]
        q = flat[qidx]
        pos = np.minimum(np.searchsorted(distinct, q), distinct.size - 1)
        hit = (distinct[pos] == q) & (counts_all[pos] <= max_block)
        qidx, pos = qidx[hit], pos[hit]
        counts = counts_all[pos]
        total = int(counts.sum())
        rows = np.repeat(qidx // k, counts)
        first = np.repeat(starts[pos] - (np.cumsum(counts) - counts), counts)
        members = block_members[first + np.arange(total, dtype=np.int64)]
        return rows, members


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
        bsn = table.column("bsn").to_numpy()
        present = np.flatnonzero(bsn != 0)
        order = np.argsort(bsn[present], kind="stable")
        self._bsn_sorted = bsn[present][order]
        self._bsn_member = present[order]
        self._names: NameSide | None = None

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
        if self._bsn_sorted.size == 0 or keys.size == 0:
            return out
        order = np.argsort(keys)
        sk = keys[order]
        pos = np.minimum(np.searchsorted(self._bsn_sorted, sk), self._bsn_sorted.size - 1)
        hit = (self._bsn_sorted[pos] == sk) & (sk != 0)
        out[order[hit]] = self._bsn_member[pos[hit]]
        return out

    def refs(self, members: np.ndarray) -> list[str]:
        """The holder's references of the given member indices."""
        return self._table.column("ref").take(pa.array(members)).to_pylist()
