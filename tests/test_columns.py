"""Column-role detection: header words (Dutch, English, mangled) and content.

All values are synthetic: BSNs are generated to pass the 11-proof, names are made up.
"""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.nl import bsn as stdnum_bsn

from matchers.columns import (
    ROLES,
    ColumnRoles,
    detect_columns,
    match_header,
    no_usable_columns_error,
    parse_mapping,
)
from matchers.errors import ConfigError, NoUsableColumnsError


def _bsns(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        value = f"{rng.randrange(10_000_000, 999_999_999):09d}"
        if stdnum_bsn.is_valid(value):
            out.append(value)
    return out


def _birth_dates(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(1940, 2000)}"
        for _ in range(n)
    ]


def _sample_dates(n: int, seed: int = 4) -> list[str]:
    rng = random.Random(seed)
    return [f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" for _ in range(n)]


GIVEN = ["Jan", "Anna", "Pieter", "Sanne", "Daan", "Emma", "Lotte", "Bram", "Sophie", "Thijs"]
SURNAMES = ["Jansen", "Bakker", "Visser", "Smit", "Mulder", "Bos", "Vos", "Peters", "Hendriks"]
PREFIXES = ["", "de", "van", "van der", "", "", "ter", "", "van den", ""]


def _batch(columns: dict[str, list[str | None]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in columns.items()})


# ---- header words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("bsn", "bsn"),
        ("BSN", "bsn"),
        ("burgerservicenummer", "bsn"),
        ("sofinummer", "bsn"),
        ("sofi", "bsn"),
        ("Citizen service number", "bsn"),
        ("Patient BSN", "bsn"),
        ("BSN patiënt", "bsn"),
        ("bsn_nummer", "bsn"),
        ("voornaam", "given"),
        ("Voornamen", "given"),
        ("roepnaam", "given"),
        ("first_name", "given"),
        ("firstName", "given"),
        ("given_names", "given"),
        ("forename", "given"),
        ("voorletters", "initials"),
        ("initialen", "initials"),
        ("Initials", "initials"),
        ("tussenvoegsel", "prefix"),
        ("voorvoegsel", "prefix"),
        ("prefix", "prefix"),
        ("tussenv.", "prefix"),
        ("achternaam", "surname"),
        ("Achternm", "surname"),
        ("geslachtsnaam", "surname"),
        ("surname", "surname"),
        ("last_name", "surname"),
        ("LastName", "surname"),
        ("family_name", "surname"),
        ("naam", "full_name"),
        ("Volledige naam", "full_name"),
        ("name", "full_name"),
        ("full_name", "full_name"),
        ("patient", "full_name"),
        ("Patiëntnaam", "full_name"),
        ("geboortedatum", "dob"),
        ("geb.datum", "dob"),
        ("geb_datum", "dob"),
        ("gebdat", "dob"),
        ("dob", "dob"),
        ("birth_date", "dob"),
        ("date_of_birth", "dob"),
        ("birthdate", "dob"),
        ("PATIENT_GEBOORTEDATUM", "dob"),
        ("Geboortedatum patiënt", "dob"),
        ("postcode", "postcode"),
        ("zip", "postcode"),
        ("postal_code", "postcode"),
        ("ref", "ref"),
        ("referentie", "ref"),
        ("id", "ref"),
        ("kenmerk", "ref"),
        ("patient_id", "ref"),
        ("patient_nr", "ref"),
    ],
)
def test_header_words(header: str, role: str) -> None:
    found = match_header(header)
    assert found is not None and found[0] == role


@pytest.mark.parametrize(
    "header",
    [
        "datum_afname",
        "afnamedatum",
        "sample_date",
        "status",
        "geslacht",
        "huisnummer",
        "telefoonnummer",
        "woonplaats",
        "geboorteplaats",
        "opmerking",
        "uitslag",
        "datum",
        "nummer",
        "naam_moeder",
        "adres",
        "",
        "___",
    ],
)
def test_words_that_are_no_role(header: str) -> None:
    assert match_header(header) is None


def test_each_column_gets_one_role_and_exact_words_win() -> None:
    roles = detect_columns(
        ["Patient_ID", "first_name", "Name", "Last Name", "geb_datum", "datum_afname"], None
    )
    assert roles == ColumnRoles(
        ref="Patient_ID", given="first_name", full_name="Name", surname="Last Name", dob="geb_datum"
    )


# ---- content -----------------------------------------------------------------------------


def test_bsn_found_by_content_under_any_header() -> None:
    n = 200
    sample = _batch(
        {"Patient nr": _bsns(n), "code": [f"X{i}" for i in range(n)], "gd": _birth_dates(n)}
    )
    roles = detect_columns(sample.schema.names, sample)
    assert roles.bsn == "Patient nr"


def test_named_birth_date_that_passes_the_11_proof_stays_a_birth_date() -> None:
    # Regression: '12-03-1975' is 012031975 to the 11-proof, which it passes; in a one-row
    # file that was a 100% share and the birth-date column became the BSN column.
    assert stdnum_bsn.is_valid("012031975")
    sample = _batch({"achternaam": ["Vries"], "geboortedatum": ["12-03-1975"]})
    roles = detect_columns(sample.schema.names, sample)
    assert (roles.bsn, roles.dob) == (None, "geboortedatum")


def test_bsn_content_allows_separators_and_a_lost_leading_zero() -> None:
    values = _bsns(300)
    written = [
        (v[1:] if v.startswith("0") else f"{v[:4]}.{v[4:6]}.{v[6:]}") for v in values
    ]  # 8 digits (Excel ate the zero) or dotted
    sample = _batch({"nummer": written})
    assert detect_columns(["nummer"], sample).bsn == "nummer"


def test_random_nine_digit_numbers_are_not_bsns() -> None:
    rng = random.Random(1)
    sample = _batch({"nummer": [str(rng.randrange(100_000_000, 999_999_999)) for _ in range(300)]})
    assert detect_columns(["nummer"], sample).bsn is None


def test_header_bsn_is_kept_when_its_content_passes_too() -> None:
    n = 100
    sample = _batch({"ander": _bsns(n, seed=1), "bsn": _bsns(n, seed=2)})
    assert detect_columns(["ander", "bsn"], sample).bsn == "bsn"


def test_header_bsn_without_digits_is_rejected() -> None:
    n = 100
    sample = _batch({"bsn": ["onbekend"] * n, "Patient nr": _bsns(n)})
    roles = detect_columns(["bsn", "Patient nr"], sample)
    assert roles.bsn == "Patient nr"
    only = _batch({"bsn": ["onbekend"] * n})
    assert detect_columns(["bsn"], only).bsn is None


def test_header_bsn_with_typos_is_kept_when_nothing_better_exists() -> None:
    values = [v[:-1] + str((int(v[-1]) + 1) % 10) for v in _bsns(100)]  # every one a typo
    sample = _batch({"BSN": values})
    assert detect_columns(["BSN"], sample).bsn == "BSN"


def test_sample_dates_do_not_become_birth_dates() -> None:
    n = 100
    sample = _batch({"datum_afname": _sample_dates(n), "gd": _birth_dates(n)})
    assert detect_columns(["datum_afname", "gd"], sample).dob == "gd"
    only_sample_dates = _batch({"datum_afname": _sample_dates(n)})
    assert detect_columns(["datum_afname"], only_sample_dates).dob is None


def test_header_dob_preferred_over_other_birth_like_dates() -> None:
    n = 100
    sample = _batch({"datum_x": _birth_dates(n, seed=1), "geboortedatum": _birth_dates(n, seed=2)})
    assert detect_columns(["datum_x", "geboortedatum"], sample).dob == "geboortedatum"


def test_header_dob_that_holds_no_dates_gives_way() -> None:
    n = 100
    sample = _batch({"geboortedatum": ["onbekend"] * n, "gd": _birth_dates(n)})
    assert detect_columns(["geboortedatum", "gd"], sample).dob == "gd"


def test_name_header_over_numbers_is_dropped() -> None:
    sample = _batch({"patient": [str(i) for i in range(100)]})
    assert detect_columns(["patient"], sample).full_name is None


def test_postcode_by_content() -> None:
    sample = _batch({"pc": [f"{1000 + i} {'AB' if i % 2 else 'XZ'}" for i in range(50)]})
    assert detect_columns(["pc"], sample).postcode == "pc"


def test_headerless_full_name_file() -> None:
    n = 200
    rng = random.Random(5)
    names = []
    for i in range(n):
        given, surname, prefix = GIVEN[i % 10], rng.choice(SURNAMES), PREFIXES[i % 10]
        names.append(
            f"{surname}, {given} {prefix}".strip()
            if i % 3 == 0
            else " ".join(p for p in (given, prefix, surname) if p)
        )
    columns = ["column_1", "column_2", "column_3", "column_4"]
    sample = _batch(
        {
            "column_1": [f"C{i:05d}" for i in range(n)],
            "column_2": _bsns(n),
            "column_3": names,
            "column_4": _birth_dates(n),
        }
    )
    roles = detect_columns(columns, sample)
    assert roles == ColumnRoles(bsn="column_2", full_name="column_3", dob="column_4")
    assert roles.usable_for_matching()


def test_headerless_split_name_file() -> None:
    n = 200
    rng = random.Random(6)
    columns = [f"column_{i}" for i in range(1, 6)]
    sample = _batch(
        {
            "column_1": [GIVEN[i % 10] for i in range(n)],
            "column_2": [f"{GIVEN[i % 10][0]}." for i in range(n)],
            "column_3": [PREFIXES[i % 10] or None for i in range(n)],
            "column_4": [rng.choice(SURNAMES) for _ in range(n)],
            "column_5": _birth_dates(n),
        }
    )
    roles = detect_columns(columns, sample)
    assert roles == ColumnRoles(
        given="column_1", initials="column_2", prefix="column_3", surname="column_4", dob="column_5"
    )


def test_names_by_content_only_without_a_header() -> None:
    sample = _batch({"woonplaats": ["Amsterdam", "Utrecht", "Den Haag"] * 20})
    assert detect_columns(["woonplaats"], sample) == ColumnRoles()


# ---- overrides and mapping ---------------------------------------------------------------


def test_overrides_win_and_take_the_column_from_other_roles() -> None:
    n = 50
    sample = _batch({"bsn": _bsns(n), "nr": _bsns(n, seed=9), "naam": ["Jan Jansen"] * n})
    roles = detect_columns(["bsn", "nr", "naam"], sample, overrides={"bsn": "nr", "ref": "bsn"})
    assert roles.bsn == "nr" and roles.ref == "bsn" and roles.full_name == "naam"


def test_override_by_position_for_headerless_files() -> None:
    roles = detect_columns(["column_1", "column_2"], None, overrides={"surname": "2"})
    assert roles.surname == "column_2"


def test_override_naming_a_missing_column_lists_the_columns() -> None:
    with pytest.raises(ConfigError, match=r"bsn='Patient nr'.*'ref', 'naam'"):
        detect_columns(["ref", "naam"], None, overrides={"bsn": "Patient nr"})


def test_override_with_unknown_role() -> None:
    with pytest.raises(ConfigError, match="'telefoon'"):
        detect_columns(["ref"], None, overrides={"telefoon": "ref"})


def test_parse_mapping() -> None:
    assert parse_mapping(["bsn=Patient nr", " DOB = geb "]) == {"bsn": "Patient nr", "dob": "geb"}
    with pytest.raises(ConfigError, match="'geslacht'"):
        parse_mapping(["geslacht=x"])
    with pytest.raises(ConfigError, match="ROLE=COLUMN"):
        parse_mapping(["bsn"])
    with pytest.raises(ConfigError, match="more than once"):
        parse_mapping(["bsn=a", "bsn=b"])


def test_usable_for_matching_and_describe() -> None:
    assert ColumnRoles(bsn="b").usable_for_matching()
    assert ColumnRoles(dob="d", surname="s").usable_for_matching()
    assert ColumnRoles(dob="d", full_name="n").usable_for_matching()
    assert not ColumnRoles(dob="d", given="g").usable_for_matching()
    assert not ColumnRoles(surname="s", full_name="n").usable_for_matching()
    assert ColumnRoles(ref="r", bsn="b").describe() == {"bsn": "b", "ref": "r"}


def test_no_usable_columns_message_lists_columns() -> None:
    error = no_usable_columns_error("dump.csv", ["ref", "plaats"], ColumnRoles(ref="ref"))
    assert isinstance(error, NoUsableColumnsError)
    text = str(error)
    assert text.startswith("dump.csv: ") and "'plaats'" in text and "ref='ref'" in text
    assert "--map" in text


@settings(max_examples=200, deadline=None)
@given(
    columns=st.lists(st.text(max_size=30), min_size=1, max_size=6, unique=True),
    cells=st.lists(st.one_of(st.none(), st.text(max_size=20)), min_size=1, max_size=20),
)
def test_detection_never_fails_and_gives_each_column_one_role(
    columns: list[str], cells: list[str | None]
) -> None:
    sample = _batch({c: cells for c in columns})
    roles = detect_columns(columns, sample).describe()
    assert set(roles) <= set(ROLES)
    assert len(set(roles.values())) == len(roles) and set(roles.values()) <= set(columns)
