"""The synthetic generator is the ground truth of every benchmark, so its promises are tested.

A wrong BSN here (invalid, duplicated, or a "typo" that still passes the 11-proof) would
silently turn a benchmark's truth into noise.
"""

from __future__ import annotations

import csv
import datetime
import random

import numpy as np
import pytest
from stdnum.nl import bsn as stdnum_bsn

from matchers import synthetic
from matchers.synthetic import (
    DATE_FORMATS,
    Person,
    display_name,
    drop_diacritics,
    format_date,
    make_bsns,
    make_people,
    reformat_bsn,
    typo_bsn,
    typo_text,
    write_people_csv,
)


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return make_people(5000, seed=7)


def _strip_bsn(text: str) -> str:
    """What the matcher is promised to do: drop separators, pad 8 digits to 9."""
    s = "".join(ch for ch in text if ch not in " .-")
    return s.zfill(9) if len(s) == 8 else s


def test_bsns_valid_unique_and_not_starting_00() -> None:
    bsns = make_bsns(20_000, np.random.default_rng(3))
    assert len(bsns) == 20_000
    assert len(set(bsns)) == len(bsns)
    assert all(len(b) == 9 and b.isdigit() for b in bsns)
    assert all(stdnum_bsn.is_valid(b) for b in bsns)
    assert not any(b.startswith("00") for b in bsns)
    assert any(b.startswith("0") for b in bsns)  # 8-digit leak variants get exercised


def test_bsns_respect_exclude_and_are_deterministic() -> None:
    first = make_bsns(3000, np.random.default_rng(1))
    again = make_bsns(3000, np.random.default_rng(1))
    assert first == again
    other = make_bsns(3000, np.random.default_rng(1), exclude=set(first))
    assert not set(other) & set(first)


def test_bsns_accept_random_random() -> None:
    assert make_bsns(10, random.Random(5)) == make_bsns(10, random.Random(5))


def test_people_fields(people: list[Person]) -> None:
    assert len({p.ref for p in people}) == len(people)
    assert len({p.bsn for p in people}) == len(people)
    assert people[0].ref == "C0000000"
    lo = synthetic.REFERENCE_DATE.replace(year=synthetic.REFERENCE_DATE.year - 65)
    hi = synthetic.REFERENCE_DATE.replace(year=synthetic.REFERENCE_DATE.year - 30)
    for p in people:
        assert stdnum_bsn.is_valid(p.bsn)
        assert lo < p.dob <= hi
        assert 1 <= len(p.given_names.split()) <= 3
        assert len(p.postcode) == 7 and p.postcode[:4].isdigit() and p.postcode[4] == " "
        assert p.initials == "".join(n[0] + "." for n in p.given_names.replace("-", " ").split())
    assert any(p.prefix == "van der" for p in people)
    assert any("-" in p.surname for p in people)
    assert any(drop_diacritics(p.given_names) != p.given_names for p in people)


def test_people_deterministic_per_seed() -> None:
    assert make_people(200, seed=4) == make_people(200, seed=4)
    assert make_people(200, seed=4) != make_people(200, seed=5)


def test_ref_prefix_and_excluded_bsns(people: list[Person]) -> None:
    others = make_people(500, seed=8, ref_prefix="X", exclude_bsns={p.bsn for p in people})
    assert others[0].ref.startswith("X")
    assert not {p.bsn for p in others} & {p.bsn for p in people}


def test_typo_bsn_always_fails_the_11_proof(people: list[Person]) -> None:
    rng = random.Random(11)
    for p in people:
        for _ in range(5):
            typo = typo_bsn(p.bsn, rng)
            assert typo != p.bsn and len(typo) == 9
            assert not stdnum_bsn.is_valid(typo)
            diff = [i for i in range(9) if typo[i] != p.bsn[i]]
            swapped = (
                len(diff) == 2
                and diff[1] == diff[0] + 1
                and typo[diff[0]] == p.bsn[diff[1]]
                and typo[diff[1]] == p.bsn[diff[0]]
            )
            assert len(diff) == 1 or swapped


def test_reformat_bsn_strips_back(people: list[Person]) -> None:
    rng = random.Random(12)
    seen_eight = False
    for p in people:
        text = reformat_bsn(p.bsn, rng)
        assert text != p.bsn
        assert _strip_bsn(text) == p.bsn
        seen_eight |= len(text) == 8
        if len(text) == 8:
            assert p.bsn.startswith("0")
    assert seen_eight


def test_typo_text_changes_letters_only() -> None:
    rng = random.Random(13)
    for word in ("Vries", "Johanna Maria", "Zoë", "Jansen-de Vries", "Al"):
        for n in (1, 2):
            for _ in range(50):
                out = typo_text(word, rng, n)
                assert out != word
                assert [c for c in out if not c.isalpha()] == [c for c in word if not c.isalpha()]
                assert out[0] == word[0]


def test_drop_diacritics() -> None:
    assert drop_diacritics("Zoë Chloé André Inès Müller") == "Zoe Chloe Andre Ines Muller"


def test_format_date_all_styles() -> None:
    d = datetime.date(1975, 3, 2)
    rng = random.Random(0)
    got = {style: format_date(d, rng, style) for style in DATE_FORMATS}
    assert got == {
        "iso": "1975-03-02",
        "dmy_dash": "02-03-1975",
        "dmy_slash": "02/03/1975",
        "dmy_dot": "02.03.1975",
        "ymd_compact": "19750302",
        "dmy_short": "2-3-75",
        "text_nl": "2 maart 1975",
    }
    assert {format_date(d, rng) for _ in range(200)} == set(got.values())


def test_display_name_styles() -> None:
    p = Person("C1", "111222333", "Jan Pieter", "de", "Vries", datetime.date(1970, 1, 1), "1234 AB")
    assert display_name(p) == "Jan Pieter de Vries"
    assert display_name(p, "first") == "Jan de Vries"
    assert display_name(p, "initials") == "J.P. de Vries"
    assert display_name(p, "inverted") == "Vries, Jan Pieter de"
    assert display_name(p, "inverted_initials") == "Vries, J.P. de"
    assert display_name(p, "registry") == "Vries de, J.P."


def test_write_people_csv_roundtrip(tmp_path, people: list[Person]) -> None:
    path = tmp_path / "cohort.csv"
    write_people_csv(path, people[:100])
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert len(rows) == 100
    first, p = rows[0], people[0]
    assert first["ref"] == p.ref and first["bsn"] == p.bsn
    assert first["voornamen"] == p.given_names and first["voorletters"] == p.initials
    assert first["tussenvoegsel"] == p.prefix and first["achternaam"] == p.surname
    assert first["geboortedatum"] == p.dob.strftime("%d-%m-%Y")
    assert first["postcode"] == p.postcode


def test_write_people_csv_rejects_unknown_column(tmp_path, people: list[Person]) -> None:
    with pytest.raises(ValueError, match="unknown column"):
        write_people_csv(tmp_path / "x.csv", people[:1], columns=("ref", "shoe_size"))


def test_reformat_bsn_styles() -> None:
    rng = random.Random(0)
    assert reformat_bsn("111222333", rng, "space") == "111 222 333"
    assert reformat_bsn("111222333", rng, "dots") == "1112.22.333"
    assert reformat_bsn("111222333", rng, "dashes") == "11-12-22-333"
    assert reformat_bsn("012345672", rng, "eight") == "12345672"
    with pytest.raises(ValueError):
        reformat_bsn("111222333", rng, "eight")
