"""Bloom-filter Dice against plain bigram-set Dice (differential)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers.bloom import BloomEncoder, dice

KEY = bytes(range(32))


def _bigrams(s: str) -> set[str]:
    p = f"_{s}_"
    return {p[i : i + 2] for i in range(len(p) - 1)}


def _set_dice(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y))


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=14)


def _oracle_dice(a: str, b: str) -> float:
    """Dice over the sets of bit positions, computed with Python sets and hashlib."""
    import hashlib

    def positions(s: str) -> set[int]:
        out = set()
        for g in _bigrams(s):
            d = hashlib.blake2b(f"s:{g}".encode(), key=KEY, digest_size=12).digest()
            out.update(int.from_bytes(d[2 * i : 2 * i + 2], "little") % 256 for i in range(6))
        return out

    x, y = positions(a), positions(b)
    return 2 * len(x & y) / (len(x) + len(y))


@settings(max_examples=300, deadline=None)
@given(names, names)
def test_filter_dice_equals_position_set_dice(a: str, b: str) -> None:
    enc = BloomEncoder(KEY, bits=256, k=6)
    got = float(dice(enc.encode("s", a), enc.encode("s", b)))
    assert abs(got - _oracle_dice(a, b)) < 1e-12
    if a == b:
        assert got == 1.0


def test_filter_dice_tracks_bigram_dice_on_average() -> None:
    rng = np.random.default_rng(7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    enc = BloomEncoder(KEY, bits=256, k=6)
    errors = []
    for _ in range(2000):
        a = "".join(rng.choice(letters, rng.integers(3, 12)))
        b = a if rng.random() < 0.3 else "".join(rng.choice(letters, rng.integers(3, 12)))
        if rng.random() < 0.5 and len(a) > 3:  # one typo
            i = int(rng.integers(0, len(a)))
            b = a[:i] + str(rng.choice(letters)) + a[i + 1 :]
        errors.append(float(dice(enc.encode("s", a), enc.encode("s", b))) - _set_dice(a, b))
    assert abs(float(np.mean(errors))) < 0.08
    assert float(np.mean(np.abs(errors))) < 0.1


def test_keys_and_fields_change_positions() -> None:
    a = BloomEncoder(KEY).encode("s", "vries")
    b = BloomEncoder(bytes(32)).encode("s", "vries")
    c = BloomEncoder(KEY).encode("g", "vries")
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_initial_mask_is_inside_given_name_filter() -> None:
    enc = BloomEncoder(KEY)
    mask = enc.token_mask("g", "_j")
    assert np.array_equal(enc.encode("g", "jan") & mask, mask)
    assert not np.array_equal(enc.encode("g", "piet") & mask, mask)
