"""Watchlist matching: token-aware, diacritics- and case-insensitive, domain-aware; and the
folding that post identity and the watchlist share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers.errors import ConfigError
from monitor.textfold import fold_org, is_truncated
from monitor.watchlist import (
    WatchEntry,
    Watchlist,
    WatchlistSettings,
    load_watchlist,
    registrable,
)

ENTRIES = (
    WatchEntry("Clinical Diagnostics NMDL", ("Clinical Diagnostics", "NMDL"),
               ("clinicaldiagnostics.nl",)),
    WatchEntry("Eurofins", (), ("eurofins.com",)),
    WatchEntry("Bevolkingsonderzoek Nederland", ("BVO NL",), ("bevolkingsonderzoeknederland.nl",)),
)


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return Watchlist(WatchlistSettings(entries=ENTRIES))


@pytest.mark.parametrize(("text", "entry", "via"), [
    ("Clinical Diagnostics", "Clinical Diagnostics NMDL", "alias"),
    ("CLINICAL DIAGNOSTICS NMDL B.V.", "Clinical Diagnostics NMDL", "name"),
    ("Clínical Diagnóstics &amp;amp; Co", "Clinical Diagnostics NMDL", "alias"),
    ("clinicaldiagnostics.nl", "Clinical Diagnostics NMDL", "domain"),
    ("Data of lab.clinicaldiagnostics.nl published", "Clinical Diagnostics NMDL", "domain"),
    ("NMDL", "Clinical Diagnostics NMDL", "alias"),
    ("Eurofins Scientific SE", "Eurofins", "name"),
    ("EUROFINS", "Eurofins", "name"),
    ("https://www.eurofins.com/contact", "Eurofins", "domain"),
    ("Bevolkingsonderzoek Nederland (BVO)", "Bevolkingsonderzoek Nederland", "name"),
])
def test_matches(watchlist: Watchlist, text: str, entry: str, via: str) -> None:
    hits = watchlist.match({"victim": text})
    assert hits and hits[0].entry == entry and hits[0].via == via
    assert hits[0].score >= 0.9


def test_typo_scores_below_exact(watchlist: Watchlist) -> None:
    hit = watchlist.match({"victim": "Clinical Diagnostlcs"})[0]
    assert hit.entry == "Clinical Diagnostics NMDL" and 0.9 <= hit.score < 1.0


@pytest.mark.parametrize("text", [
    "Diagnostics",  # one word of a watched name is not the name
    "Eurofinance Group",
    "Bevolkingsonderzoek Noord",
    "NMDLX Corp",  # acronyms match whole words only
    "Clinical Lab Services",
    "",
])
def test_no_match(watchlist: Watchlist, text: str) -> None:
    assert watchlist.match({"victim": text, "title": text}) == []


def test_description_and_best_field(watchlist: Watchlist) -> None:
    hits = watchlist.match({"victim": "Acme BV", "title": "Acme data",
                            "description": "Files of a lab working for Bevolkingsonderzoek "
                                           "Nederland, 300 GB, deadline soon"})
    assert [h.entry for h in hits] == ["Bevolkingsonderzoek Nederland"]
    assert hits[0].field == "description"


def test_threshold_is_configurable() -> None:
    strict = Watchlist(WatchlistSettings(threshold=1.0, entries=ENTRIES))
    assert strict.match({"victim": "Clinical Diagnostlcs"}) == []
    assert strict.match({"victim": "Clinical Diagnostics"})


def test_registrable() -> None:
    assert registrable("mail.eurofins.co.uk") == "eurofins.co.uk"
    assert registrable("lab.clinicaldiagnostics.nl") == "clinicaldiagnostics.nl"


def test_load_watchlist_and_errors() -> None:
    s = load_watchlist({"threshold": 0.85, "organisations": [
        {"name": "Eurofins", "aliases": ["Eurofins NL"], "domains": ["eurofins.nl"]}]},
        "watchlist", "c.toml")
    assert s.threshold == 0.85 and s.entries[0].domains == ("eurofins.nl",)
    with pytest.raises(ConfigError, match=r"c.toml: at 'watchlist.organisations\[0\].domain'"):
        load_watchlist({"organisations": [{"name": "X", "domain": []}]}, "watchlist", "c.toml")
    with pytest.raises(ConfigError, match="not a domain name"):
        load_watchlist({"organisations": [{"name": "X", "domains": ["not a domain"]}]},
                       "watchlist", "c.toml")
    with pytest.raises(ConfigError, match="threshold"):
        load_watchlist({"threshold": 2}, "watchlist", "c.toml")
    with pytest.raises(ConfigError, match="name"):
        load_watchlist({"organisations": [{"aliases": ["x"]}]}, "watchlist", "c.toml")


@given(st.text(max_size=80))
def test_fold_is_idempotent_and_case_blind(text: str) -> None:
    once = fold_org(text)
    assert fold_org(once) == once
    assert fold_org(text.upper()) == fold_org(text.lower()) or not text.isascii()
    assert set(once) <= set("abcdefghijklmnopqrstuvwxyz0123456789 ")


@given(st.dictionaries(st.sampled_from(["victim", "title", "description", "files"]),
                       st.text(max_size=200)))
def test_match_never_raises(fields: dict[str, str]) -> None:
    Watchlist(WatchlistSettings(entries=ENTRIES)).match(fields)


def test_truncation() -> None:
    assert is_truncated("Clinical Diagnos...") and is_truncated("Clinical Diagnos…")
    assert is_truncated("Clinical Diagnos&hellip;") and not is_truncated("Clinical")
    assert fold_org("Clinical Diagnos…") == "clinical diagnos"
