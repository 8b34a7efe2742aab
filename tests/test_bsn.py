"""BSN rules against python-stdnum and against brute-force enumeration."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.nl import bsn as stdbsn

from matchers import bsn


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=999_999_999), min_size=1, max_size=50))
def test_checksum_matches_stdnum(values: list[int]) -> None:
    got = bsn.checksum_ok(np.array(values, dtype=np.int64)).tolist()
    want = [stdbsn.is_valid(f"{v:09d}") for v in values]
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789 .-a", max_size=14))
def test_parse_column_agrees_with_stdnum_for_8_and_9_digits(text: str) -> None:
    values, status = bsn.parse_column(pa.array([text]))
    compact = "".join(c for c in text.strip() if c not in " .-")
    if compact.isdigit() and len(compact) in (8, 9):
        assert (status[0] == bsn.VALID) == stdbsn.is_valid(compact)
        if status[0] == bsn.VALID:
            assert values[0] == int(compact)
    else:
        # stdnum pads any short number; we pad only 8 digits (DESIGN.md).
        assert status[0] == bsn.ABSENT


def test_only_eight_digits_are_padded() -> None:
    _, status = bsn.parse_column(pa.array(["1000007", "12345672", None, "", "000000000"]))
    assert stdbsn.is_valid("1000007")  # stdnum would pad this one
    assert status.tolist() == [bsn.ABSENT, bsn.VALID, bsn.ABSENT, bsn.ABSENT, bsn.ABSENT]


def test_separators_are_stripped() -> None:
    values, status = bsn.parse_column(pa.array(["1112.22.333", "111 222 333", "111-222-333"]))
    assert values.tolist() == [111222333] * 3
    assert status.tolist() == [bsn.VALID] * 3


def _brute_neighbours(v: int) -> set[int]:
    s = f"{v:09d}"
    out = set()
    for i in range(9):
        for d in "0123456789":
            t = s[:i] + d + s[i + 1 :]
            if t != s and stdbsn.is_valid(t):
                out.add(int(t))
    for i in range(8):
        t = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        if t != s and stdbsn.is_valid(t):
            out.add(int(t))
    return out


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=999_999_999))
def test_neighbours_match_brute_force(v: int) -> None:
    got = {int(x) for x in bsn.neighbours(np.array([v]))[0] if x >= 0}
    assert got == _brute_neighbours(v)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10_000_000, max_value=999_999_999), st.data())
def test_every_typo_of_a_valid_bsn_fails_and_finds_its_way_back(v: int, data) -> None:
    # Turn v into a valid BSN by fixing its last digit, skipping values where none works.
    base = v - v % 10
    valid = [base + d for d in range(10) if bsn.checksum_ok(np.array([base + d]))[0]]
    if not valid:
        return
    good = valid[0]
    s = f"{good:09d}"
    i = data.draw(st.integers(min_value=0, max_value=7))
    if data.draw(st.booleans()):
        d = data.draw(st.sampled_from([c for c in "0123456789" if c != s[i]]))
        typo = s[:i] + d + s[i + 1 :]
    else:
        if s[i] == s[i + 1]:
            return
        typo = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    assert not stdbsn.is_valid(typo)
    assert good in set(bsn.neighbours(np.array([int(typo)]))[0].tolist())
