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

__all__ = [
    "CohortIndex",
    "MemberArrays",
    "NameSide",
    "aligned_empty",
    "block_directory",
    "first_look_rows",
]


class MemberArrays(Protocol):
    """A cohort's encodings as arrays, by name (see :mod:`matchers.snapshot`)."""

    size: int

    def array(self, name: str) -> np.ndarray:
        """One of: ``bsn_keys`` (sorted non-zero keyed BSNs) and ``bsn_members``;
        ``dob_pairs`` (n, 3), ``initial``; ``gn``, ``gx``, ``sn1`` (n, W); ``first_look``
        (:func:`first_look_rows`); ``block_entries`` (k, 2): every blocking key of every
        member with the member, sorted by key, and ``block_directory`` over their keys."""
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


def aligned_empty(shape: tuple[int, ...], dtype: str | np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary (a row
    of 64 bytes is then one cache line)."""
    dt = np.dtype(dtype)
    count = int(np.prod(shape))
    buf = np.empty(count * dt.itemsize + 64, dtype=np.uint8)
    skip = (-buf.ctypes.data) % 64
    return buf[skip : skip + count * dt.itemsize].view(dt).reshape(shape)


def first_look_rows(
    dob: np.ndarray, postcode: np.ndarray, gn: np.ndarray, gx: np.ndarray, sn0: np.ndarray,
    sn1: np.ndarray,
) -> np.ndarray:
    """Per member one 64-byte-aligned row of what every candidate pair is checked on first
    (:meth:`NameSide.first_look`): birth date, postcode, surname part 1's filter (W words),
    then the popcounts of given name, surname parts 1 and 2 and given name as surname, 16
    bits each from the low bits, zero-padded to a multiple of 8 words."""
    n, w = gn.shape
    rows = aligned_empty((n, -(-(3 + w) // 8) * 8), np.uint64)
    rows[:, 0] = dob
    rows[:, 1] = postcode
    rows[:, 2 : 2 + w] = sn0
    packed = np.zeros(n, dtype=np.uint64)
    for i, filters in enumerate((gn, sn0, sn1, gx)):
        packed |= popcount(filters).astype(np.uint64) << np.uint64(16 * i)
    rows[:, 2 + w] = packed
    rows[:, 3 + w :] = 0
    return rows


class NameSide:
    """What name + birth-date matching needs: per-member encodings and a block index."""

    def __init__(self, source: MemberArrays) -> None:
        self._first_look = source.array("first_look")
        self._dob_pairs: np.ndarray | None = None
        self.initial = source.array("initial")
        # Filters as C-contiguous (n, W) arrays: gathering rows of a strided view is many
        # times slower. Surname part 1 lives in first_look.
        self.gn = source.array("gn")
        self.gx = source.array("gx")
        self.sn1 = source.array("sn1")
        self._source = source
        self._block_index_cache: tuple[np.ndarray, np.ndarray, int] | None = None

    @property
    def dob_pairs(self) -> np.ndarray:
        """(n, 3) keyed two-of-three birth-date parts; read when first compared (only
        pairs whose postcodes agree compare them: a dump without postcodes never does)."""
        if self._dob_pairs is None:
            self._dob_pairs = self._source.array("dob_pairs")
        return self._dob_pairs

    def first_look(self) -> np.ndarray:
        """Per member one 64-byte row (:func:`first_look_rows`) of what every candidate
        pair is checked on first: candidates are millions of random members, and one cache
        line each costs less than five arrays' worth of misses."""
        return self._first_look

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
        which, members = which[same], found[:, 1].compress(same)
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

    def load_all(self) -> CohortIndex:
        """Read every array now. The index then no longer reads through the database
        connection it was loaded with, so a long-running process can keep it and use it
        from any thread, for scan after scan."""
        self.prepare(bsn=True, names=True)
        _ = self.names.dob_pairs
        self.refs(np.zeros(0, dtype=np.int64))  # the holders' references
        return self

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
