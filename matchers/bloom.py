"""Keyed Bloom-filter encodings (CLKs) of name fields, and their Dice similarity.

A name field becomes the set of its padded bigrams ('_jan_' -> _j ja an n_), each bigram
setting ``k`` bits chosen by a keyed hash, in a filter of ``bits`` bits. The Dice coefficient
of two filters approximates the Dice coefficient of the bigram sets, so typos cost a little
similarity instead of everything, while the bit positions mean nothing without the key.

Positions are computed once per distinct bigram (there are only a few thousand) and each
distinct field value is encoded once; rows refer to encoded values by index. The start
bigram ('_j') doubles as the initial: a leaked "J." is checked against a member's given-name
filter by testing the bits of '_j'.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["BloomEncoder", "dice", "popcount"]


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per filter (last axis holds the 64-bit words)."""
    return np.bitwise_count(words).sum(axis=-1, dtype=np.int32)


def dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice coefficient of filters, element-wise over leading axes; 0 where both are empty."""
    inter = popcount(a & b)
    total = popcount(a) + popcount(b)
    return np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 0.0)


class BloomEncoder:
    """Encodes normalised name fields into keyed Bloom filters of ``bits`` bits."""

    def __init__(
        self, key: bytes, *, bits: int = 256, k: int = 6, unigram_fields: str = "g"
    ) -> None:
        if bits % 64 or not 0 < k <= 16:
            raise ValueError("bits must be a multiple of 64 and k in 1..16")
        self.bits = bits
        self.words = bits // 64
        self.k = k
        # Letters as extra tokens make short given names forgiving of typos and swapped
        # letters ('jakc' ~ 'jack'); on surnames they would make unrelated names look alike.
        self.unigram_fields = frozenset(unigram_fields)
        self._key = key
        self._positions: dict[str, tuple[int, ...]] = {}

    def _bigram_positions(self, field: str, bigram: str) -> tuple[int, ...]:
        tag = field + ":" + bigram
        pos = self._positions.get(tag)
        if pos is None:
            digest = hashlib.blake2b(tag.encode(), key=self._key, digest_size=2 * self.k).digest()
            pos = tuple(
                int.from_bytes(digest[2 * i : 2 * i + 2], "little") % self.bits
                for i in range(self.k)
            )
            self._positions[tag] = pos
        return pos

    def token_mask(self, field: str, bigram: str) -> np.ndarray:
        """The filter holding just one bigram (used for the initial test)."""
        out = np.zeros(self.words, dtype=np.uint64)
        for p in self._bigram_positions(field, bigram):
            out[p >> 6] |= np.uint64(1) << np.uint64(p & 63)
        return out

    def encode(self, field: str, value: str) -> np.ndarray:
        """The filter of one normalised value; the empty string gives an empty filter."""
        out = np.zeros(self.words, dtype=np.uint64)
        if value:
            padded = f"_{value}_"
            bits = 0
            for i in range(len(padded) - 1):
                for p in self._bigram_positions(field, padded[i : i + 2]):
                    bits |= 1 << p
            if field in self.unigram_fields:
                for ch in set(value):
                    for p in self._bigram_positions(field, ch):
                        bits |= 1 << p
            out = np.frombuffer(bits.to_bytes(self.bits // 8, "little"), dtype="<u8").astype(
                np.uint64
            )
        return out

    def encode_many(self, field: str, values: list[str]) -> np.ndarray:
        """Filters for a list of values, shape (len(values), words)."""
        if not values:
            return np.zeros((0, self.words), dtype=np.uint64)
        return np.stack([self.encode(field, v) for v in values])
