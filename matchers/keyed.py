"""Keyed encodings: the only form in which cohort values are ever stored.

One primitive carries every keyed value: AES-256 in ECB mode over 16-byte blocks, each block
holding a domain tag and up to three small integers (a BSN, a packed date, a sound code).
AES is a keyed pseudorandom permutation, so each block encrypts to a value that nobody
without the key can compute or invert; truncated to 64 bits it is a keyed pseudorandom
function with a collision chance of about 2**-64 per pair. Encrypting a whole column as one
buffer runs at memory speed (AES-NI), where a per-value HMAC in CPython manages ~0.5M/s.

Sub-keys are derived with HKDF from the 32-byte secret so that the PRF key and the
Bloom-filter key are independent.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Domain", "KeyedPRF", "derive_subkey", "key_check"]


class Domain(IntEnum):
    """What a keyed value stands for; part of every encrypted block (domain separation)."""

    BSN = 1
    DOB = 2
    DOB_YM = 3
    DOB_YD = 4
    DOB_MD = 5
    BLOCK_YM = 6
    BLOCK_YD = 7
    BLOCK_MD = 8
    POSTCODE = 9
    INITIAL = 10
    BLOCK_DOB_SOUND = 11
    BLOCK_DOB_INITIAL = 12
    BLOCK_POSTCODE = 13


def derive_subkey(key: bytes, label: str) -> bytes:
    """A 32-byte sub-key for one purpose, so no two uses share key material."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"cohortwatch/v1", info=label.encode()
    ).derive(key)


def key_check(key: bytes) -> str:
    """A short public tag of the key, stored with each cohort to detect a wrong key early.

    It is an HMAC of a constant, so it says nothing about the key beyond "same or not".
    """
    return hmac.new(derive_subkey(key, "key-check"), b"cohortwatch", hashlib.sha256).hexdigest()[
        :16
    ]


class KeyedPRF:
    """Bulk keyed 64-bit PRF over (domain, a, b, c) tuples of unsigned 32-bit integers.

    The value 0 is reserved to mean "absent" in every encoded array; a PRF output of 0
    (chance 2**-64) is mapped to 1.
    """

    def __init__(self, key: bytes) -> None:
        self._cipher = Cipher(algorithms.AES(derive_subkey(key, "prf")), modes.ECB())  # noqa: S305 - one block per value is the PRF construction

    def encode(
        self,
        domain: Domain,
        a: np.ndarray,
        b: np.ndarray | int = 0,
        c: np.ndarray | int = 0,
    ) -> np.ndarray:
        """Keyed values for arrays of small integers; returns uint64, one per element of ``a``."""
        a = np.asarray(a)
        n = a.shape[0]
        blocks = np.empty((n, 4), dtype="<u4")
        blocks[:, 0] = int(domain)
        blocks[:, 1] = a
        blocks[:, 2] = b
        blocks[:, 3] = c
        if n == 0:
            return np.zeros(0, dtype=np.uint64)
        enc = self._cipher.encryptor()
        out = enc.update(blocks.tobytes()) + enc.finalize()
        vals = np.frombuffer(out, dtype="<u8")[0::2].astype(np.uint64)
        vals[vals == 0] = 1
        return vals

    def encode_masked(
        self,
        domain: Domain,
        mask: np.ndarray,
        a: np.ndarray,
        b: np.ndarray | int = 0,
        c: np.ndarray | int = 0,
    ) -> np.ndarray:
        """Like :meth:`encode` but 0 where ``mask`` is False (value absent)."""
        out = np.zeros(mask.shape[0], dtype=np.uint64)
        idx = np.flatnonzero(mask)
        if idx.size:
            bb = b[idx] if isinstance(b, np.ndarray) else b
            cc = c[idx] if isinstance(c, np.ndarray) else c
            out[idx] = self.encode(domain, np.asarray(a)[idx], bb, cc)
        return out
