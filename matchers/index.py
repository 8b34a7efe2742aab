"""The in-memory cohort index: numpy arrays of keyed encodings, sorted for lookups.

A scan loads only the arrays it uses, when it first uses them, from a
:class:`MemberArrays` source (:mod:`matchers.snapshot` reads them from the state database):
a dump of BSNs needs the sorted keyed BSNs, a dump of names the name side — per-member
filters and keyed dates, and the blocking keys with their bucket directory.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from matchers.bloom import popcount

__all__ = ["CohortIndex", "MemberArrays", "NameSide", "block_directory"]


class MemberArrays(Protocol):
    """A cohort's encodings as arrays, by name (see :mod:`matchers.snapshot`)."""

    size: int

    def array(self, name: str) -> np.ndarray:
        """One of: ``bsn_keys`` (sorted non-zero keyed BSNs) and ``bsn_members``;
        ``dob``, ``dob_pairs`` (n, 3), ``initial``, ``postcode``; ``gn``, ``gx``, ``sn0``,
        ``sn1`` (n, W); ``block_entries`` (k, 2): every blocking key of every member
        with the member, sorted by key, and ``block_directory`` over their keys."""
        ...

    def refs(self, members: np.ndarray) -> list[str]:
        """The holder's references of these members."""
        ...


def block_directory(keys: np.ndarray) -> np.ndarray:
    """Where each bucket of sorted keys starts, over their top ``bits`` bits (the keys of
    bucket ``b`` are ``keys[dir[b]:dir[b+1]]``), with ``len(dir) == 2**bits + 1``.

    Keys are keyed PRF outputs, uniform over 64 bits; about two keys a bucket keeps a
    look-up to one short run and the directory small.
    """
    bits = int(min(max(max(keys.size, 1).bit_length() - 1, 1), 26))
    sizes = np.bincount((keys >> np.uint64(64 - bits)).astype(np.intp), minlength=1 << bits)
    directory = np.zeros((1 << bits) + 1, dtype=np.int64 if keys.size >> 31 else np.int32)
    np.cumsum(sizes, out=directory[1:])
    return directory


class NameSide:
    """What name + birth-date matching needs: per-member encodings and a block index."""

    def __init__(self, source: MemberArrays) -> None:
        self.dob = source.array("dob")
        self.dob_pairs = source.array("dob_pairs")
        self.initial = source.array("initial")
        self.postcode = source.array("postcode")
        # Filters as C-contiguous (n, W) arrays, the two surname parts apart: gathering
        # rows of a strided view is many times slower.
        self.gn = source.array("gn")
        self.gx = source.array("gx")
        self._sn_parts = (source.array("sn0"), source.array("sn1"))
        self._source = source
        self._block_index_cache: tuple[np.ndarray, np.ndarray, int] | None = None
        self._popcounts: tuple[np.ndarray, ...] | None = None
        self._first_look: np.ndarray | None = None

    def first_look(self) -> np.ndarray:
        """Per member one 64-byte-aligned row of what every candidate pair is checked on
        first: birth date, postcode, surname part 1's filter (W words), then the
        popcounts of given name, surname parts 1 and 2 and given name as surname packed
        in 16 bits each (in that order, from the low bits), zero-padded to a multiple of
        8 words. Candidates are millions of random members: one cache line each instead
        of five arrays' worth of misses."""
        if self._first_look is None:
            n, w = self.gn.shape
            width = -(-(3 + w) // 8) * 8
            buf = np.empty(n * width + 8, dtype=np.uint64)
            skip = ((-buf.ctypes.data) % 64) // 8
            rows = buf[skip : skip + n * width].reshape(n, width)
            rows[:, 0] = self.dob
            rows[:, 1] = self.postcode
            rows[:, 2 : 2 + w] = self._sn_parts[0]
            pg, ps0, ps1, px = (p.astype(np.uint64) for p in self.popcounts())
            rows[:, 2 + w] = pg | (ps0 << np.uint64(16)) | (ps1 << np.uint64(32)) | (
                px << np.uint64(48)
            )
            rows[:, 3 + w :] = 0
            self._first_look = rows
        return self._first_look

    def popcounts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Set bits of every member's given-name filter, surname-part filters (part 1,
        part 2) and given name as a surname; each (n,) int32."""
        if self._popcounts is None:
            sn0, sn1 = self._sn_parts
            self._popcounts = (popcount(self.gn), popcount(sn0), popcount(sn1), popcount(self.gx))
        return self._popcounts  # type: ignore[return-value]

    def surname_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """Every member's two surname-part filters, each (n, W)."""
        return self._sn_parts

    def _block_index(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(key, member) of every member's blocking keys sorted by key (a key and its
        member share a cache line), their :func:`block_directory` and its bits; read on
        first use only, as BSN-keyed scans never need them."""
        if self._block_index_cache is None:
            entries = self._source.array("block_entries")
            directory = self._source.array("block_directory")
            bits = (directory.size - 1).bit_length() - 1
            self._block_index_cache = (entries, directory, bits)
        return self._block_index_cache

    def candidates(self, queries: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
        """All (query row, member) pairs sharing a blocking key; blocks over ``max_block``
        members are passed over (a placeholder date shared by thousands identifies nobody).

        Pairs come in no particular order; a member listed twice under one key (both
        surname parts sound alike) gives its pair twice.
        """
        entries, directory, bits = self._block_index()
        k = queries.shape[1]
        q_all = queries.reshape(-1)
        qidx = np.flatnonzero(q_all)
        if qidx.size == 0 or entries.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        q = q_all[qidx]
        bucket = (q >> np.uint64(64 - bits)).astype(np.int64)
        lo = directory.take(bucket).astype(np.int64)
        span = directory.take(bucket + 1) - lo
        # Every key of each query's bucket: the query's own block plus a key or so of others.
        which = np.repeat(np.arange(q.size), span)
        pos = np.repeat(lo - (np.cumsum(span) - span), span) + np.arange(which.size)
        found = entries.take(pos, axis=0)
        same = found[:, 0] == q.take(which)
        which, members = which[same], found[same, 1]
        size = np.bincount(which, minlength=q.size)
        small = (size <= max_block).take(which)
        rows = (qidx.take(which[small])) // k
        return rows, members[small].astype(np.int64)


class CohortIndex:
    """A loaded cohort: BSN lookup and name side, each read on first use."""

    def __init__(self, name: str, source: MemberArrays) -> None:
        self.name = name
        self.size = source.size
        self._source = source
        self._bsn: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None = None
        self._names: NameSide | None = None

    def prepare(self, *, bsn: bool, names: bool) -> None:
        """Read now what a dump with these columns will need (the arrays are read anyway at
        first use; reading them ahead lets a scan overlap it with its first batches)."""
        if bsn:
            self._bsn_index()
        if names:
            side = self.names
            side._block_index()
            side.first_look()

    @property
    def names(self) -> NameSide:
        if self._names is None:
            self._names = NameSide(self._source)
        return self._names

    def _bsn_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Keyed BSNs sorted, with their members, and a :func:`block_directory` over
        them; read at the first BSN to look up (a dump of names only never needs them)."""
        if self._bsn is None:
            keys = self._source.array("bsn_keys")
            directory = block_directory(keys)
            bits = (directory.size - 1).bit_length() - 1
            self._bsn = (keys, self._source.array("bsn_members"), directory, bits)
        return self._bsn

    def lookup_bsn(self, keys: np.ndarray) -> np.ndarray:
        """Member index per keyed BSN, -1 where not in the cohort (0 keys never match); of
        members sharing a keyed BSN, the first in key order.

        Keyed BSNs are uniform over 64 bits, so a bucket directory over their top bits
        leads each key to a run of one or two: no sort, no binary search.
        """
        out = np.full(keys.shape, -1, dtype=np.int64)
        if keys.size == 0 or not keys.any():
            return out
        bsn_sorted, bsn_member, directory, bits = self._bsn_index()
        if bsn_sorted.size == 0:
            return out
        at = np.flatnonzero(keys)
        q = keys.take(at)
        bucket = (q >> np.uint64(64 - bits)).astype(np.int64)
        lo = directory.take(bucket).astype(np.int64)
        span = directory.take(bucket + 1) - lo
        which = np.repeat(np.arange(q.size), span)
        pos = np.repeat(lo - (np.cumsum(span) - span), span) + np.arange(which.size)
        same = bsn_sorted.take(pos) == q.take(which)
        which, pos = which[same], pos[same]
        first = np.ones(which.size, dtype=bool)  # runs are in key order: keep the first
        first[1:] = which[1:] != which[:-1]
        out[at.take(which[first])] = bsn_member.take(pos[first])
        return out

    def refs(self, members: np.ndarray) -> list[str]:
        """The holder's references of the given member indices."""
        return self._source.refs(members)
