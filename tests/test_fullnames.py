"""The column-at-a-time full-name path against normalise_name, its reference.

check-dataset reads a full-name column with :class:`matchers.fullnames.FullNameParser`
(templates per word shape, numpy gathers) and hands the rest to normalise_name; the
encoder then builds filters for many texts at once. Whatever path a name takes, the
result must be what normalise_name and the per-value encoders give: these tests compare
them on names of every shape up to five words, on the synthetic generator's names with
the leak variants of the accuracy benchmark, and on hypothesis' names and word soup
(Dutch tussenvoegsels, diacritics, initials, hyphens, punctuation, odd Unicode).
All names are synthetic.
"""

from __future__ import annotations

import itertools
import random
import zlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_names import common_full_names, decorated, soup

from matchers.bloom import BloomEncoder
from matchers.dates import parse_date
from matchers.encode import RecordEncoder, _plain_numeric_dates
from matchers.fullnames import FullNameParser
from matchers.names import normalise_name
from matchers.phonetic import sound_code
from matchers.synthetic import display_name, drop_diacritics, make_people, typo_text

KEY = bytes(range(32))
STYLES = ("full", "first", "initials", "inverted", "inverted_initials", "registry")


def _reference(value: str | None) -> tuple[bool, str, str, str, str]:
    """What the encoder reads from normalise_name: found, given, first initial, cores."""
    pn = normalise_name(full=value) if value else None
    if pn is None:
        return False, "", "", "", ""
    cores = pn.surnames
    return True, pn.given, pn.initials[:1], cores[0], cores[1] if len(cores) > 1 else ""


def _parsed(values: list[str | None]) -> tuple[list[tuple[bool, str, str, str, str]], set[int]]:
    """The parser's reading of every value, and which values it left to normalise_name."""
    parser = FullNameParser()
    out = parser.parse(pa.array(values, pa.string()))
    t = parser.texts
    rows = [
        (bool(out.found[i]), t[out.given[i]], chr(out.initial[i]) if out.initial[i] else "",
         t[out.core1[i]], t[out.core2[i]])
        for i in range(len(values))
    ]  # fmt: skip
    return rows, set(out.fallback.tolist())


def _assert_parser_agrees(values: list[str | None]) -> set[int]:
    rows, fallback = _parsed(values)
    for i, value in enumerate(values):
        if i not in fallback:
            assert rows[i] == _reference(value), value
    return fallback


# -- every shape ---------------------------------------------------------------------------

# Words of each kind the parser tells apart, including the ones that change a neighbour's
# reading ('t after van/in/op, initials after a tussenvoegsel, a comma).
_KIND_WORDS = {
    "name": ["Jan", "Vries", "Anne", "Bakker", "Ijsbrand", "Ype", "Jo", "Zoë", "Müller"],
    "prefix": ["de", "van", "der", "ten", "'t", "in", "op", "la", "'s", "uit"],
    "initial": ["J.", "P", "t", "T.", "a.", "j.p."],
    "run": ["JP", "Th", "bth", "Kr"],
    "comma": [","],
    "compound": ["Anne-Marie", "Jansen-Bakker", "Berg-Ng", "jp-kr", "Coret-Coredo-Reimes",
                 "Jansen-de-Vries", "Aalts-van", "Bergh-de", "van-Dijk", "de-Jong-van"],
}


def _names_of_every_shape(max_words: int, per_shape: int) -> list[str]:
    rng = random.Random(7)
    kinds = list(_KIND_WORDS)
    out = []
    for n in range(max_words + 1):
        for shape in itertools.product(kinds, repeat=n):
            for _ in range(per_shape):
                words = [rng.choice(_KIND_WORDS[k]) for k in shape]
                out.append(" ".join(words))
    return out


def test_every_shape_of_up_to_five_words_reads_as_normalise_name_reads_it() -> None:
    values = _names_of_every_shape(5, 1)
    fallback = _assert_parser_agrees(values)
    # The parser must carry the bulk itself, or it is no fast path.
    assert len(fallback) < 0.35 * len(values)


def test_shapes_with_other_words_of_the_same_kinds() -> None:
    _assert_parser_agrees(_names_of_every_shape(4, 3))


# -- the synthetic generator ---------------------------------------------------------------


def _leak_variants(seed: int, n: int) -> list[str]:
    """Names as the accuracy benchmark's leaks write them: every display style, typos,
    dropped diacritics, moved or dropped tussenvoegsels, upper and lower case."""
    rng = random.Random(seed)
    out = []
    for p in make_people(n, seed=seed):
        for style in STYLES:
            out.append(display_name(p, style))
        name = display_name(p, rng.choice(STYLES))
        out += [
            typo_text(name, rng),
            typo_text(name, rng, 2),
            drop_diacritics(name),
            name.upper(),
            name.lower(),
            display_name(p, "full", prefix=""),
            display_name(p, "inverted", surname=f"{p.prefix} {p.surname}".strip(), prefix=""),
        ]
    return out


def test_synthetic_people_and_their_leak_variants() -> None:
    values = _leak_variants(3, 3000)
    fallback = _assert_parser_agrees(values)
    assert len(fallback) < 0.1 * len(values)


# -- hypothesis ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(common_full_names(), soup(), st.text(max_size=30)), max_size=20),
       st.data())
@example(["Liv van de Alenburg", "Vries, Jan de", "J.P. de Vries", "Kees van 't Hof"], None)
@example(["Jan van t Hof", "A. v.d. Berg", "Jansen-de Vries, A.", "Dhr. J. de Vries"], None)
@example(["", " ", ",", "-", "'t", "t", "J.", "(Anja) Bos", "Bos e.v. Smit", "Vries JP"], None)
@example(["Zoë Müller", "ÆRØ", "İ. ǅ Ⅷ ß", "Straße", "d'Hondt", "Ĳsbrand", "Jan\tde\nVries"],
         None)
def test_any_names_read_as_normalise_name_reads_them(
    names: list[str], data: st.DataObject | None
) -> None:
    values: list[str | None] = list(names)
    if data is not None:
        values += [data.draw(decorated(v)) for v in names]
    values.append(None)
    _assert_parser_agrees(values)


def test_ids_stay_valid_across_batches() -> None:
    parser = FullNameParser()
    first = parser.parse(pa.array(["Jan de Vries", "Piet Bakker"]))
    second = parser.parse(pa.array(["Piet Bakker", "Jan de Vries", "Kees Smit"]))
    assert first.core1[0] == second.core1[1] and first.given[1] == second.given[0]
    assert parser.texts[second.core1[2]] == "smit"


# -- encodings -----------------------------------------------------------------------------


def _crc_sound(text: str) -> int:
    code = sound_code(text) if text else ""
    return zlib.crc32(code.encode()) | 1 if code else 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(common_full_names(), soup()), min_size=1, max_size=30))
def test_full_name_encodings_are_those_of_normalise_name(names: list[str]) -> None:
    """Filters, initials and sound codes of a full-name column, column at a time, equal
    the per-value encoders applied to normalise_name's result."""
    values = names + _leak_variants(5, 20)
    enc = RecordEncoder(KEY)
    codes = enc._full_codes(pa.array(values, pa.string()))
    bloom = enc.bloom
    fmat = enc._fmat
    for value, row in zip(values, codes.tolist(), strict=True):
        found, g, ini, c1, c2 = _reference(value)
        assert row[8] == int(found), value
        assert np.array_equal(fmat[row[0]], bloom.encode("g", g)), value
        assert row[1] == (ord(ini) if ini else 0), value
        assert np.array_equal(fmat[row[2]], bloom.encode("s", g)), value
        assert row[3] == _crc_sound(g), value
        assert np.array_equal(fmat[row[4]], bloom.encode("s", c1)), value
        assert np.array_equal(fmat[row[5]], bloom.encode("s", c2)), value
        assert (row[6], row[7]) == (_crc_sound(c1), _crc_sound(c2)), value


@given(st.lists(st.one_of(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", max_size=20),
                          st.text(max_size=8)), max_size=30))
def test_bloom_filters_of_many_values_equal_one_at_a_time(values: list[str]) -> None:
    bloom = BloomEncoder(KEY)
    for field in ("g", "s"):
        many = bloom.encode_many(field, values)
        for value, row in zip(values, many, strict=True):
            assert np.array_equal(row, bloom.encode(field, value)), (field, value)


# -- dates ---------------------------------------------------------------------------------


@st.composite
def numeric_dates(draw: st.DrawFn) -> str:
    y = draw(st.one_of(st.integers(1850, 2040), st.integers(0, 99), st.integers(0, 9999)))
    m = draw(st.integers(0, 14))
    d = draw(st.integers(0, 33))
    sep = draw(st.sampled_from("-/. "))
    sep2 = draw(st.sampled_from([sep, sep, "-", "/", "."]))
    pad = draw(st.booleans())
    dd, mm = (f"{d:02d}", f"{m:02d}") if pad else (str(d), str(m))
    form = draw(st.sampled_from(["dmy", "ymd", "spaced"]))
    if form == "dmy":
        return f"{dd}{sep}{mm}{sep2}{y}"
    if form == "ymd":
        return f"{y}{sep}{mm}{sep2}{dd}"
    return f" {dd}{sep}{mm}{sep2}{y} "


@given(st.lists(st.one_of(numeric_dates(), st.text(max_size=12)), max_size=40))
@example(["29-02-2000", "29-02-1900", "29-2-2024", "31-04-1990", "12-13-1990", "13-13-1990",
          "2020-02-29", "2021/2/29", "1879-12-31", "01.01.1880", "1-1-2099", "05-06-07"])
def test_numeric_dates_read_as_parse_date_reads_them(values: list[str]) -> None:
    table, rest = _plain_numeric_dates(pa.array(values, pa.string()))
    left = set(rest.tolist())
    for i, value in enumerate(values):
        if i not in left:
            assert tuple(table[i]) == (parse_date(value.strip()) or (0, 0, 0)), value


@pytest.mark.parametrize("text", ["12-03-1975", "1975-03-12", "3/12/1975", "12.3.1975"])
def test_common_date_forms_take_the_numeric_path(text: str) -> None:
    table, rest = _plain_numeric_dates(pa.array([text]))
    assert rest.size == 0 and tuple(table[0]) == parse_date(text)
