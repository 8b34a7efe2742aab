"""Fingerprints of leaked datasets: recognise a dataset seen before, storing no raw value.

Two layers, because a leak comes back in two ways:

**File level** (:class:`FileHasher`, :class:`FileFingerprint`): SHA-256 and size say "exactly
this file again"; a TLSH fuzzy hash says "a file whose bytes look almost the same" (the same
export with a few rows edited). Both are fed the bytes *as they are read* (see
:class:`HashingReader`), so a 10 GB dump is hashed in the pass that scans it. A measurement
to keep in mind: TLSH compares byte-trigram statistics, so two *unrelated* tables of people
written by the same exporter are TLSH-close (distance ~10 for two 20k-row synthetic CSVs of
the same layout), while the *same* records re-written with other quoting or date format are
far (~100-330). TLSH is a hint of "same-looking file"; whether the data is the same is the
record sketch's call.

**Record level** (:class:`RecordFingerprinter`, :class:`RecordSketch`): a bottom-k sketch of
keyed hashes of normalised records, so the same data re-posted as CSV, SQL or XLSX, with
columns reordered or renamed, quoted differently, with empty columns added or dropped, is
recognised, and a sample posted first is recognised as *contained* in the full dump posted
later.

Record hash
    Each value is normalised: null -> "", whitespace trimmed and runs collapsed to one
    space, Unicode NFC, lower case; integers lose leading zeros and a ``.0``/``.00`` tail
    (``"012345.0" -> "12345"``: a BSN through a spreadsheet or a float export); zero-padded
    dates ``dd-mm-yyyy``, ``yyyy-mm-dd`` (separators ``-``, ``/``, ``.``; ISO optionally at
    `` 00:00:00``) become ``yyyymmdd``, because a CSV, an Excel date cell and an SQL
    ``DATE`` print the same day differently. Which Arrow kernels run is decided per column
    from its bytes, but each is the identity on values that do not need it, so a value's
    hash never depends on its neighbours (nor on how the file is cut into batches).

    A normalised value of at most 16 bytes (nearly every cell of a table of people) is
    read as two little-endian words, H = W0 + Q*W1, from aligned loads of the Arrow data
    buffer; a longer one gets a polynomial hash sum(b_i * P**i) mod 2**64, computed for a
    whole buffer with one prefix sum. No per-row Python anywhere. H plus the length goes
    through the MurmurHash3 finaliser (a bijection with fmix(0) = 0), and a row's values
    are summed mod 2**64: column order and names play no part, and an empty value (so an
    empty column) adds nothing. The finaliser matters: H is linear, and summing linear
    hashes would equate ``("ab", "cd")`` with ``("cb", "ad")``. Only then is the sum keyed,
    by one AES pass of :class:`~matchers.keyed.KeyedPRF` (own sub-key) over the batch,
    which also makes the record hash uniform. Keying each *value* instead would cost six
    AES blocks a row (OpenSSL's ECB ran at ~0.6 GB/s here: a third of the time budget) and
    protect nothing more, since no per-value hash ever leaves :meth:`record_hashes`.

Sketch
    Bottom-k with coordinated sampling: keep the ``k`` smallest *distinct* record hashes.
    Every dataset hashed under the same key samples the same records (those whose hash is
    small), which is what makes two sketches comparable. A sketch that has seen more than
    ``k`` distinct records is *truncated* at ``tau``, its largest kept value: it holds
    exactly the dataset's records with hash <= tau. Memory is bounded by ``k`` (8 bytes a
    value); each batch costs O(n) numpy plus a merge with the kept values.

Comparison (:func:`compare_sketches`)
    With tau' = min(tau_A, tau_B), A' = {a in A : a <= tau'} is *all* of A's records whose
    keyed hash falls below tau', likewise B'. Because the hash is a keyed PRF, whether a
    record falls below tau' is a coin flip with probability tau'/2**64 independent of its
    content, and the *same* flip for A and B (coordination). So A' and B' are a uniform
    random sample of A and B taken by one common rule; |A' & B'| / |A' | B'| estimates the
    Jaccard index and |A' & B'| / |A'| the containment of A in B. Conditioned on the sample
    sizes these are hypergeometric proportions: unbiased up to an O(1/n) ratio bias, with
    standard error sqrt(p(1-p)/n) <= 0.5/sqrt(n), n = |A'| (or |A' | B'| for Jaccard); hence
    the rule of thumb "error ~ 1/sqrt(n)". The comparison reports n so a caller can say how
    sure it is. When neither sketch is truncated, the values are the full sets and the
    figures are exact (up to 64-bit collisions, ~n**2 / 2**65).

Privacy
    A sketch holds keyed 64-bit hashes of *whole normalised records*, nothing per value.
    Without the key nothing can be tested against a guess (AES is a PRP; the hashes are
    indistinguishable from random numbers). With the key one can test a guessed complete
    record, exactly as precisely as the cohort encodings already allow a key holder to test
    a guessed BSN, so the sketch adds no capability to a thief of the key and database
    together; and it answers only for the ~k records that happened to be sampled. Record
    and distinct counts are stored, as reports already show them.

Public API: :class:`FileHasher`, :class:`FileFingerprint`, :class:`HashingReader`,
:func:`fingerprint_file`, :func:`tlsh_distance`, :func:`tlsh_near_identical`,
:class:`RecordFingerprinter`, :class:`RecordSketch`, :class:`SketchComparison`,
:func:`compare_sketches`.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, TypeAlias, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tlsh

from matchers.keyed import Domain, KeyedPRF, derive_subkey, key_check
from matchers.readers.base import TableBatch

__all__ = [
    "DEFAULT_K",
    "TLSH_MAX_BYTES",
    "TLSH_MIN_BYTES",
    "TLSH_NEAR_IDENTICAL",
    "FileFingerprint",
    "FileHasher",
    "HashingReader",
    "RecordFingerprinter",
    "RecordSketch",
    "SketchComparison",
    "compare_sketches",
    "fingerprint_file",
    "tlsh_distance",
    "tlsh_near_identical",
]

# --------------------------------------------------------------------------- file level

BytesLike: TypeAlias = bytes | bytearray | memoryview

TLSH_MIN_BYTES: Final = 50
"""TLSH gives no digest for less input than this (nor for input without enough variety)."""

TLSH_MAX_BYTES: Final = (1 << 32) - 1
"""TLSH is defined over the first 4 GiB of a stream (its length counter is 32-bit); the
rest of a larger file is hashed by SHA-256 only."""

TLSH_NEAR_IDENTICAL: Final = 40
"""TLSH distance at or below which two files count as near-identical.

The TLSH paper (Oliver, Cheng & Chen, 2013) measured, on its corpus, a false-positive rate
of 0.07% at a cut-off of 40 (detecting ~50% of related pairs) against 6.43% at 100 (~95%).
"Seen before" is a claim an operator acts on, so the low-false-positive cut-off is used; a
file edited in a few rows stays far below it (1% of rows replaced in a 20k-row CSV: distance
1; 11%: distance 3). But low distance only means "bytes look alike": two unrelated tables
from the same exporter scored 9. Report TLSH closeness as a hint and let the record sketch
decide whether the data is the same.
"""


@dataclass(frozen=True)
class FileFingerprint:
    """What is stored of one file: its SHA-256, size and TLSH digest (None when the file is
    too short or too uniform for TLSH)."""

    sha256: str
    size: int
    tlsh: str | None

    def to_dict(self) -> dict[str, object]:
        """For the JSON report and the state DB."""
        return {"sha256": self.sha256, "bytes": self.size, "tlsh": self.tlsh}


class FileHasher:
    """SHA-256, size and TLSH of a byte stream, fed chunk by chunk as the stream is read.

    SHA-256 releases the GIL and runs at ~1.5 GB/s; TLSH (py-tlsh) holds it and runs at
    ~100-120 MB/s, which makes TLSH the cost of this class.
    """

    def __init__(self, tlsh_bytes: int = TLSH_MAX_BYTES) -> None:
        self._sha = hashlib.sha256()
        self._tlsh = tlsh.Tlsh()
        self._tlsh_bytes = min(tlsh_bytes, TLSH_MAX_BYTES)
        self._size = 0
        self._result: FileFingerprint | None = None

    @property
    def size(self) -> int:
        """Bytes fed so far."""
        return self._size

    def update(self, data: BytesLike) -> None:
        """Feed the next bytes of the stream.

        :raises RuntimeError: after :meth:`finish`.
        """
        if self._result is not None:
            raise RuntimeError("FileHasher.update() after finish()")
        view = memoryview(data).cast("B")
        n = view.nbytes
        if not n:
            return
        self._sha.update(view)
        room = self._tlsh_bytes - self._size
        if room > 0:
            # py-tlsh accepts only immutable bytes (no memoryview or bytearray).
            part = view if n <= room else view[:room]
            self._tlsh.update(data if type(data) is bytes and n <= room else part.tobytes())
        self._size += n

    def finish(self) -> FileFingerprint:
        """The fingerprint of everything fed; later calls return the same object."""
        if self._result is None:
            self._result = FileFingerprint(self._sha.hexdigest(), self._size, self._tlsh_digest())
        return self._result

    def _tlsh_digest(self) -> str | None:
        if self._size < TLSH_MIN_BYTES:
            return None
        try:
            self._tlsh.final()
            digest = self._tlsh.hexdigest()
        except ValueError:  # "not enough variation in input"
            return None
        return digest if digest and digest != "TNULL" else None


def fingerprint_file(
    path: Path | str, *, chunk_size: int = 1 << 20, tlsh_bytes: int = TLSH_MAX_BYTES
) -> FileFingerprint:
    """The fingerprint of a file read on its own, for readers that open the path themselves
    (pyarrow's CSV reader); prefer :class:`HashingReader` where the reader takes a file
    object, which saves the second pass. ``tlsh_bytes``: TLSH over that prefix only (it
    runs at ~100 MB/s; SHA-256 always covers the whole file)."""
    hasher = FileHasher(tlsh_bytes)
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            hasher.update(chunk)
    return hasher.finish()


class HashingReader(io.RawIOBase):
    """A binary file object that feeds a :class:`FileHasher` with every byte it reads.

    Hand it to a reader instead of the file: the fingerprint then costs no second pass.
    Readers peek and seek back, so only bytes that extend the hashed prefix are hashed, once.
    :meth:`fingerprint` hashes whatever the reader did not read (a tail it never needed, a
    region it seeked over) and returns the file's fingerprint.

    :raises ValueError: the file object is not at its start.
    """

    def __init__(self, raw: BinaryIO, hasher: FileHasher | None = None) -> None:
        super().__init__()
        if raw.seekable() and raw.tell() != 0:
            raise ValueError("HashingReader needs a file positioned at its start")
        self._raw = raw
        self.hasher = hasher or FileHasher()
        self._pos = 0
        self._hashed = 0  # bytes [0, _hashed) have been fed to the hasher
        self._at_end = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._raw.seek(offset, whence)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int | None:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            n = readinto(view)
        else:
            data = self._raw.read(view.nbytes)
            n = len(data)
            view[:n] = data
        if n is None:  # non-blocking raw stream without data
            return None
        if n == 0:
            self._at_end = self._at_end or self._pos == self._hashed
        else:
            self._feed(view[:n], self._pos)
            self._pos += n
        return n

    def _feed(self, view: memoryview, at: int) -> None:
        end = at + view.nbytes
        if at <= self._hashed < end:
            self.hasher.update(view[self._hashed - at :])
            self._hashed = end

    def fingerprint(self, *, chunk_size: int = 1 << 20) -> FileFingerprint:
        """Hash the bytes not read yet, then the fingerprint of the whole file.

        :raises ValueError: bytes were skipped on a stream that cannot seek back.
        """
        if not self._at_end:
            if self._pos != self._hashed and not self._raw.seekable():
                raise ValueError("bytes were skipped on an unseekable stream")
            resume = self._pos
            if self._pos != self._hashed:
                self._raw.seek(self._hashed)
            while chunk := self._raw.read(chunk_size):
                self.hasher.update(chunk)
                self._hashed += len(chunk)
            self._at_end = True
            if self._raw.seekable():
                self._raw.seek(resume)
        return self.hasher.finish()


def tlsh_distance(a: str | None, b: str | None) -> int | None:
    """TLSH distance of two digests (0 = same buckets; lower = more alike), None when either
    file had no digest.

    :raises ValueError: a string that is not a TLSH digest.
    """
    if a is None or b is None:
        return None
    return int(tlsh.diff(a, b))


def tlsh_near_identical(a: str | None, b: str | None, threshold: int = TLSH_NEAR_IDENTICAL) -> bool:
    """Whether two files' bytes are near-identical by TLSH (see :data:`TLSH_NEAR_IDENTICAL`
    for what that does and does not mean)."""
    distance = tlsh_distance(a, b)
    return distance is not None and distance <= threshold


# ------------------------------------------------------------------------- record level

DEFAULT_K: Final = 65536
"""Sketch size: 512 KiB a dataset; containment of a 1,000-record sample in a big dump is
then judged on ~1000 * k / N records, and the Jaccard of two big dumps on ~k."""

_U64 = np.uint64
_TWO64 = float(1 << 64)
_MAX_U64 = (1 << 64) - 1

# Values of at most 16 bytes (nearly all in a table of people) are read as two
# little-endian words, H = W0 + Q * W1, which for up to 8 bytes is the bytes themselves.
# Longer values get a polynomial hash H = sum s_i * P**i mod 2**64; P is odd, so it has an
# inverse mod 2**64, which lets a whole buffer be hashed with one prefix sum.
_SHORT = 16
_Q = _U64(0xD6E8FEB86659FD93)
_P = 0x9E3779B97F4A7C15
_P_INV = pow(_P, -1, 1 << 64)
_CHUNK = 1 << 18  # bytes of long values hashed per prefix sum (bounds the power tables)
_LEN_MIX = _U64(0xC2B2AE3D27D4EB4F)
_FMIX1 = _U64(0xFF51AFD7ED558CCD)
_FMIX2 = _U64(0xC4CEB9FE1A85EC53)
_S33 = _U64(33)
_LOW32 = _U64(0xFFFFFFFF)
_S32 = _U64(32)
_S1, _S63 = _U64(1), _U64(63)
# _BYTES[k]: the low k bytes of a word (k = 0..8).
_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=_U64)

# The record stage's tag in the domain word of the PRF block. The fingerprint PRF runs
# under its own sub-key (HKDF label "fingerprint"), so no cohort encoding shares its key
# and the tag cannot collide with a Domain value.
_RECORD_TAG = cast(Domain, 0x46500001)
_KEY_LABEL = "fingerprint"

# Whitespace that is collapsed: ASCII \t..\r and space, NEL, and Unicode separators (Z*).
_WS_RUN = r"[\t-\r \x{85}\pZ]+"
_ZERO = 48  # b"0"


def _byte_mask(positions: tuple[int, ...]) -> np.uint64:
    return _U64(sum(0xFF << (8 * k) for k in positions))


def _word(text: bytes) -> np.uint64:
    return _U64(int.from_bytes(text, "little"))


_DMY_DIGITS = _byte_mask((0, 1, 3, 4, 6, 7))  # digits among bytes 0-7 of dd-mm-yyyy
_YMD_DIGITS = _byte_mask((0, 1, 2, 3, 5, 6))  # ... of yyyy-mm-dd
_TWO_DIGITS = _byte_mask((0, 1))  # bytes 8, 9 (the second word starts at byte 8)
_HIGH_NIBBLES = _U64(0xF0F0F0F0F0F0F0F0)
_THREES = _U64(0x3030303030303030)
_SIXES = _U64(0x0606060606060606)
_MIDNIGHT_8_15 = _word(b" 00:00")  # bytes 10-15 of "yyyy-mm-dd 00:00:00", in word 2
_MIDNIGHT_16_18 = _word(b":00")
_FF, _FFFF, _FFFFFF = _U64(0xFF), _U64(0xFFFF), _U64(0xFFFFFF)
_SHIFTS = [_U64(8 * k) for k in range(8)]


def _powers(base: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=_U64)
    out[0] = 1
    if n > 1:
        out[1:] = base
        np.cumprod(out[1:], out=out[1:])  # wraps mod 2**64
    return out


@functools.cache
def _power_tables() -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i for i <= _CHUNK (2 x 2 MiB, built on first use)."""
    return _powers(_P, _CHUNK + 1), _powers(_P_INV, _CHUNK + 1)


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets as int64, data bytes) of a string array, honouring its slice offset."""
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    data = bufs[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets.astype(np.int64), raw


def _unicode_space(u: np.ndarray) -> bool:
    """Whether UTF-8 bytes may hold a non-ASCII space: NBSP and NEL (C2 A0, C2 85), U+1680
    (E1 9A 80), U+2000-200A, 2028, 2029, 202F (E2 80 xx), U+205F (E2 81 9F), U+3000 (E3 80
    80): exactly the separators of ``_WS_RUN`` and ``utf8_trim_whitespace`` above ASCII."""
    lead = np.flatnonzero((u[:-1] == 0xC2) | ((u[:-1] - np.uint8(0xE1)) < 3))
    if lead.size == 0:
        return False
    first, second = u[lead], u[lead + 1]
    return bool(
        (
            ((first == 0xC2) & ((second == 0xA0) | (second == 0x85)))
            | ((first == 0xE1) & (second == 0x9A))
            | ((first == 0xE2) & ((second == 0x80) | (second == 0x81)))
            | ((first == 0xE3) & (second == 0x80))
        ).any()
    )


def _normalise_text(arr: pa.Array) -> pa.Array:
    """Whitespace, Unicode form and case, in Arrow kernels; returns a string array.

    The costly kernels (regex, NFC, Unicode lower case) run only on a column whose bytes
    show it needs them, and each is the identity on values that do not: whether a value
    is changed depends on the value alone, never on its neighbours, so a record hashes the
    same however the file is cut into batches.
    """
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    offsets, data = _string_buffers(arr)
    u = data[offsets[0] : offsets[-1]]
    if u.size == 0:
        return arr
    ascii_only = int(u.max()) < 0x80
    space = u == 32
    spaces = np.count_nonzero(space)
    controls = np.count_nonzero((u - np.uint8(9)) < 5)  # \t \n \v \f \r
    collapse = bool(controls) or (spaces > 1 and bool((space[:-1] & space[1:]).any()))
    if not ascii_only and not collapse:
        collapse = _unicode_space(u)
    if collapse:
        arr = pc.utf8_trim(pc.replace_substring_regex(arr, _WS_RUN, " "), " ")
    elif spaces:
        starts = offsets[:-1] - offsets[0]
        ends = offsets[1:] - offsets[0]
        filled = ends > starts
        edge = (u[starts[filled]] == 32) | (u[ends[filled] - 1] == 32)
        if edge.any():
            arr = pc.utf8_trim(arr, " ")
    if ascii_only:
        return pc.ascii_lower(arr)  # cheaper than finding out whether it is needed
    # Code points below U+0300 are in NFC already (the first NFC_QC=Maybe is U+0300), and
    # lead bytes >= 0xCC encode exactly the code points from U+0300 up.
    if np.count_nonzero(u >= 0xCC):
        arr = pc.utf8_normalize(arr, "NFC")
    return pc.utf8_lower(arr)


def _skip_zeros(u: np.ndarray, pos: np.ndarray, limit: np.ndarray, step: int) -> np.ndarray:
    """Move each ``pos`` over '0' bytes (forward: step 1, reading u[pos]; backward: step -1,
    reading u[pos-1]) but not past ``limit``. A few vectorised steps cover real data; a
    value with more zeros is finished by a search over the buffer's non-zero bytes."""
    pos = pos.copy()
    look = 0 if step > 0 else -1
    active = np.flatnonzero((pos != limit) & (u[np.minimum(pos + look, u.size - 1)] == _ZERO))
    for _ in range(8):
        if active.size == 0:
            return pos
        pos[active] += step
        p = pos[active]
        active = active[(p != limit[active]) & (u[p + look] == _ZERO)]
    if active.size:
        non_zero = np.flatnonzero(u != _ZERO)
        p = pos[active]
        if step > 0:
            k = np.searchsorted(non_zero, p, side="left")
            found = non_zero[np.minimum(k, non_zero.size - 1)] if non_zero.size else p
            nxt = np.where(k < non_zero.size, found, u.size)
            pos[active] = np.minimum(nxt, limit[active])
        else:
            k = np.searchsorted(non_zero, p, side="left") - 1
            found = non_zero[np.maximum(k, 0)] + 1 if non_zero.size else p
            prev = np.where(k >= 0, found, 0)
            pos[active] = np.maximum(prev, limit[active])
    return pos


def _canonical_numbers(
    arr: pa.Array, u: np.ndarray, s: np.ndarray, e: np.ndarray, w0: np.ndarray, w1: np.ndarray
) -> np.ndarray:
    """In place: narrow [s, e) of integers to drop leading zeros (keeping one digit) and a
    ``.0``/``.00``... tail, as spreadsheets and float exports write them; returns the rows
    changed. ``w0``, ``w1`` hold each value's first 16 bytes (see :class:`_Words`)."""
    length = e - s
    # Cheap necessary conditions first: "0<digit>..." and "...[0.]0", not ".0".
    pair = (w0 & _FFFF) - _U64(0x3030)  # first two bytes less "00": 0x0d00 for "0<d>"
    lead = np.flatnonzero((pair < _U64(0x0A00)) & ((pair & _FF) == 0))
    tail = np.flatnonzero((u[np.maximum(e - 1, 0)] == _ZERO) & (length >= 3))
    if tail.size:
        before = u[e[tail] - 2]
        tail = tail[((before == _ZERO) | (before == 46)) & ((w0[tail] & _FF) != _U64(46))]
    if lead.size == 0 and tail.size == 0:
        return lead
    if lead.size:
        lead = lead[_is_integer(arr, lead, length[lead], w0[lead], w1[lead])]
    changed = lead
    if tail.size:
        # Strip the zeros, find the dot; then the value is an integer iff dropping its
        # first "." leaves only digits.
        q = _skip_zeros(u, e[tail], s[tail] + 1, -1)
        dot = (q < e[tail]) & (u[q - 1] == 46) & (q - 1 > s[tail])
        tail, q = tail[dot], q[dot] - 1
        if tail.size:
            sub = pc.replace_substring(arr.take(pa.array(tail)), ".", "", max_replacements=1)
            ok = pc.ascii_is_decimal(sub).to_numpy(zero_copy_only=False)
            tail, q = tail[ok], q[ok]
            e[tail] = q
            lead = np.union1d(lead, tail[u[s[tail]] == _ZERO])
            changed = np.union1d(lead, tail)
    if lead.size:
        s[lead] = _skip_zeros(u, s[lead], e[lead] - 1, 1)
    return changed


def _is_integer(
    arr: pa.Array, rows: np.ndarray, length: np.ndarray, w0: np.ndarray, w1: np.ndarray
) -> np.ndarray:
    """Whether the given rows are all ASCII digits: from their words when at most 16 bytes
    long (bytes past the length are zero in them), else by Arrow."""
    ok = _all_digits(w0, _BYTES[np.minimum(length, 8)])
    ok &= _all_digits(w1, _BYTES[np.clip(length - 8, 0, 8)])
    long = np.flatnonzero(length > _SHORT)
    if long.size:
        sub = arr.take(pa.array(rows[long]))
        ok[long] = pc.ascii_is_decimal(sub).to_numpy(zero_copy_only=False)
    return ok


def _all_digits(word: np.ndarray, mask: np.uint64) -> np.ndarray:
    """Whether the bytes of little-endian ``word`` selected by ``mask`` are all ASCII digits
    (SWAR: high nibble 3, and adding 6 to the low nibble does not carry)."""
    expect = _THREES & mask
    high = _HIGH_NIBBLES & mask
    return ((word & high) == expect) & (((word + _SIXES) & high) == expect)


def _byte(word: np.ndarray, k: int) -> np.ndarray:
    return (word >> _SHIFTS[k]) & _FF


def _is_separator(c: np.ndarray) -> np.ndarray:
    return (c - _U64(45)) < 3  # - . /


def _date_words(
    w0: np.ndarray, w1: np.ndarray, words: _Words, s: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows holding a zero-padded day-first or ISO date (``dd-mm-yyyy``, ``yyyy-mm-dd``
    with ``-``, ``/`` or ``.``, ISO optionally at `` 00:00:00``), and their canonical
    ``yyyymmdd`` as a word: what the literal text ``yyyymmdd`` reads as."""
    rows = np.flatnonzero((length == 10) | (length == 19))
    if rows.size == 0:
        return rows, np.zeros(0, dtype=_U64)
    lo, hi, ln = w0[rows], w1[rows], length[rows]
    # Separators first: they also guarantee that the SWAR digit tests cannot carry.
    sep2, sep4 = _byte(lo, 2), _byte(lo, 4)
    dmy = (ln == 10) & (sep2 == _byte(lo, 5)) & _is_separator(sep2)
    ymd = (sep4 == _byte(lo, 7)) & _is_separator(sep4)
    two = _all_digits(hi, _TWO_DIGITS)
    dmy &= two & _all_digits(lo, _DMY_DIGITS)
    ymd &= two & _all_digits(lo, _YMD_DIGITS)
    long = np.flatnonzero(ymd & (ln == 19))
    if long.size:
        tail = (words.at(s[rows[long]] + 16) & _FFFFFF) == _MIDNIGHT_16_18
        ymd[long] = ((hi[long] >> _U64(16)) == _MIDNIGHT_8_15) & tail
    out = np.zeros(rows.size, dtype=_U64)
    d = np.flatnonzero(dmy)
    if d.size:  # dd-mm-yyyy: lo = d d - m m - y y, hi = y y
        a, b = lo[d], hi[d]
        out[d] = (
            (a >> _U64(48))
            | ((b & _FFFF) << _U64(16))
            | (((a >> _U64(24)) & _FFFF) << _U64(32))
            | ((a & _FFFF) << _U64(48))
        )
    y = np.flatnonzero(ymd)
    if y.size:  # yyyy-mm-dd: lo = y y y y - m m -, hi = d d
        a, b = lo[y], hi[y]
        out[y] = (a & _LOW32) | (((a >> _U64(40)) & _FFFF) << _U64(32)) | ((b & _FFFF) << _U64(48))
    keep = np.flatnonzero(dmy | ymd)
    return rows[keep], out[keep]


def _poly_hash(u: np.ndarray, offsets: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """H(u[s:e]) for every row, from prefix sums over chunks of the buffer.

    With C[j] = sum_{i<j} u_i P**(i-base), H(u[s:e]) = (C[e] - C[s]) * P**-(s-base): one
    multiply and one running sum per byte, O(1) per value; an empty value hashes to 0.
    ``offsets`` (relative to ``u``) bound each row's [s, e) and cut the chunks.
    """
    n = s.size
    out = np.zeros(n, dtype=_U64)
    i0 = 0
    while i0 < n:
        base = int(offsets[i0])
        i1 = int(np.searchsorted(offsets, base + _CHUNK, side="right")) - 1
        i1 = min(max(i1, i0 + 1), n)
        top = int(offsets[i1])
        span = top - base
        if span:
            if span <= _CHUNK:
                pw, pinv = _power_tables()
            else:  # one value longer than a chunk
                pw, pinv = _powers(_P, span + 1), _powers(_P_INV, span + 1)
            c = np.empty(span + 1, dtype=_U64)
            c[0] = 0
            run = c[1:]
            run[:] = u[base:top]
            np.multiply(run, pw[:span], out=run)
            np.cumsum(run, out=run)
            rs = s[i0:i1] - base
            out[i0:i1] = (c[e[i0:i1] - base] - c[rs]) * pinv[rs]
        i0 = i1
    return out


def _long_hashes(
    u: np.ndarray, rel: np.ndarray, s: np.ndarray, e: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """Polynomial hashes of the given (long) rows: over the whole buffer when they are
    most of it, else over a compact copy of just their bytes."""
    if rows.size * 4 > s.size:
        return _poly_hash(u, rel, s, e)[rows]
    length = e[rows] - s[rows]
    starts = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(length, out=starts[1:])
    index = np.repeat(s[rows] - starts[:-1], length) + np.arange(int(starts[-1]))
    return _poly_hash(u[index], starts, starts[:-1], starts[1:])


def _value_hashes(arr: pa.Array) -> np.ndarray:
    """Unkeyed 64-bit hash of every normalised value of a column; 0 for an empty value.

    H (the bytes as words, or the polynomial hash of a long value) plus the length, through
    the MurmurHash3 finaliser: a bijection with fmix(0) = 0, so empty values add nothing to
    a row's sum, and non-linear, which keeps sums of different values apart (summing the
    linear H itself would equate ("ab", "cd") with ("cb", "ad")).
    """
    arr = _normalise_text(arr)
    offsets, data = _string_buffers(arr)
    base = int(offsets[0])
    u = data[base : int(offsets[-1])]
    rel = offsets - base
    s = rel[:-1].copy()
    e = rel[1:].copy()
    if u.size == 0:
        return np.zeros(s.size, dtype=_U64)
    words = _Words(u)
    length = e - s
    w0, w1 = words.first_two(s, length, fixed=True)
    if np.count_nonzero(u == _ZERO):
        changed = _canonical_numbers(arr, u, s, e, w0, w1)
        if changed.size:
            length[changed] = e[changed] - s[changed]
            w0[changed], w1[changed] = words.first_two(s[changed], length[changed])
    rows, dates = _date_words(w0, w1, words, s, length)
    h = w1 * _Q
    h += w0
    long = np.flatnonzero(length > _SHORT)
    if long.size:
        h[long] = _long_hashes(u, rel, s, e, long)
    if rows.size:
        h[rows] = dates
        length[rows] = 8
    h += length.astype(_U64) * _LEN_MIX
    return _fmix64(h)


class _Words:
    """Little-endian 8-byte words at any byte position of a buffer, from aligned loads
    (numpy gathers from an unaligned view take a slow path)."""

    def __init__(self, u: np.ndarray) -> None:
        self._u = u
        self._a = np.zeros((u.size >> 3) + 4, dtype=_U64)
        self._a.view(np.uint8)[: u.size] = u

    def at(self, pos: np.ndarray) -> np.ndarray:
        """The eight bytes from each ``pos`` (zeros past the end)."""
        q = pos >> 3
        shift = ((pos & 7) << 3).astype(_U64)
        out = self._a[q] >> shift
        out |= (self._a[q + 1] << _S1) << (_S63 - shift)  # two steps: x << 64 must be 0
        return out

    def first_two(
        self, s: np.ndarray, length: np.ndarray, *, fixed: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Bytes 0-7 and 8-15 of each value as words, zero beyond its length. With
        ``fixed``, a column of equal-length values (BSNs, dates) is read by a reshape."""
        n = s.size
        if fixed and n and 0 < int(length[0]) <= _SHORT and int(length[0]) * n == self._u.size:
            width = int(length[0])
            if int(length.min()) == width == int(length.max()):
                m = np.zeros((n, 16), dtype=np.uint8)
                m[:, :width] = self._u.reshape(n, width)
                v = m.view("<u8")
                return v[:, 0].copy(), v[:, 1].copy()
        w0 = self.at(s)
        w0 &= _BYTES[np.minimum(length, 8)]
        w1 = np.zeros(n, dtype=_U64)
        more = np.flatnonzero(length > 8)
        if more.size:
            w1[more] = self.at(s[more] + 8) & _BYTES[np.minimum(length[more] - 8, 8)]
        return w0, w1


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place: a bijection that mixes every input bit."""
    x ^= x >> _S33
    x *= _FMIX1
    x ^= x >> _S33
    x *= _FMIX2
    x ^= x >> _S33
    return x


class RecordSketch:
    """Bottom-k sketch of a dataset's distinct record hashes; see the module docstring.

    ``values`` is sorted and distinct. ``records`` counts non-empty records fed (with
    repeats); ``distinct`` is exact while the sketch is not truncated, else the bottom-k
    estimate (k - 1) / (tau / 2**64).
    """

    _HEADER = struct.Struct("<4sBBHIQQ8s")
    _MAGIC = b"CWRS"
    _VERSION = 1

    def __init__(self, k: int = DEFAULT_K, *, key_tag: str = "") -> None:
        if not 2 <= k < 1 << 32:
            raise ValueError(f"sketch size k is {k}; it must be in 2 .. 2**32-1")
        self.k = k
        self.key_tag = key_tag
        self.records = 0
        self.truncated = False
        self.values = np.zeros(0, dtype=_U64)

    @property
    def tau(self) -> int:
        """Every record hash <= tau of the dataset is in ``values``."""
        return int(self.values[-1]) if self.truncated else _MAX_U64

    @property
    def distinct_is_exact(self) -> bool:
        """True while every distinct record hash is kept."""
        return not self.truncated

    @property
    def distinct(self) -> int:
        """Distinct records: exact, or estimated once truncated (relative error ~1/sqrt(k))."""
        if not self.truncated:
            return int(self.values.size)
        return round((self.k - 1) / ((self.tau + 1) / _TWO64))

    def add(self, hashes: np.ndarray, records: int | None = None) -> None:
        """Feed record hashes (uint64, any order, repeats allowed); ``records`` is how many
        records they stand for (default: their number)."""
        hashes = np.asarray(hashes, dtype=_U64)
        self.records += hashes.size if records is None else records
        if self.truncated:
            hashes = hashes[hashes < self.values[-1]]
        if hashes.size == 0:
            return
        cand = np.unique(hashes)
        overflow = cand.size > self.k
        if overflow:
            cand = cand[: self.k]
        kept = self.values
        if kept.size:
            pos = np.searchsorted(kept, cand)
            dup = kept[np.minimum(pos, kept.size - 1)] == cand
            cand, pos = cand[~dup], pos[~dup]
            if cand.size == 0:
                return
            merged = np.insert(kept, pos, cand)
        else:
            merged = cand
        if overflow or merged.size > self.k:
            merged = merged[: self.k]
            self.truncated = True
        self.values = merged

    def merge(self, other: RecordSketch) -> RecordSketch:
        """The sketch of the union of two datasets (e.g. the files of one archive).

        :raises ValueError: the sketches were made under different keys.
        """
        _same_key(self, other)
        k = min(self.k, other.k)
        out = RecordSketch(k, key_tag=self.key_tag or other.key_tag)
        limit = min(self.tau, other.tau)
        union = np.union1d(self.values, other.values)
        union = union[union <= _U64(limit)]
        out.truncated = self.truncated or other.truncated or union.size > k
        out.values = union[:k]
        out.records = self.records + other.records
        return out

    def to_bytes(self) -> bytes:
        """Compact storage form: a 36-byte header and 8 bytes per kept value."""
        header = self._HEADER.pack(
            self._MAGIC,
            self._VERSION,
            1 if self.truncated else 0,
            0,
            self.k,
            self.records,
            self.distinct,
            bytes.fromhex(self.key_tag) if self.key_tag else bytes(8),
        )
        return header + self.values.astype("<u8").tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> RecordSketch:
        """Inverse of :meth:`to_bytes`.

        :raises ValueError: not a sketch, or a damaged one.
        """
        size = cls._HEADER.size
        if len(blob) < size or (len(blob) - size) % 8:
            raise ValueError("not a record sketch (bad length)")
        magic, version, flags, _, k, records, distinct, tag = cls._HEADER.unpack_from(blob)
        if magic != cls._MAGIC or version != cls._VERSION:
            raise ValueError("not a record sketch (bad magic or version)")
        values = np.frombuffer(blob, dtype="<u8", offset=size).astype(_U64)
        truncated = bool(flags & 1)
        if (
            values.size > k
            or (truncated and values.size != k)
            or (values.size > 1 and not bool((values[1:] > values[:-1]).all()))
            or (not truncated and distinct != values.size)
        ):
            raise ValueError("damaged record sketch")
        out = cls(k, key_tag=tag.hex() if any(tag) else "")
        out.truncated = truncated
        out.records = records
        out.values = values
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordSketch):
            return NotImplemented
        return (
            self.k == other.k
            and self.key_tag == other.key_tag
            and self.records == other.records
            and self.truncated == other.truncated
            and np.array_equal(self.values, other.values)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"RecordSketch(k={self.k}, records={self.records}, distinct={self.distinct}"
            f"{'~' if self.truncated else ''}, kept={self.values.size})"
        )


def _same_key(a: RecordSketch, b: RecordSketch) -> None:
    if a.key_tag and b.key_tag and a.key_tag != b.key_tag:
        raise ValueError("record sketches were made under different keys; they cannot be compared")


class RecordFingerprinter:
    """Keyed record hashes of table batches, accumulated into a :class:`RecordSketch`.

    One instance per dataset (or per file, merged with :meth:`RecordSketch.merge`): call
    :meth:`update` with every batch the reader hands out, then take :attr:`sketch`.
    """

    def __init__(self, key: bytes, k: int = DEFAULT_K) -> None:
        self._prf = KeyedPRF(derive_subkey(key, _KEY_LABEL))
        self.sketch = RecordSketch(k, key_tag=key_check(key))

    def update(self, batch: TableBatch | pa.RecordBatch | pa.Table) -> None:
        """Add a batch's records to the sketch."""
        hashes = self.record_hashes(batch)
        self.sketch.add(hashes)

    def record_hashes(self, batch: TableBatch | pa.RecordBatch | pa.Table) -> np.ndarray:
        """Keyed hash of every non-empty record of ``batch``, in row order (uint64).

        A record whose values are all empty after normalisation is not a record and is left
        out; column order and names play no part.
        """
        data = batch.data if isinstance(batch, TableBatch) else batch
        n = data.num_rows
        if n == 0 or data.num_columns == 0:
            return np.zeros(0, dtype=_U64)
        total = np.zeros(n, dtype=_U64)
        filled = np.zeros(n, dtype=bool)
        for i in range(data.num_columns):
            col = data.column(i)
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            values = _value_hashes(col)  # 0 exactly for an empty value (up to 2**-64)
            total += values  # mod 2**64: column order plays no part
            filled |= values != 0
        total = total[filled]
        if total.size == 0:
            return total
        return self._prf.encode(
            _RECORD_TAG,
            (total & _LOW32).astype(np.uint32),
            (total >> _S32).astype(np.uint32),
        )


@dataclass(frozen=True)
class SketchComparison:
    """How two datasets' records overlap, estimated from their sketches.

    ``sample_a`` / ``sample_b`` are |A'| and |B'|, the records each estimate rests on
    (``sample_union`` for Jaccard); the standard error of a containment is at most
    0.5/sqrt(sample), and ``exact`` says both sketches held their full sets.
    """

    jaccard: float
    containment_a_in_b: float
    containment_b_in_a: float
    shared: int
    sample_a: int
    sample_b: int
    sample_union: int
    exact: bool

    def margin(self, sample: int, z: float = 2.0) -> float:
        """A conservative ``z``-sigma error bound for a proportion estimated on ``sample``
        records (0 when exact, 1 when there is no sample)."""
        if self.exact:
            return 0.0
        return 1.0 if sample <= 0 else min(1.0, z * 0.5 / math.sqrt(sample))

    def to_dict(self) -> dict[str, object]:
        """For the JSON report and the state DB."""
        return {
            "jaccard": round(self.jaccard, 6),
            "containment_a_in_b": round(self.containment_a_in_b, 6),
            "containment_b_in_a": round(self.containment_b_in_a, 6),
            "shared": self.shared,
            "sample_a": self.sample_a,
            "sample_b": self.sample_b,
            "exact": self.exact,
        }


def compare_sketches(a: RecordSketch, b: RecordSketch) -> SketchComparison:
    """Jaccard index and containment both ways of the datasets behind two sketches.

    :raises ValueError: the sketches were made under different keys.
    """
    _same_key(a, b)
    tau = _U64(min(a.tau, b.tau))
    sa = a.values[a.values <= tau]
    sb = b.values[b.values <= tau]
    shared = int(np.intersect1d(sa, sb, assume_unique=True).size)
    union = sa.size + sb.size - shared
    return SketchComparison(
        jaccard=shared / union if union else 0.0,
        containment_a_in_b=shared / sa.size if sa.size else 0.0,
        containment_b_in_a=shared / sb.size if sb.size else 0.0,
        shared=shared,
        sample_a=int(sa.size),
        sample_b=int(sb.size),
        sample_union=int(union),
        exact=not (a.truncated or b.truncated),
    )
