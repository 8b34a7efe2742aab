"""Dataset fingerprints: file hashes (SHA-256, TLSH) and the keyed record sketch.

Data is synthetic only (:func:`matchers.synthetic.make_people`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
import re
import unicodedata

import numpy as np
import pyarrow as pa
import pytest
import tlsh
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matchers.fingerprint import (
    TLSH_NEAR_IDENTICAL,
    FileHasher,
    HashingReader,
    RecordFingerprinter,
    RecordSketch,
    compare_sketches,
    fingerprint_file,
    tlsh_distance,
    tlsh_near_identical,
)
from matchers.readers.base import TableBatch
from matchers.synthetic import Person, make_people

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


# ------------------------------------------------------------------------ helpers


def _columns(people: list[Person]) -> dict[str, list[str]]:
    return {
        "ref": [p.ref for p in people],
        "bsn": [p.bsn for p in people],
        "voornamen": [p.given_names for p in people],
        "tussenvoegsel": [p.prefix for p in people],
        "achternaam": [p.surname for p in people],
        "geboortedatum": [p.dob.strftime("%d-%m-%Y") for p in people],
        "postcode": [p.postcode for p in people],
    }


def _batch(cols: dict[str, list[str | None]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in cols.items()})


def _sketch(batches: list[pa.RecordBatch], k: int = 65536, key: bytes = KEY) -> RecordSketch:
    fp = RecordFingerprinter(key, k)
    for b in batches:
        fp.update(b)
    return fp.sketch


def _split(batch: pa.RecordBatch, sizes: list[int]) -> list[pa.RecordBatch]:
    out, at = [], 0
    for size in sizes:
        out.append(batch.slice(at, size))
        at += size
    if at < batch.num_rows:
        out.append(batch.slice(at))
    return out


def _tolerance(p: float, n: int) -> float:
    """Four standard errors of a proportion estimated on n records, floored at 4/n."""
    return 4 * math.sqrt(max(p * (1 - p), 1 / n) / n)


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return make_people(100_000, seed=11)


@pytest.fixture(scope="module")
def table(people: list[Person]) -> pa.RecordBatch:
    return _batch(_columns(people))


# ------------------------------------------------------------- record sketch: shapes


def test_other_format_same_records_same_sketch(people: list[Person]) -> None:
    """Reordered, renamed, re-cased, re-spaced, float-formatted, spreadsheet-dropped
    leading zeros, ISO dates, an extra empty column, nulls for empties: same sketch."""
    sample = people[:3000]
    base = _batch(_columns(sample))
    rng = random.Random(5)

    def spaced(v: str) -> str:
        return rng.choice(["", " ", "  ", "\t"]) + v.replace(" ", rng.choice([" ", "  ", "\t"]))

    def numeric(v: str) -> str:  # as a spreadsheet or float export writes an integer
        return rng.choice([str(int(v)), str(int(v)) + ".0", v])

    cols = _columns(sample)
    variant = {
        "POSTCODE": [p.upper() for p in cols["postcode"]],
        "Achternaam ": [spaced(v).upper() for v in cols["achternaam"]],
        "empty": [None] * len(sample),
        "dob": [p.dob.isoformat() for p in sample],
        "Burgerservicenummer": [numeric(v) for v in cols["bsn"]],
        "first names": [spaced(v) for v in cols["voornamen"]],
        "tv": [v or None for v in cols["tussenvoegsel"]],
        "id": [f"  {v.lower()} " for v in cols["ref"]],
    }
    a = _sketch([base])
    b = _sketch(_split(_batch(variant), [1, 999, 1500]))
    assert a.records == b.records == 3000
    assert a.distinct == 3000
    assert a == b
    assert compare_sketches(a, b).jaccard == 1.0


def test_a_changed_value_changes_the_record(people: list[Person]) -> None:
    cols = _columns(people[:500])
    a = _sketch([_batch(cols)])
    cols["achternaam"] = [v + "x" if i % 10 == 0 else v for i, v in enumerate(cols["achternaam"])]
    b = _sketch([_batch(cols)])
    cmp = compare_sketches(a, b)
    assert cmp.exact
    assert cmp.shared == 450
    assert cmp.containment_a_in_b == pytest.approx(0.9)


def test_empty_rows_are_not_records() -> None:
    batch = _batch({"a": ["x", None, "", "  "], "b": ["y", "", None, "\t"]})
    fp = RecordFingerprinter(KEY)
    assert fp.record_hashes(batch).size == 1
    fp.update(batch)
    assert fp.sketch.records == 1


def test_tablebatch_and_table_inputs(people: list[Person]) -> None:
    batch = _batch(_columns(people[:100]))
    fp = RecordFingerprinter(KEY)
    h = fp.record_hashes(batch)
    assert np.array_equal(h, fp.record_hashes(TableBatch(batch, 1)))
    table = pa.Table.from_batches([batch.slice(0, 40), batch.slice(40)])
    assert np.array_equal(h, fp.record_hashes(table))


def test_batch_splits_give_the_same_sketch(table: pa.RecordBatch) -> None:
    part = table.slice(0, 20_000)
    whole = _sketch([part], k=4096)
    for sizes in ([7, 13, 19_000], [4096] * 4, [1] * 50):
        assert _sketch(_split(part, sizes), k=4096) == whole
    repeated = _sketch([part, part.slice(0, 5000)], k=4096)
    assert repeated.values.tolist() == whole.values.tolist()
    assert repeated.records == 25_000


# ------------------------------------------------------- record sketch: estimates


def test_sample_is_contained_in_the_full_dump(table: pa.RecordBatch) -> None:
    idx = np.sort(np.random.default_rng(1).choice(table.num_rows, 2000, replace=False))
    sample = _sketch([table.take(pa.array(idx))])
    full = _sketch(_split(table, [65536]))
    assert full.truncated and not sample.truncated
    cmp = compare_sketches(sample, full)
    assert cmp.containment_a_in_b >= 0.9
    assert cmp.sample_a > 1000
    assert abs(cmp.jaccard - 0.02) <= _tolerance(0.02, cmp.sample_union)
    assert abs(cmp.containment_b_in_a - 0.02) <= _tolerance(0.02, cmp.sample_b)
    # Estimated distinct count of the truncated sketch: relative error ~1/sqrt(k).
    assert abs(full.distinct / 100_000 - 1) <= 4 / math.sqrt(full.k)


def test_unrelated_tables_do_not_overlap(table: pa.RecordBatch) -> None:
    other = _batch(_columns(make_people(20_000, seed=99)))
    a = _sketch([table.slice(0, 20_000)], k=8192)
    b = _sketch([other], k=8192)
    cmp = compare_sketches(a, b)
    assert cmp.shared == 0
    assert cmp.jaccard == cmp.containment_a_in_b == cmp.containment_b_in_a == 0.0


@pytest.mark.parametrize("k", [256, 1024])
def test_truncated_sketches_estimate_overlap(table: pa.RecordBatch, k: int) -> None:
    a = _sketch([table.slice(0, 15_000)], k=k)  # A = rows 0..15k, B = rows 10k..30k
    b = _sketch([table.slice(10_000, 20_000)], k=k)
    cmp = compare_sketches(a, b)
    assert not cmp.exact
    for got, true, n in (
        (cmp.jaccard, 5000 / 30_000, cmp.sample_union),
        (cmp.containment_a_in_b, 5000 / 15_000, cmp.sample_a),
        (cmp.containment_b_in_a, 5000 / 20_000, cmp.sample_b),
    ):
        assert abs(got - true) <= max(4 / math.sqrt(n), _tolerance(true, n)), (got, true, n)
    assert abs(a.distinct / 15_000 - 1) <= 4 / math.sqrt(k)
    merged = a.merge(b)
    assert abs(merged.distinct / 30_000 - 1) <= 4 / math.sqrt(k)
    assert merged.records == 35_000


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=2**64 - 1), max_size=400),
    st.integers(min_value=2, max_value=64),
    st.lists(st.integers(min_value=0, max_value=50), max_size=8),
)
def test_sketch_is_the_bottom_k_of_distinct_values(
    values: list[int], k: int, cuts: list[int]
) -> None:
    arr = np.array(values, dtype=np.uint64)
    sketch = RecordSketch(k)
    at = 0
    for size in [*cuts, len(values)]:
        sketch.add(arr[at : at + size])
        at += size
    distinct = sorted(set(values))
    assert sketch.values.tolist() == distinct[:k]
    assert sketch.truncated == (len(distinct) > k)
    assert sketch.records == len(values)
    if not sketch.truncated:
        assert sketch.distinct == len(distinct)
    assert RecordSketch.from_bytes(sketch.to_bytes()) == sketch


# -------------------------------------------------------- record sketch: values


_PIECES = [*"aAbBzZ09 .-/\t\n", "é", "Ë", "ö", "ß", "\u00a0", "\u2003", "e\u0301", "İ", "日"]
_TEXT = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=24).map("".join),
    st.from_regex(r"\A0*[0-9]{0,20}(\.0*)?\Z"),  # integers as spreadsheets write them
    st.from_regex(r"\A[0-9]{1,4}[-/.][0-9]{2}[-/.][0-9]{2,4}( 00:00:0[01])?\Z"),  # dates
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TEXT, min_size=1, max_size=30))
def test_a_value_hashes_the_same_whatever_its_neighbours(values: list[str]) -> None:
    """Normalisation is decided per column but must act per value: each value's hash in a
    mixed column equals its hash alone (what makes batch splits irrelevant)."""
    fp = RecordFingerprinter(KEY)
    together = fp.record_hashes(_batch({"v": values}))
    alone = [fp.record_hashes(_batch({"v": [v]})) for v in values]
    assert together.tolist() == [int(h[0]) for h in alone if h.size]


_WS = re.compile("[\t-\r \x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def _reference_normalise(value: str) -> str:
    """The documented normalisation, written plainly with Python's str and re."""
    v = _WS.sub(" ", value).strip(" ")
    v = unicodedata.normalize("NFC", v).lower()
    if m := re.fullmatch(r"([0-9]+)(\.0+)?", v):
        return m.group(1).lstrip("0") or "0"
    if m := re.fullmatch(r"([0-9]{2})([-/.])([0-9]{2})\2([0-9]{4})", v):
        return m.group(4) + m.group(3) + m.group(1)
    if m := re.fullmatch(r"([0-9]{4})([-/.])([0-9]{2})\2([0-9]{2})( 00:00:00)?", v):
        return m.group(1) + m.group(3) + m.group(4)
    return v


_REF_TEXT = st.one_of(
    st.lists(st.sampled_from([*"aB09 .-/:\t", "é", "Ë", "e\u0301", "\u00a0"]), max_size=20).map(
        "".join
    ),
    st.from_regex(r"\A0*[0-9]{0,9}(\.0*)?\Z"),
    st.from_regex(r"\A[0-9]{1,4}[-/.][0-9]{2}[-/.][0-9]{2,4}( 00:00:0[01])?\Z"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_REF_TEXT, min_size=2, max_size=20))
def test_normalisation_matches_a_reference(values: list[str]) -> None:
    """Two values hash alike exactly when the plain-Python normalisation says they are
    the same value (differential test of the vectorised code)."""
    fp = RecordFingerprinter(KEY)
    kept = [v for v in values if _reference_normalise(v)]
    hashes = fp.record_hashes(_batch({"v": values})).tolist()
    assert len(hashes) == len(kept)
    forms = [_reference_normalise(v) for v in kept]
    for i in range(len(kept)):
        for j in range(i):
            assert (hashes[i] == hashes[j]) == (forms[i] == forms[j]), (kept[i], kept[j])


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzéëöü ", min_size=1, max_size=20))
def test_case_and_whitespace_do_not_matter(value: str) -> None:
    assume(value.strip())
    fp = RecordFingerprinter(KEY)
    variants = [value, value.upper(), f"  {value}\t", value.replace(" ", " \u00a0 ")]
    hashes = fp.record_hashes(_batch({"v": variants}))
    assert len(set(hashes.tolist())) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("012345678", "12345678"),
        ("12345678.0", "12345678"),
        ("0012.000", "12"),
        ("0", "0.0"),
        ("01-02-1980", "1980-02-01"),
        ("01/02/1980", "1980-02-01 00:00:00"),
        ("01.02.1980", "19800201"),
        ("Zoe\u0308", "zoë"),
    ],
)
def test_spreadsheet_and_sql_spellings_are_equal(a: str, b: str) -> None:
    fp = RecordFingerprinter(KEY)
    ha, hb = fp.record_hashes(_batch({"v": [a, b]}))
    assert ha == hb


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("12.5", "125"),
        ("1980-02-01 10:00:00", "1980-02-01"),
        ("02-01-1980", "1980-02-01"),
        ("a b", "ab"),
        ("1.0.0", "1"),
    ],
)
def test_different_values_stay_different(a: str, b: str) -> None:
    fp = RecordFingerprinter(KEY)
    ha, hb = fp.record_hashes(_batch({"v": [a, b]}))
    assert ha != hb


def test_values_are_not_swappable_between_columns() -> None:
    """Summing *linear* per-value hashes would equate these rows; the mix must not."""
    fp = RecordFingerprinter(KEY)
    h = fp.record_hashes(_batch({"x": ["ab", "cb"], "y": ["cd", "ad"]}))
    assert h[0] != h[1]


def test_a_key_change_changes_every_hash(table: pa.RecordBatch) -> None:
    part = table.slice(0, 5000)
    a = RecordFingerprinter(KEY).record_hashes(part)
    b = RecordFingerprinter(OTHER_KEY).record_hashes(part)
    assert a.size == b.size == 5000
    assert np.intersect1d(a, b).size == 0
    with pytest.raises(ValueError, match="different keys"):
        compare_sketches(_sketch([part], key=KEY), _sketch([part], key=OTHER_KEY))


# ----------------------------------------------------------- storage and privacy


def test_serialisation_round_trips(table: pa.RecordBatch) -> None:
    for k, rows in ((65536, 3000), (512, 20_000)):
        sketch = _sketch([table.slice(0, rows)], k=k)
        blob = sketch.to_bytes()
        assert len(blob) == 36 + 8 * sketch.values.size
        back = RecordSketch.from_bytes(blob)
        assert back == sketch
        assert back.distinct == sketch.distinct
        assert back.truncated == (rows > k)
        assert compare_sketches(back, sketch).jaccard == 1.0
    empty = RecordSketch(16)
    assert RecordSketch.from_bytes(empty.to_bytes()) == empty


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-3],
        lambda b: b"XXXX" + b[4:],
        lambda b: b[:36] + b[44:52] + b[36:44] + b[52:],  # values out of order
        lambda b: b[:10],
    ],
)
def test_damaged_sketches_are_refused(table: pa.RecordBatch, damage) -> None:
    blob = _sketch([table.slice(0, 100)]).to_bytes()
    with pytest.raises(ValueError):
        RecordSketch.from_bytes(damage(blob))


def test_no_raw_value_in_the_stored_sketch(people: list[Person]) -> None:
    """Plant the values, store the sketch, search its bytes: no value, in any of the forms
    a value could take on its way (text, digits, the unkeyed per-value hash)."""
    sample = people[:2000]
    cols = _columns(sample)
    batch = _batch(cols)
    blob = _sketch([batch]).to_bytes()
    needles: set[bytes] = set()
    for name, values in cols.items():
        for v in values:
            if len(v) >= 4:
                needles.update({v.encode(), v.lower().encode(), v.encode("utf-16-le")})
            if name == "bsn":
                needles.add(int(v).to_bytes(4, "little"))
        needles.add(name.encode())
    hits = [n for n in needles if n in blob]
    assert hits == []
    # Nor the unkeyed intermediate hashes, had one been stored by mistake.
    from matchers.fingerprint import _value_hashes

    inner = {int(h).to_bytes(8, "little") for col in batch.columns for h in _value_hashes(col)}
    words = {blob[i : i + 8] for i in range(36, len(blob), 8)}
    assert not inner & words


# -------------------------------------------------------------------- file level


def _csv(people: list[Person], sep: str = ";") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    writer.writerow(["bsn", "voornamen", "achternaam", "geboortedatum", "postcode"])
    for p in people:
        writer.writerow([p.bsn, p.given_names, p.surname, f"{p.dob:%d-%m-%Y}", p.postcode])
    return out.getvalue().encode()


def _hash_stream(data: bytes, chunk: int) -> FileHasher:
    hasher = FileHasher()
    for i in range(0, len(data), chunk):
        hasher.update(data[i : i + chunk])
    return hasher


def test_file_fingerprint_streams(people: list[Person]) -> None:
    data = _csv(people[:3000])
    whole = _hash_stream(data, len(data)).finish()
    pieces = _hash_stream(data, 4099).finish()
    assert whole == pieces
    assert whole.sha256 == hashlib.sha256(data).hexdigest()
    assert whole.size == len(data)
    assert whole.tlsh == tlsh.hash(data)
    assert whole.to_dict()["bytes"] == len(data)


def test_tlsh_near_identical_and_unrelated(people: list[Person]) -> None:
    rows = people[:5000]
    data = _csv(rows)
    edited = list(rows)
    for i in range(0, 5000, 100):  # 1% of the rows replaced
        edited[i] = people[50_000 + i]
    near = _hash_stream(_csv(edited), 65536).finish()
    base = _hash_stream(data, 65536).finish()
    noise = _hash_stream(random.Random(3).randbytes(len(data)), 65536).finish()
    distance = tlsh_distance(base.tlsh, near.tlsh)
    assert distance is not None and distance <= TLSH_NEAR_IDENTICAL
    assert tlsh_near_identical(base.tlsh, near.tlsh)
    far = tlsh_distance(base.tlsh, noise.tlsh)
    assert far is not None and far > 3 * TLSH_NEAR_IDENTICAL
    assert not tlsh_near_identical(base.tlsh, noise.tlsh)


@pytest.mark.parametrize("data", [b"", b"x", b"short but not fifty bytes........", b"a" * 4096])
def test_tlsh_of_too_little_or_too_plain_input_is_none(data: bytes) -> None:
    fingerprint = _hash_stream(data, 7).finish() if data else FileHasher().finish()
    assert fingerprint.tlsh is None
    assert fingerprint.size == len(data)
    assert tlsh_distance(fingerprint.tlsh, "T1" + "0" * 70) is None
    assert not tlsh_near_identical(None, None)


def test_hashing_reader_hashes_each_byte_once(tmp_path, people: list[Person]) -> None:
    data = _csv(people[:2000])
    path = tmp_path / "leak.csv"
    path.write_bytes(data)
    expected = fingerprint_file(path)
    with path.open("rb") as raw:
        reader = HashingReader(raw)
        head = reader.read(1000)  # a reader peeks,
        reader.seek(0)  # rewinds,
        assert reader.read(1500)[:1000] == head  # re-reads,
        reader.seek(len(data) - 10)  # skips ahead to the end,
        assert reader.read() == data[-10:]
        fingerprint = reader.fingerprint()  # and the gap is filled in.
        assert reader.tell() == len(data)
    assert fingerprint == expected
    with path.open("rb") as raw:
        buffered = io.BufferedReader(HashingReader(raw))
        assert buffered.read() == data
        assert buffered.raw.fingerprint() == expected  # type: ignore[attr-defined]


def test_hasher_refuses_updates_after_finish() -> None:
    hasher = FileHasher()
    hasher.update(b"abc")
    hasher.finish()
    with pytest.raises(RuntimeError):
        hasher.update(b"more")
