"""BSN (burgerservicenummer) rules, vectorised over whole columns.

Semantics follow ``stdnum.nl.bsn`` (separators ' ', '.', '-' stripped; nine digits; not all
zeros; the 11-proof) with one deliberate difference: only an 8-digit value is left-padded
to 9 (a spreadsheet that ate the leading zero); stdnum pads any shorter digit string, which
would turn every small number in a dump into a candidate BSN.

Typo repair works on the fact that every single-digit substitution and every adjacent
transposition of a valid BSN fails the 11-proof: a failing 9-digit value is the signature of
a typo, and its 11-proof-valid neighbours are the only people it can have been.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ABSENT",
    "TYPO",
    "VALID",
    "checksum_ok",
    "is_valid",
    "neighbours",
    "parse_column",
]

ABSENT, VALID, TYPO = 0, 1, 2
_WEIGHTS = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1], dtype=np.int64)
_POW = 10 ** np.arange(8, -1, -1, dtype=np.int64)


def _digits(values: np.ndarray) -> np.ndarray:
    return (values[:, None] // _POW) % 10


def checksum_ok(values: np.ndarray) -> np.ndarray:
    """11-proof for an int64 array of 9-digit values (0 is never valid)."""
    values = np.asarray(values, dtype=np.int64)
    return ((_digits(values) @ _WEIGHTS) % 11 == 0) & (values > 0)


def is_valid(text: str) -> bool:
    """Scalar check with the same rules as :func:`parse_column` (used for content sniffing)."""
    s = "".join(ch for ch in text.strip() if ch not in " .-")
    if not (s.isascii() and s.isdigit()) or len(s) not in (8, 9):
        return False
    return bool(checksum_ok(np.array([int(s)]))[0])


def parse_column(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Normalise a string column into (int64 values, int8 status).

    Status is VALID (passes the 11-proof), TYPO (nine digits failing it: correctable) or
    ABSENT (empty, not digits, wrong length).
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    s = pc.replace_substring_regex(column, pattern=r"[\s.\-]+", replacement="")
    length = pc.utf8_length(s)
    shape_ok = pc.and_kleene(
        pc.ascii_is_decimal(s), pc.or_(pc.equal(length, 8), pc.equal(length, 9))
    )
    shape_ok = pc.fill_null(shape_ok, False)
    digits = pc.if_else(shape_ok, s, "0")
    values = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    ok = shape_ok.to_numpy(zero_copy_only=False)
    values = np.where(ok, values, 0)
    status = np.zeros(values.shape[0], dtype=np.int8)
    valid = checksum_ok(values) & ok
    status[valid] = VALID
    status[ok & ~valid & (values > 0)] = TYPO
    return values, status


def neighbours(values: np.ndarray) -> np.ndarray:
    """All 11-proof-valid single substitutions and adjacent swaps of each value.

    Returns an (n, 89) int64 array: 81 substitutions then 8 transpositions, -1 where the
    neighbour is not valid (or equals the value itself).
    """
    values = np.asarray(values, dtype=np.int64)
    n = values.shape[0]
    d = _digits(values)  # (n, 9)
    out = np.empty((n, 89), dtype=np.int64)
    col = 0
    for pos in range(9):
        base = values - d[:, pos] * _POW[pos]
        cand = base[:, None] + np.arange(10, dtype=np.int64)[None, :] * _POW[pos]
        cand = cand[cand != values[:, None]].reshape(n, 9) if n else np.empty((0, 9), np.int64)
        out[:, col : col + 9] = cand
        col += 9
    for pos in range(8):
        a, b = d[:, pos], d[:, pos + 1]
        swapped = values + (b - a) * _POW[pos] + (a - b) * _POW[pos + 1]
        out[:, col] = np.where(a != b, swapped, -1)
        col += 1
    flat = out.reshape(-1)
    keep = flat >= 0
    keep[keep] = checksum_ok(flat[keep])
    flat[~keep] = -1
    return out
