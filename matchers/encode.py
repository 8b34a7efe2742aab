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
from matchers.dates import MIN_YEAR, _this_year, parse_date
from matchers.fullnames import FullNameParser
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

    def popcounts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Set bits of each row's given-name filter, surname-part filters (part 1, part 2)
        and given name as a surname; each (n,) int32."""
        cached = getattr(self, "_popcounts", None)
        if cached is None:
            sn0, sn1 = self.surname_parts()
            cached = (popcount(self.gn), popcount(sn0), popcount(sn1), popcount(self.gx))
            self._popcounts = cached
        return cached

    def surname_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """The two surname-part filters as C-contiguous (n, W) arrays (gathered by row)."""
        cached = getattr(self, "_surname_parts", None)
        if cached is None:
            cached = (np.ascontiguousarray(self.sn[:, 0]), np.ascontiguousarray(self.sn[:, 1]))
            self._surname_parts = cached
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


# The two numeric orders nearly every birth-date column is written in, without spaces:
# dd-mm-yyyy and yyyy-mm-dd, one or two digits for day and month, '-', '/' or '.' twice.
_DMY = r"^(?P<a>\d{1,2})(?P<s>[-/.])(?P<b>\d{1,2})(?P<t>[-/.])(?P<c>\d{4})$"
_YMD = r"^(?P<a>\d{4})(?P<s>[-/.])(?P<b>\d{1,2})(?P<t>[-/.])(?P<c>\d{1,2})$"
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def _real_dates(y: np.ndarray, m: np.ndarray, d: np.ndarray, this_year: int) -> np.ndarray:
    """Real calendar dates with a year from MIN_YEAR to this year (dates._valid)."""
    ok_m = (m >= 1) & (m <= 12)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    real = ok_m & (d >= 1) & (d <= _MONTH_DAYS.take(np.where(ok_m, m, 0)))
    real &= (m != 2) | (d < 29) | leap
    return real & (y >= MIN_YEAR) & (y <= this_year)


def _day_first(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(day, month) of a day-first date, unless only month-first can be a date (US)."""
    us = (b > 12) & (a <= 12)
    return np.where(us, b, a), np.where(us, a, b)


def _ten_char_dates(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """dd-mm-yyyy and yyyy-mm-dd written with ten characters, read from the bytes: (n, 3)
    int32 year, month, day where the form matched (zeros elsewhere or when no date), and
    which values matched."""
    n = len(values)
    out = np.zeros((n, 3), dtype=np.int32)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset :][: n + 1]
    rows = np.flatnonzero(np.diff(offsets) == 10)
    matched = np.zeros(n, dtype=bool)
    if not rows.size:
        return out, matched
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    c = data.take(offsets[rows][:, None].astype(np.int64) + np.arange(10)).astype(np.int32)
    digit = (c >= 48) & (c <= 57)
    v = c - 48
    sep = (c == ord("-")) | (c == ord("/")) | (c == ord("."))
    this_year = _this_year()
    for s1, s2, digits in ((2, 5, (0, 1, 3, 4, 6, 7, 8, 9)), (4, 7, (0, 1, 2, 3, 5, 6, 8, 9))):
        form = sep[:, s1] & (c[:, s1] == c[:, s2]) & digit[:, list(digits)].all(axis=1)
        if s1 == 2:
            day, month = _day_first(v[:, 0] * 10 + v[:, 1], v[:, 3] * 10 + v[:, 4])
            year = v[:, 6] * 1000 + v[:, 7] * 100 + v[:, 8] * 10 + v[:, 9]
        else:
            year = v[:, 0] * 1000 + v[:, 1] * 100 + v[:, 2] * 10 + v[:, 3]
            month, day = v[:, 5] * 10 + v[:, 6], v[:, 8] * 10 + v[:, 9]
        good = form & _real_dates(year, month, day, this_year)
        out[rows[good]] = np.stack([year, month, day], axis=1)[good]
        matched[rows[form]] = True
    return out, matched


def _plain_numeric_dates(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_date` of the values in the two common numeric orders, with numpy: (n, 3)
    int32 year, month, day (zeros: no date), and the indices of the values in any other
    form, left to parse_date. Same rules: day-first unless only month-first can be a date,
    real calendar dates, years from MIN_YEAR to this year."""
    values = values.cast(pa.string())
    out, done = _ten_char_dates(values)
    this_year = _this_year()
    rest = np.flatnonzero(~done)
    for pattern, year_first in ((_DMY, False), (_YMD, True)):
        if not rest.size:
            break
        parts = pc.extract_regex(values.take(pa.array(rest)), pattern)
        ok = pc.fill_null(
            pc.and_(pc.is_valid(parts), pc.equal(parts.field("s"), parts.field("t"))), False
        ).to_numpy(zero_copy_only=False)
        hit = np.flatnonzero(ok)
        if not hit.size:
            continue
        picked = parts.take(pa.array(hit))
        a, b, c = (pc.cast(picked.field(f), pa.int32()).to_numpy() for f in "abc")
        if year_first:
            y, m, d = a, b, c
        else:
            y = c
            d, m = _day_first(a, b)
        valid = _real_dates(y, m, d, this_year)
        out[rest[hit[valid]]] = np.stack([y, m, d], axis=1)[valid]
        rest = np.delete(rest, hit)
    return out, rest


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
        self._sounds: dict[str, int] = {}
        # Full-name columns: the parser's texts (id 0 = '') with, per text id, the
        # given-name filter id, the surname-style filter id and the sound code.
        self._fullnames = FullNameParser()
        self._text_codes = np.zeros((1, 3), dtype=np.int64)
        self._full_read: dict[str, tuple[int, int, int, int, int]] = {}

    def _trim_caches(self) -> None:
        """Bound memory on dumps with millions of distinct names."""
        if (
            len(self._fids) > _CACHE_LIMIT
            or self._fullnames.words > _CACHE_LIMIT
            or len(self._full_read) > _CACHE_LIMIT
        ):
            self._reset_names()
        if len(self._dates) > _CACHE_LIMIT:
            self._dates.clear()

    def _filter_id(self, field: str, value: str) -> int:
        if not value:
            return 0
        fid = self._fids.get((field, value))
        if fid is None:
            fid = len(self._fids)
            self._grow_filters(fid + 1)
            self._fmat[fid] = self.bloom.encode(field, value)
            self._fids[(field, value)] = fid
        return fid

    def _grow_filters(self, need: int) -> None:
        if need > self._fmat.shape[0]:
            grown = np.zeros((max(need, 2 * self._fmat.shape[0]), self.words), dtype=np.uint64)
            grown[: self._fmat.shape[0]] = self._fmat
            self._fmat = grown

    def _filter_ids(self, field: str, values: list[str]) -> np.ndarray:
        """Filter ids of many values; the new ones are encoded together."""
        fids = self._fids
        out = np.fromiter(
            (fids.get((field, v), -1) if v else 0 for v in values), dtype=np.int64,
            count=len(values),
        )
        missing = np.flatnonzero(out < 0)
        if missing.size:
            new = list(dict.fromkeys(values[i] for i in missing.tolist()))
            first = len(fids)
            need = first + len(new)
            self._grow_filters(need)
            self._fmat[first:need] = self.bloom.encode_many(field, new)
            for j, v in enumerate(new):
                fids[(field, v)] = first + j
            out[missing] = [fids[(field, values[i])] for i in missing.tolist()]
        return out

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
        enc = pc.dictionary_encode(pc.fill_null(arr, ""))
        idx = enc.indices.to_numpy(zero_copy_only=False)
        table, rest = _plain_numeric_dates(enc.dictionary)
        if rest.size:
            values = enc.dictionary.take(pa.array(rest)).to_pylist()
            table[rest] = [self._date(text.strip()) or (0, 0, 0) for text in values]
        return table.take(idx, axis=0)

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
            codes9 = self._full_codes(full)
            gcode, scode = codes9[:, :4], codes9[:, 4:]
        fmat = self._fmat
        gn = fmat.take(gcode[:, 0], axis=0)
        gx = fmat.take(gcode[:, 2], axis=0)
        sn = np.stack([fmat.take(scode[:, 0], axis=0), fmat.take(scode[:, 1], axis=0)], axis=1)
        return gn, sn, gcode[:, 1], scode[:, 2:4], scode[:, 4].astype(bool), gx, gcode[:, 3]

    def _full_codes(self, arr: pa.Array) -> np.ndarray:
        """Codes of every value of a full-name column, (n, 9): given-name filter id, first
        initial, given name's surname-style filter id and sound, surname-part filter ids,
        their sounds, has-surname (as :meth:`_surname_code` lays them out). The common
        shapes parsed a column at a time (:mod:`matchers.fullnames`), the rest one by one
        with :func:`normalise_name`; filters and sound codes once per distinct text."""
        parsed = self._fullnames.parse(arr)
        if parsed.fallback.size:
            values = arr.take(pa.array(parsed.fallback)).to_pylist()
            read = np.array([self._full_parts(v or "") for v in values], dtype=np.int64)
            read = read.reshape(-1, 5)
            for col, target in enumerate(
                (parsed.found, parsed.given, parsed.initial, parsed.core1, parsed.core2)
            ):
                target[parsed.fallback] = read[:, col]
        tc = self._text_codes_for(parsed.given, np.concatenate([parsed.core1, parsed.core2]))
        g = tc.take(parsed.given, axis=0)
        c1 = tc.take(parsed.core1, axis=0)
        c2 = tc.take(parsed.core2, axis=0)
        out = np.stack(
            [g[:, 0], parsed.initial, g[:, 1], g[:, 2], c1[:, 1], c2[:, 1], c1[:, 2], c2[:, 2],
             parsed.found.astype(np.int64)],
            axis=1,
        )
        return out

    def _text_codes_for(self, given: np.ndarray, cores: np.ndarray) -> np.ndarray:
        """Per text id of the full-name parser: given-name filter id, surname-style filter
        id, sound code; made for the texts these rows use, when first used (most texts of
        compound surnames are never read as a given name, and many never at all)."""
        texts = self._fullnames.texts
        tc = self._text_codes
        if len(texts) > tc.shape[0]:
            tc = np.concatenate([tc, np.full((len(texts) - tc.shape[0], 3), -1, np.int64)])
            self._text_codes = tc
        given = np.unique(given)
        used = np.union1d(given, cores)
        new_g = given[tc[given, 0] < 0]
        if new_g.size:
            tc[new_g, 0] = self._filter_ids("g", [texts[i] for i in new_g.tolist()])
        new_s = used[tc[used, 1] < 0]
        if new_s.size:
            words = [texts[i] for i in new_s.tolist()]
            tc[new_s, 1] = self._filter_ids("s", words)
            tc[new_s, 2] = [self._sound(t) for t in words]
        return tc

    def _full_parts(self, full: str) -> tuple[int, int, int, int, int]:
        """normalise_name of one full name as (found, given, first initial, core 1,
        core 2), texts as the full-name parser's text ids; cached per value."""
        hit = self._full_read.get(full)
        if hit is None:
            pn = normalise_name(full=full) if full else None
            if pn is None:
                hit = (0, 0, 0, 0, 0)
            else:
                text = self._fullnames.text_id
                cores = pn.surnames
                hit = (
                    1,
                    text(pn.given),
                    ord(pn.initials[0]) if pn.initials else 0,
                    text(cores[0]),
                    text(cores[1]) if len(cores) > 1 else 0,
                )
            self._full_read[full] = hit
        return hit

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
        partial_ok: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Blocking keys: who is worth comparing with whom.

        (birth date, surname sound) per surname part and (birth date, initial) find typos
        in names; (surname sound, initial, two of three date parts) find a typo in the
        date; the postcode alone (a few members each) finds name fields written in each
        other's place. Each block holds a handful of members even in a cohort of millions.
        The two-of-three-date keys are made only where ``partial_ok``. The leaked side also
        looks up the day/month-swapped date's (date, …) keys, and (birth
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
            ok = ok & has_init & partial_ok
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

        With ``only_bsn_invalid`` (a scan) the name, date and postcode fields are encoded
        only for rows without a valid BSN — the only rows a scan matches on them — which
        makes a BSN-keyed dump cost little more than its BSN column; and the two-of-three
        date parts (``dob_pairs`` and the blocking keys on them) only for rows with a
        postcode, the only rows whose look-ups read them.
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
        fields = self._encode_person(sub, roles, scan=only_bsn_invalid)
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

    def _encode_person(
        self, batch: pa.RecordBatch, roles: ColumnRoles, *, scan: bool = False
    ) -> dict[str, np.ndarray]:
        """Birth date, names and postcode encodings of every row of ``batch``; for a
        ``scan`` without what no look-up reads (see :meth:`encode`)."""
        n = batch.num_rows
        postcode, postcode_block = self._encode_postcode(_col(batch, roles.postcode), n)
        # Two of three date parts count only beside an agreeing postcode (engine.decide):
        # a scan encodes them, and the blocks built on them, only for rows with one.
        partial_ok = postcode != 0 if scan else np.ones(n, dtype=bool)
        ymd = self._encode_dates(_col(batch, roles.dob), n)
        y, m, d = ymd[:, 0], ymd[:, 1], ymd[:, 2]
        has_date = y > 0
        dob = self.prf.encode_masked(Domain.DOB, has_date, y * 10000 + m * 100 + d)
        swappable = has_date & (d <= 12) & (d != m)
        dob_swap = self.prf.encode_masked(Domain.DOB, swappable, y * 10000 + d * 100 + m)
        paired = has_date & partial_ok
        pairs = np.stack(
            [
                self.prf.encode_masked(Domain.DOB_YM, paired, y, m),
                self.prf.encode_masked(Domain.DOB_YD, paired, y, d),
                self.prf.encode_masked(Domain.DOB_MD, paired, m, d),
            ],
            axis=1,
        )
        gn, sn, initial_code, sounds, has_name, gx, given_sound = self._encode_names(
            batch, roles, n
        )
        initial = self.prf.encode_masked(Domain.INITIAL, initial_code > 0, initial_code)
        blocks, blocks_swap = self._blocks(
            ymd, swappable, sounds, initial_code, given_sound, partial_ok
        )
        blocks[:, 9] = postcode_block
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
