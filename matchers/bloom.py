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
    """Set bits per filter (last axis holds the 64-bit words), as int32."""
    counts = np.bitwise_count(words)
    # Adding the few word columns is several times faster than numpy's reduction over a
    # short last axis.
    out = counts[..., 0].astype(np.int32)
    for i in range(1, counts.shape[-1]):
        out += counts[..., i]
    return out


def dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice coefficient of filters, element-wise over leading axes; 0 where both are empty."""
    inter = popcount(a & b)
    total = popcount(a) + popcount(b)
    return np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 0.0)


def _letters(value: str) -> bool:
    """Only the letters a-z (and at least one)."""
    return value.isascii() and value.isalpha() and value.islower()


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
        self._tables: dict[str, np.ndarray] = {}

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
        """Filters for a list of values, shape (len(values), words); equal to
        :meth:`encode` per value. Values of letters a-z (every normalised name) are encoded
        together with numpy: bigrams become codes, codes a table of keyed positions."""
        out = np.zeros((len(values), self.words), dtype=np.uint64)
        plain = [i for i, v in enumerate(values) if _letters(v)]
        for i in sorted(set(range(len(values))) - set(plain)):
            out[i] = self.encode(field, values[i])
        if plain:
            out[plain] = self._encode_letters(field, [values[i] for i in plain])
        return out

    def _table(self, field: str) -> np.ndarray:
        """Keyed positions (rows) of every bigram over '_' and a-z (code 27 * a + b, '_' = 0,
        'a' = 1) and, from row 729, of every letter as a token of its own."""
        table = self._tables.get(field)
        if table is None:
            chars = "_" + "abcdefghijklmnopqrstuvwxyz"
            grams = [a + b for a in chars for b in chars] + list(chars)
            table = np.array([self._bigram_positions(field, g) for g in grams], dtype=np.int64)
            self._tables[field] = table
        return table

    def _encode_letters(self, field: str, values: list[str]) -> np.ndarray:
        n = len(values)
        table = self._table(field)
        padded = np.frombuffer("".join("_" + v + "_" for v in values).encode(), dtype=np.uint8)
        codes = np.where(padded == ord("_"), 0, padded.astype(np.int64) - (ord("a") - 1))
        lens = np.fromiter((len(v) + 2 for v in values), dtype=np.int64, count=n)
        owner = np.repeat(np.arange(n), lens)
        # A bigram starts at every character but the last of each padded value.
        starts = np.ones(codes.size, dtype=bool)
        starts[np.cumsum(lens) - 1] = False
        grams = (codes[:-1] * 27 + codes[1:])[starts[:-1]]
        gram_owner = owner[:-1][starts[:-1]]
        if field in self.unigram_fields:
            letters = codes != 0
            grams = np.concatenate([grams, 729 + codes[letters]])
            gram_owner = np.concatenate([gram_owner, owner[letters]])
        bits = np.zeros(n * self.bits, dtype=bool)
        at = table.take(grams, axis=0) + (gram_owner * self.bits)[:, None]
        bits[at.reshape(-1)] = True
        bits = bits.reshape(n, self.bits)
        packed = np.packbits(bits, axis=1, bitorder="little")
        return packed.view("<u8").astype(np.uint64)
