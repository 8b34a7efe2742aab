"""Dutch name normalisation: table-driven cases and hypothesis properties.

All names are synthetic combinations of common Dutch given names and surnames.
"""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from matchers.names import PersonName, fold, normalise_name

JAN_DE_VRIES = PersonName(given="jan", initials="j", prefix="de", surnames=("vries",))


# -- fold ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Zoë", "zoe"),
        ("François", "francois"),
        ("Søren", "soren"),
        ("Ærø", "aero"),
        ("Straßer", "strasser"),
        ("Łukasz", "lukasz"),
        ("ĲSSELMUIDEN", "ijsselmuiden"),
        ("Ĳsbrand", "ijsbrand"),
        ("d'Hondt", "dhondt"),
        ("van ’t Hof", "van t hof"),
        ("  Jansen  -  de   Vries ", "jansen-de vries"),
        ("Jansen–de Vries", "jansen-de vries"),
        ("J.P. de Vries", "j p de vries"),
        ("Vries, Jan de", "vries jan de"),
        ("--", ""),
        ("", ""),
    ],
)
def test_fold_examples(text: str, folded: str) -> None:
    assert fold(text) == folded


@given(st.text())
def test_fold_is_idempotent_and_plain(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert set(once) <= set(string.ascii_lowercase + " -")
    assert once == once.strip(" -")
    assert "  " not in once and " -" not in once and "- " not in once and "--" not in once


@given(st.text())
def test_fold_ignores_case(text: str) -> None:
    assert fold(text.upper()) == fold(text.lower()) == fold(text)


# -- table-driven examples ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"full": "Jan de Vries"},
        {"full": "Vries, Jan de"},
        {"full": "de Vries, Jan"},
        {"full": "Vries de, Jan"},
        {"full": "Vries, de, Jan"},
        {"full": "de Vries Jan"},
        {"full": "  JAN   DE  VRIES  "},
        {"full": "Dhr. Jan de Vries"},
        {"full": "de heer Jan de Vries"},
        {"full": "dhr. dr. ir. Jan de Vries jr."},
        {"full": "Vries, dhr. Jan de"},
        {"given": "Jan", "surname": "de Vries"},
        {"given": "Jan", "surname": "De Vries"},
        {"given": "Jan", "surname": "Vries", "prefix": "de"},
        {"given": "Jan", "surname": "de Vries", "prefix": "de"},
        {"given": "Jan", "surname": "Vries, de"},
        {"given": "Jan", "surname": "Vries de"},
        {"given": "Jan", "surname": "Vries", "prefix": "De"},
        {"given": "Jan", "initials": "J.", "surname": "Vries", "prefix": "de"},
        {"given": "jan", "surname": "vries", "prefix": "de", "full": "ignored when columns work"},
        {"surname": "Vries, Jan de"},
    ],
)
def test_jan_de_vries_in_every_spelling(kwargs: dict[str, str]) -> None:
    assert normalise_name(**kwargs) == JAN_DE_VRIES


def _pn(given: str, initials: str, prefix: str, *surnames: str) -> PersonName:
    return PersonName(given=given, initials=initials, prefix=prefix, surnames=surnames)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # initials
        ({"full": "J. de Vries"}, _pn("", "j", "de", "vries")),
        ({"full": "J.P. de Vries"}, _pn("", "jp", "de", "vries")),
        ({"full": "J. P. de Vries"}, _pn("", "jp", "de", "vries")),
        ({"full": "JP de Vries"}, _pn("", "jp", "de", "vries")),
        ({"full": "Vries, J.P. de"}, _pn("", "jp", "de", "vries")),
        ({"full": "Vries J.P. de"}, _pn("", "jp", "de", "vries")),
        ({"full": "de Vries J.P."}, _pn("", "jp", "de", "vries")),
        ({"full": "Th. de Boer"}, _pn("", "t", "de", "boer")),
        ({"full": "VRIES J DE"}, _pn("", "j", "de", "vries")),
        ({"full": "J.-P. Jansen"}, _pn("", "jp", "", "jansen")),
        ({"full": "Jansen, J.-P."}, _pn("", "jp", "", "jansen")),
        ({"full": "Joh. Chr. de Boer"}, _pn("", "jc", "de", "boer")),
        ({"given": "J.", "surname": "Vries"}, _pn("", "j", "", "vries")),
        ({"given": "J.P.", "surname": "Vries"}, _pn("", "jp", "", "vries")),
        ({"given": "JP", "surname": "Vries"}, _pn("", "jp", "", "vries")),
        ({"initials": "J.P.", "surname": "Vries"}, _pn("", "jp", "", "vries")),
        ({"initials": "jp", "surname": "Vries"}, _pn("", "jp", "", "vries")),
        ({"initials": "IJ.", "surname": "Bos"}, _pn("", "i", "", "bos")),
        ({"given": "Jan", "initials": "J.P.", "surname": "Bos"}, _pn("jan", "jp", "", "bos")),
        ({"given": "Jan Pieter", "initials": "J.", "surname": "Bos"}, _pn("jan", "jp", "", "bos")),
        ({"full": "J. Pieter Bos"}, _pn("", "jp", "", "bos")),
        # several given names
        ({"full": "Johanna Maria de Vries"}, _pn("johanna", "jm", "de", "vries")),
        ({"given": "Johanna Maria", "surname": "Vries"}, _pn("johanna", "jm", "", "vries")),
        ({"full": "Jan-Willem de Boer"}, _pn("janwillem", "jw", "de", "boer")),
        # double surnames
        ({"full": "Maria Jansen-de Vries"}, _pn("maria", "m", "", "jansen", "vries")),
        ({"full": "Jansen-de Vries, Maria"}, _pn("maria", "m", "", "jansen", "vries")),
        ({"full": "Maria Jansen - de Vries"}, _pn("maria", "m", "", "jansen", "vries")),
        ({"surname": "Jansen-de Vries"}, _pn("", "", "", "jansen", "vries")),
        ({"surname": "Jansen de Vries"}, _pn("", "", "", "jansen", "vries")),
        ({"full": "Piet van Dijk-Bakker"}, _pn("piet", "p", "van", "dijk", "bakker")),
        ({"full": "Dijk-Bakker, Piet van"}, _pn("piet", "p", "van", "dijk", "bakker")),
        ({"surname": "van Dijk-Bakker", "prefix": "van"}, _pn("", "", "van", "dijk", "bakker")),
        ({"surname": "Jansen-van der Berg"}, _pn("", "", "", "jansen", "berg")),
        ({"surname": "Smit-Jansen-Bakker"}, _pn("", "", "", "smit", "jansen")),
        ({"full": "Maria Jansen e.v. de Vries"}, _pn("maria", "m", "", "jansen", "vries")),
        ({"full": "M. Jansen e/v de Vries"}, _pn("", "m", "", "jansen", "vries")),
        ({"full": "M. E.V. Jansen"}, _pn("", "mev", "", "jansen")),
        # tussenvoegsels
        ({"full": "Anna van der Berg"}, _pn("anna", "a", "van der", "berg")),
        ({"full": "Berg, Anna van der"}, _pn("anna", "a", "van der", "berg")),
        ({"full": "Berg van der, Anna"}, _pn("anna", "a", "van der", "berg")),
        ({"full": "A. v.d. Berg"}, _pn("", "a", "van der", "berg")),
        ({"surname": "Berg", "prefix": "v/d"}, _pn("", "", "van der", "berg")),
        ({"surname": "der Berg", "prefix": "van"}, _pn("", "", "van der", "berg")),
        ({"surname": "van der Berg", "prefix": "van der"}, _pn("", "", "van der", "berg")),
        ({"full": "Kees van 't Hof"}, _pn("kees", "k", "van t", "hof")),
        ({"full": "Kees van ’t Hof"}, _pn("kees", "k", "van t", "hof")),
        ({"full": "Kees van't Hof"}, _pn("kees", "k", "van t", "hof")),
        ({"full": "Kees van t Hof"}, _pn("kees", "k", "van t", "hof")),
        ({"surname": "Hof", "prefix": "van 't"}, _pn("", "", "van t", "hof")),
        ({"full": "Sanne in 't Veld"}, _pn("sanne", "s", "in t", "veld")),
        ({"full": "Daan op de Beek"}, _pn("daan", "d", "op de", "beek")),
        ({"full": "Lotte ter Horst"}, _pn("lotte", "l", "ter", "horst")),
        ({"full": "Emma ten Cate"}, _pn("emma", "e", "ten", "cate")),
        ({"full": "Hugo de la Cruz"}, _pn("hugo", "h", "de la", "cruz")),
        ({"full": "Karel d'Hondt"}, _pn("karel", "k", "", "dhondt")),
        ({"full": "Karel d' Hondt"}, _pn("karel", "k", "", "dhondt")),
        ({"full": "D'HONDT, KAREL"}, _pn("karel", "k", "", "dhondt")),
        ({"full": "Anna 's-Gravesande"}, _pn("anna", "a", "s", "gravesande")),
        ({"full": "Eva Vander Linden"}, _pn("eva", "e", "vander", "linden")),
        ({"full": "Thijs von Berg"}, _pn("thijs", "t", "von", "berg")),
        # diacritics, titles, nicknames
        ({"full": "Zoë Çelik"}, _pn("zoe", "z", "", "celik")),
        ({"full": "Mevr. mr. drs. Sophie Bakker"}, _pn("sophie", "s", "", "bakker")),
        ({"full": "mw. S. Bakker"}, _pn("", "s", "", "bakker")),
        ({"full": "Prof.dr.ir. S. Bakker"}, _pn("", "s", "", "bakker")),
        ({"full": "Hendrik Smit sr."}, _pn("hendrik", "h", "", "smit")),
        ({"full": "Johanna (Anja) Visser"}, _pn("johanna", "j", "", "visser")),
        ({"full": "Willem Bos."}, _pn("willem", "w", "", "bos")),
        # surnames that look like something else
        ({"full": "Thi Le"}, _pn("thi", "t", "", "le")),
        ({"surname": "Van"}, _pn("", "", "", "van")),
        ({"surname": "X", "given": "Jan"}, _pn("jan", "j", "", "x")),
        ({"full": "Jan Ek"}, _pn("jan", "j", "", "ek")),
        # unusable
        ({}, None),
        ({"given": "Jan"}, None),
        ({"full": ""}, None),
        ({"full": "J.P."}, None),
        ({"full": "Dhr."}, None),
        ({"surname": "---", "given": "Jan"}, None),
        ({"surname": "12345"}, None),
    ],
)
def test_examples(kwargs: dict[str, str], expected: PersonName | None) -> None:
    assert normalise_name(**kwargs) == expected


def test_full_string_is_used_when_surname_column_is_unusable() -> None:
    assert normalise_name(surname="", full="Jan de Vries") == JAN_DE_VRIES


# -- properties ---------------------------------------------------------------------------

GIVEN = ["Jan", "Pieter", "Johanna", "Maria", "Kees", "Anna", "Sanne", "Daan", "Lotte",
         "Willem", "Hendrik", "Sophie", "Thijs", "Emma", "Bram", "Fleur"]  # fmt: skip
PREFIX = ["", "de", "van", "van der", "van den", "ter", "ten", "van 't", "in 't", "op de",
          "van de", "de la", "le", "du", "von"]  # fmt: skip
SURNAME = ["Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Dijk",
           "Berg", "Boer", "Hoek", "Wit", "Jong", "Brink", "Koster", "Hendriks"]  # fmt: skip


@st.composite
def people(draw: st.DrawFn) -> tuple[list[str], str, list[str]]:
    givens = draw(st.lists(st.sampled_from(GIVEN), min_size=1, max_size=3))
    prefix = draw(st.sampled_from(PREFIX))
    parts = draw(st.lists(st.sampled_from(SURNAME), min_size=1, max_size=2))
    return givens, prefix, parts


def _expected(givens: list[str], prefix: str, parts: list[str]) -> PersonName:
    return PersonName(
        given=fold(givens[0]),
        initials="".join(fold(g)[0] for g in givens),
        prefix=fold(prefix),
        surnames=tuple(fold(p) for p in parts),
    )


def _renderings(givens: list[str], prefix: str, parts: list[str]) -> list[dict[str, str]]:
    g = " ".join(givens)
    inits = ".".join(x[0] for x in givens) + "."
    sur = "-".join(parts)
    psur = f"{prefix} {sur}".strip()
    return [
        {"full": f"{g} {psur}"},
        {"full": f"{sur}, {g} {prefix}".strip()},
        {"full": f"{psur}, {g}"},
        {"full": f"Dhr. {g} {psur}"},
        {"given": g, "surname": psur},
        {"given": g, "surname": sur, "prefix": prefix},
        {"given": g, "surname": psur, "prefix": prefix},
        {"given": g, "initials": inits, "surname": sur, "prefix": prefix},
    ]


@given(people())
def test_every_rendering_of_a_person_normalises_alike(person: tuple) -> None:
    expected = _expected(*person)
    for kwargs in _renderings(*person):
        assert normalise_name(**kwargs) == expected, kwargs


@given(people())
def test_initials_renderings(person: tuple) -> None:
    givens, prefix, parts = person
    inits = ".".join(x[0] for x in givens) + "."
    full = _expected(*person)
    expected = PersonName("", full.initials, full.prefix, full.surnames)
    psur = f"{prefix} {'-'.join(parts)}".strip()
    assert normalise_name(full=f"{inits} {psur}") == expected
    assert normalise_name(full=f"{'-'.join(parts)}, {inits} {prefix}".strip()) == expected
    assert normalise_name(given=inits, surname=psur) == expected


_ACCENTED = {
    "a": "àáâãäå", "e": "èéêë", "i": "ìíîï", "o": "òóôõöø", "u": "ùúûü", "c": "ç",
    "n": "ñ", "y": "ýÿ", "s": "šś", "z": "žź", "l": "ł",
}  # fmt: skip
_MARKS = [chr(c) for c in range(0x300, 0x370)]


@st.composite
def decorated(draw: st.DrawFn, text: str) -> str:
    """``text`` with random diacritics: precomposed letters or combining marks."""
    out = []
    for ch in text:
        low = ch.lower()
        how = draw(st.integers(0, 3))
        if how == 1 and low in _ACCENTED:
            acc = draw(st.sampled_from(_ACCENTED[low]))
            out.append(acc.upper() if ch.isupper() else acc)
        elif how == 2 and ch.isalpha():
            out.append(ch + draw(st.sampled_from(_MARKS)))
        else:
            out.append(ch)
    return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD", "NFKC"])), "".join(out))


@given(people(), st.data())
def test_invariant_under_case_and_diacritics(person: tuple, data: st.DataObject) -> None:
    for kwargs in _renderings(*person):
        plain = normalise_name(**kwargs)
        assert normalise_name(**{k: v.upper() for k, v in kwargs.items()}) == plain
        assert normalise_name(**{k: v.lower() for k, v in kwargs.items()}) == plain
        fancy = {k: data.draw(decorated(v)) for k, v in kwargs.items()}
        assert normalise_name(**fancy) == plain, fancy


_FIELDS = ("given", "initials", "prefix", "surname", "full")


@given(st.dictionaries(st.sampled_from(_FIELDS), st.text(max_size=40)))
@example({"full": "İ. ǅ Ⅷ ß"})
def test_arbitrary_text_never_raises_and_ignores_case(kwargs: dict[str, str]) -> None:
    result = normalise_name(**kwargs)
    assert normalise_name(**{k: v.upper() for k, v in kwargs.items()}) == result
    assert normalise_name(**{k: v.lower() for k, v in kwargs.items()}) == result
    if result is not None:
        allowed = set(string.ascii_lowercase)
        assert 1 <= len(result.surnames) <= 2
        assert all(s and set(s) <= allowed for s in result.surnames)
        assert set(result.given) <= allowed and set(result.initials) <= allowed
        assert set(result.prefix) <= allowed | {" "}


@given(people())
def test_result_normalises_to_itself(person: tuple) -> None:
    """Feeding a normalised name back in as columns changes nothing (idempotence)."""
    pn = normalise_name(full=_renderings(*person)[0]["full"])
    assert pn is not None
    again = normalise_name(
        given=pn.given, initials=pn.initials, prefix=pn.prefix, surname="-".join(pn.surnames)
    )
    assert again == pn
