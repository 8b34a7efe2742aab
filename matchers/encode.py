"""Turn a batch of table rows into keyed encodings — the same code for cohort and leak.

Enrollment and matching must encode identically or nothing matches, so both go through
:class:`RecordEncoder`. Work is done once per *distinct* value (dictionary encoding of each
column), because leaked tables repeat first names, surnames and birth dates endlessly; the
per-row part is numpy gathers. Raw values exist only inside this call.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matchers import bsn as bsnrules
from matchers.bloom import BloomEncoder, popcount
from matchers.columns import ColumnRoles
from matchers.dates import parse_date
from matchers.keyed import Domain, KeyedPRF, derive_subkey
from matchers.names import normalise_name
from matchers.phonetic import sound_code

__all__ = ["BLOCK_KEYS", "PARTIAL_DATE_BLOCKS", "EncodedRecords", "RecordEncoder"]

_CACHE_LIMIT = 400_000
BLOCK_KEYS = 10
PARTIAL_DATE_BLOCKS = slice(3, 9)  # the (sound, initial, two of three date parts) keys


@dataclass
class EncodedRecords:
    """Keyed encodings of ``n`` rows; 0 means "absent" in every uint64 array.

    ``bsn_value`` holds the raw digits in memory only, for typo repair; it is never stored.
    """

    n: int
    bsn_value: np.ndarray  # int64
    bsn_status: np.ndarray  # int8: bsn.ABSENT / VALID / TYPO
    bsn: np.ndarray  # uint64 keyed BSN (VALID rows only)
    dob: np.ndarray  # uint64 keyed birth date
    dob_swap: np.ndarray  # uint64 keyed day/month-swapped birth date
    dob_pairs: np.ndarray  # (n, 3) uint64 keyed (year, month), (year, day), (month, day)
    initial: np.ndarray  # uint64 keyed first initial
    gn: np.ndarray  # (n, W) uint64 first-given-name filter
    gx: np.ndarray  # (n, W) uint64 the first given name encoded as a surname part
    sn: np.ndarray  # (n, 2, W) uint64 surname-part filters
    blocks: np.ndarray  # (n, BLOCK_KEYS) uint64 keyed blocking keys (see _blocks)
    blocks_swap: np.ndarray  # (n, 4) uint64 query-only keys: swapped date, crossed fields
    postcode: np.ndarray  # uint64 keyed postcode
    has_name: np.ndarray  # bool: a surname is known

    def popcounts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Set bits of each row's given-name filter (n,), surname filters (n, 2) and
        given name as a surname (n,)."""
        cached = getattr(self, "_popcounts", None)
        if cached is None:
            cached = (popcount(self.gn), popcount(self.sn), popcount(self.gx))
            self._popcounts = cached
        return cached

    def name_dob_usable(self) -> np.ndarray:
        """Rows that can be matched without a BSN: some name, and a birth date or a
        postcode to tie it to one person (which combination suffices is the engine's call)."""
        return (self.has_name | (self.initial != 0)) & ((self.dob != 0) | (self.postcode != 0))


def _col(batch: pa.RecordBatch, name: str | None) -> pa.Array | None:
    if name is None or name not in batch.schema.names:
        return None
    arr = batch.column(name)
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    return arr


def _distinct(arr: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Indices into the distinct values, and the distinct values ('' for null)."""
    enc = pc.dictionary_encode(pc.fill_null(arr, ""))
    return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary.to_pylist()


class RecordEncoder:
    """Encodes batches with one key; caches per distinct value across batches."""

    def __init__(self, key: bytes, *, bloom_bits: int = 256, bloom_k: int = 6) -> None:
        self.prf = KeyedPRF(key)
        self.bloom = BloomEncoder(derive_subkey(key, "bloom"), bits=bloom_bits, k=bloom_k)
        self.words = self.bloom.words
        self._dates: dict[str, tuple[int, int, int] | None] = {}
        self._reset_names()

    # -- per-distinct-value helpers -------------------------------------------------------
    #
    # Each distinct field value is normalised once and turned into a tuple of small ints:
    # ids of its filters in ``self._fmat`` (row 0 is the empty filter), the initial's code
    # point and surname sound codes. A batch then gathers filters with one numpy take.

    def _reset_names(self) -> None:
        self._fids: dict[tuple[str, str], int] = {("", ""): 0}
        self._fmat = np.zeros((1024, self.words), dtype=np.uint64)
        self._given: dict[str, tuple[int, int, int, int]] = {}
        self._surname: dict[str, tuple[int, int, int, int, int]] = {}
        self._full: dict[str, tuple[int, ...]] = {}
        self._sounds: dict[str, int] = {}

    def _trim_caches(self) -> None:
        """Bound memory on dumps with millions of distinct names."""
        if len(self._fids) > _CACHE_LIMIT or len(self._full) > _CACHE_LIMIT:
            self._reset_names()
        if len(self._dates) > _CACHE_LIMIT:
            self._dates.clear()

    def _filter_id(self, field: str, value: str) -> int:
        if not value:
            return 0
        fid = self._fids.get((field, value))
        if fid is None:
            fid = len(self._fids)
            if fid >= self._fmat.shape[0]:
                grown = np.zeros((2 * self._fmat.shape[0], self.words), dtype=np.uint64)
                grown[: self._fmat.shape[0]] = self._fmat
                self._fmat = grown
            self._fmat[fid] = self.bloom.encode(field, value)
            self._fids[(field, value)] = fid
        return fid

    def _sound(self, core: str) -> int:
        s = self._sounds.get(core)
        if s is None:
            code = sound_code(core) if core else ""
            s = zlib.crc32(code.encode()) | 1 if code else 0
            self._sounds[core] = s
        return s

    def _date(self, text: str) -> tuple[int, int, int] | None:
        if text in self._dates:
            return self._dates[text]
        ymd = parse_date(text) if text else None
        self._dates[text] = ymd
        return ymd

    def _surname_code(self, cores: tuple[str, ...]) -> tuple[int, int, int, int, int]:
        c1 = cores[0] if cores else ""
        c2 = cores[1] if len(cores) > 1 else ""
        return (
            self._filter_id("s", c1),
            self._filter_id("s", c2),
            self._sound(c1),
            self._sound(c2),
            int(bool(cores)),
        )

    def _given_ids(self, g: str, ini: str) -> tuple[int, int, int, int]:
        # The given name is also kept as a surname-style filter and sound code: keyed
        # positions differ per field, and a record with the two fields written in each
        # other's place can only be blocked and compared surname-to-surname.
        return (
            self._filter_id("g", g),
            ord(ini[0]) if ini else 0,
            self._filter_id("s", g),
            self._sound(g),
        )

    def _given_code(self, given: str, initials: str) -> tuple[int, int, int, int]:
        key = given + "\x1f" + initials
        hit = self._given.get(key)
        if hit is None:
            pn = normalise_name(given=given or None, initials=initials or None, surname="x")
            hit = self._given_ids(*((pn.given, pn.initials) if pn else ("", "")))
            self._given[key] = hit
        return hit

    def _surname_only_code(self, prefix: str, surname: str) -> tuple[int, int, int, int, int]:
        key = prefix + "\x1f" + surname
        hit = self._surname.get(key)
        if hit is None:
            pn = normalise_name(prefix=prefix or None, surname=surname) if surname else None
            hit = self._surname_code(pn.surnames if pn else ())
            self._surname[key] = hit
        return hit

    def _full_code(self, full: str) -> tuple[int, ...]:
        hit = self._full.get(full)
        if hit is None:
            pn = normalise_name(full=full) if full else None
            if pn is None:
                hit = (0, 0, 0, 0, *self._surname_code(()))
            else:
                hit = (*self._given_ids(pn.given, pn.initials), *self._surname_code(pn.surnames))
            self._full[full] = hit
        return hit

    # -- columns ----------------------------------------------------------------------------

    def _encode_bsn(self, arr: pa.Array | None, n: int) -> tuple[np.ndarray, ...]:
        if arr is None:
            zeros = np.zeros(n, dtype=np.int64)
            return zeros, np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.uint64)
        values, status = bsnrules.parse_column(arr)
        keyed = self.prf.encode_masked(Domain.BSN, status == bsnrules.VALID, values)
        return values, status, keyed

    def _encode_dates(self, arr: pa.Array | None, n: int) -> np.ndarray:
        """(n, 3) int32 year, month, day; zeros where absent or unparseable."""
        out = np.zeros((n, 3), dtype=np.int32)
        if arr is None:
            return out
        idx, values = _distinct(arr)
        table = np.zeros((len(values), 3), dtype=np.int32)
        for i, text in enumerate(values):
            ymd = self._date(text.strip())
            if ymd:
                table[i] = ymd
        return table[idx]

    def _encode_names(
        self, batch: pa.RecordBatch, roles: ColumnRoles, n: int
    ) -> tuple[np.ndarray, ...]:
        """Given-name filters, surname-part filters, initials, sound codes, has-surname,
        given names as surname filters."""
        self._trim_caches()
        gcode = np.zeros((n, 4), dtype=np.int64)  # given id, initial, as-surname id, sound
        scode = np.zeros((n, 5), dtype=np.int64)  # s1 id, s2 id, sound1, sound2, has
        full = _col(batch, roles.full_name)
        surname = _col(batch, roles.surname)
        if surname is not None:
            given_col = _col(batch, roles.given)
            init_col = _col(batch, roles.initials)
            prefix_col = _col(batch, roles.prefix)
            if given_col is not None or init_col is not None:
                g_in = pc.fill_null(given_col, "") if given_col is not None else None
                i_in = pc.fill_null(init_col, "") if init_col is not None else None
                if g_in is not None and i_in is not None:
                    gkey = pc.binary_join_element_wise(g_in, i_in, "\x1f")
                else:
                    gkey = g_in if g_in is not None else i_in
                gidx, gvals = _distinct(gkey)
                codes = []
                for v in gvals:
                    if g_in is not None and i_in is not None:
                        g, _, ini = v.partition("\x1f")
                    else:
                        g, ini = (v, "") if g_in is not None else ("", v)
                    codes.append(self._given_code(g, ini))
                gcode = np.asarray(codes, dtype=np.int64).reshape(-1, 4)[gidx]
            skey = (
                pc.binary_join_element_wise(
                    pc.fill_null(prefix_col, ""), pc.fill_null(surname, ""), "\x1f"
                )
                if prefix_col is not None
                else surname
            )
            sidx, svals = _distinct(skey)
            codes = []
            for v in svals:
                prefix, _, sur = v.partition("\x1f") if prefix_col is not None else ("", "", v)
                codes.append(self._surname_only_code(prefix, sur))
            scode = np.asarray(codes, dtype=np.int64).reshape(-1, 5)[sidx]
        elif full is not None:
            fidx, fvals = _distinct(full)
            codes9 = np.asarray([self._full_code(v) for v in fvals], dtype=np.int64)
            codes9 = codes9.reshape(-1, 9)[fidx]
            gcode, scode = codes9[:, :4], codes9[:, 4:]
        fmat = self._fmat
        gn = fmat[gcode[:, 0]]
        gx = fmat[gcode[:, 2]]
        sn = np.stack([fmat[scode[:, 0]], fmat[scode[:, 1]]], axis=1)
        return gn, sn, gcode[:, 1], scode[:, 2:4], scode[:, 4].astype(bool), gx, gcode[:, 3]

    def _encode_postcode(
        self, arr: pa.Array | None, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dutch '1234 AB' (or a bare 4-digit code) as a keyed value and a keyed block;
        vectorised in Arrow."""
        if arr is None:
            return np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
        text = pc.utf8_upper(pc.replace_substring_regex(pc.fill_null(arr, ""), r"\s+", ""))
        parts = pc.extract_regex(text, r"^(?P<digits>\d{4})(?P<letters>[A-Z]{2})?$")
        ok = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False)
        digits = pc.if_else(ok, parts.field("digits"), "0").cast(pa.int64())
        letters = pc.fill_null(pc.if_else(ok, parts.field("letters"), ""), "")
        raw = pc.binary_join_element_wise(letters, "", "\x00\x00")
        codes = pc.utf8_slice_codeunits(raw, 0, 2).cast(pa.binary()).to_pylist()
        b = np.frombuffer(b"".join(codes), dtype=">u2").astype(np.int64)
        a = digits.to_numpy(zero_copy_only=False)
        return self.prf.encode_masked(Domain.POSTCODE, ok, a, b), self.prf.encode_masked(
            Domain.BLOCK_POSTCODE, ok, a, b
        )

    def _blocks(
        self,
        ymd: np.ndarray,
        swappable: np.ndarray,
        sounds: np.ndarray,
        initial: np.ndarray,
        given_sound: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Blocking keys: who is worth comparing with whom.

        (birth date, surname sound) per surname part and (birth date, initial) find typos
        in names; (surname sound, initial, two of three date parts) find a typo in the
        date; the postcode alone (a few members each) finds name fields written in each
        other's place. Each block holds a handful of members even in a cohort of millions. The
        leaked side also looks up the day/month-swapped date's (date, …) keys, and (birth
        date, sound of the given name) for given name and surname written in each other's
        place (``blocks_swap``: query-only keys, never stored for members).
        """
        n = ymd.shape[0]
        y, m, d = ymd[:, 0], ymd[:, 1], ymd[:, 2]
        has_date, has_init = y > 0, initial > 0
        date = y * 10000 + m * 100 + d
        swapped = y * 10000 + d * 100 + m
        enc = self.prf.encode_masked
        blocks = np.zeros((n, BLOCK_KEYS), dtype=np.uint64)
        blocks_swap = np.zeros((n, 4), dtype=np.uint64)
        for part in range(2):
            snd = sounds[:, part]
            ok = has_date & (snd != 0)
            blocks[:, part] = enc(Domain.BLOCK_DOB_SOUND, ok, snd, date)
            blocks_swap[:, part] = enc(Domain.BLOCK_DOB_SOUND, ok & swappable, snd, swapped)
            ok = ok & has_init
            blocks[:, 3 + 3 * part] = enc(Domain.BLOCK_YM, ok, snd, y * 100 + m, initial)
            blocks[:, 4 + 3 * part] = enc(Domain.BLOCK_YD, ok, snd, y * 100 + d, initial)
            blocks[:, 5 + 3 * part] = enc(Domain.BLOCK_MD, ok, snd, m * 100 + d, initial)
        ok = has_date & has_init
        blocks[:, 2] = enc(Domain.BLOCK_DOB_INITIAL, ok, initial, date)
        blocks_swap[:, 2] = enc(Domain.BLOCK_DOB_INITIAL, ok & swappable, initial, swapped)
        blocks_swap[:, 3] = enc(Domain.BLOCK_DOB_SOUND, has_date & (given_sound != 0), given_sound,
                                date)
        return blocks, blocks_swap

    # -- public -----------------------------------------------------------------------------

    def encode(
        self, batch: pa.RecordBatch, roles: ColumnRoles, *, only_bsn_invalid: bool = False
    ) -> EncodedRecords:
        """Encode every row of ``batch`` according to ``roles``.

        With ``only_bsn_invalid`` the name, date and postcode fields are encoded only for
        rows without a valid BSN — the only rows a scan matches on them — which makes a
        BSN-keyed dump cost little more than its BSN column.
        """
        n = batch.num_rows
        bsn_value, bsn_status, bsn_key = self._encode_bsn(_col(batch, roles.bsn), n)
        rows = None
        if only_bsn_invalid and roles.bsn is not None:
            rows = np.flatnonzero(bsn_status != bsnrules.VALID)
            sub = batch.take(pa.array(rows)) if rows.size < n else batch
            if rows.size == n:
                rows = None
        else:
            sub = batch
        fields = self._encode_person(sub, roles)
        if rows is not None:
            full = {}
            for name, arr in fields.items():
                out = np.zeros((n, *arr.shape[1:]), dtype=arr.dtype)
                out[rows] = arr
                full[name] = out
            fields = full
        return EncodedRecords(
            n=n, bsn_value=bsn_value, bsn_status=bsn_status, bsn=bsn_key, **fields
        )

    def _encode_person(self, batch: pa.RecordBatch, roles: ColumnRoles) -> dict[str, np.ndarray]:
        """Birth date, names and postcode encodings of every row of ``batch``."""
        n = batch.num_rows
        ymd = self._encode_dates(_col(batch, roles.dob), n)
        y, m, d = ymd[:, 0], ymd[:, 1], ymd[:, 2]
        has_date = y > 0
        dob = self.prf.encode_masked(Domain.DOB, has_date, y * 10000 + m * 100 + d)
        swappable = has_date & (d <= 12) & (d != m)
        dob_swap = self.prf.encode_masked(Domain.DOB, swappable, y * 10000 + d * 100 + m)
        pairs = np.stack(
            [
                self.prf.encode_masked(Domain.DOB_YM, has_date, y, m),
                self.prf.encode_masked(Domain.DOB_YD, has_date, y, d),
                self.prf.encode_masked(Domain.DOB_MD, has_date, m, d),
            ],
            axis=1,
        )
        gn, sn, initial_code, sounds, has_name, gx, given_sound = self._encode_names(
            batch, roles, n
        )
        initial = self.prf.encode_masked(Domain.INITIAL, initial_code > 0, initial_code)
        blocks, blocks_swap = self._blocks(ymd, swappable, sounds, initial_code, given_sound)
        postcode, blocks[:, 9] = self._encode_postcode(_col(batch, roles.postcode), n)
        return {
            "dob": dob,
            "dob_swap": dob_swap,
            "dob_pairs": pairs,
            "initial": initial,
            "gn": gn,
            "gx": gx,
            "sn": sn,
            "blocks": blocks,
            "blocks_swap": blocks_swap,
            "postcode": postcode,
            "has_name": has_name,
        }
