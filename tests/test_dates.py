"""Birth-date parsing: table-driven formats, round trips and never-raise properties."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers.dates import parse_date, swap_day_month

THIS_YEAR = dt.datetime.now(dt.UTC).year

NL_FULL = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"]  # fmt: skip
NL_ABBR = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]
EN_FULL = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]  # fmt: skip
EN_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.mark.parametrize(
    ("text", "ymd"),
    [
        ("1975-03-12", (1975, 3, 12)),
        ("1975-3-2", (1975, 3, 2)),
        ("1975/03/12", (1975, 3, 12)),
        ("1975-03-12T10:00:00", (1975, 3, 12)),
        ("1975-03-12T10:00:00Z", (1975, 3, 12)),
        ("1975-03-12T10:00:00+01:00", (1975, 3, 12)),
        ("1975-03-12 00:00:00", (1975, 3, 12)),
        ("1975-03-12 00:00:00.000", (1975, 3, 12)),
        ("12-03-1975", (1975, 3, 12)),
        ("12/03/1975", (1975, 3, 12)),
        ("12.03.1975", (1975, 3, 12)),
        ("2-3-1975", (1975, 3, 2)),
        ("12-03-1975 00:00", (1975, 3, 12)),
        ("19750312", (1975, 3, 12)),
        ("12031975", (1975, 3, 12)),
        ("1-3-75", (1975, 3, 1)),
        ("01-03-05", (2005, 3, 1)),
        (f"01-03-{THIS_YEAR % 100:02d}", (THIS_YEAR, 3, 1)),
        (f"01-03-{(THIS_YEAR + 1) % 100:02d}", (THIS_YEAR + 1 - 100, 3, 1)),
        ("12 maart 1975", (1975, 3, 12)),
        ("12 mrt 1975", (1975, 3, 12)),
        ("12 mrt. 1975", (1975, 3, 12)),
        ("3 okt. 1980", (1980, 10, 3)),
        ("1 januari 2001", (2001, 1, 1)),
        ("1 MEI 1990", (1990, 5, 1)),
        ("12 March 1975", (1975, 3, 12)),
        ("12 Mar 1975", (1975, 3, 12)),
        ("March 12, 1975", (1975, 3, 12)),
        ("Oct. 3rd, 1980", (1980, 10, 3)),
        ("12-Mar-1975", (1975, 3, 12)),
        ("12-mrt-75", (1975, 3, 12)),
        ("  12 - 03 - 1975  ", (1975, 3, 12)),
        ("\t12\u00a0maart\u00a01975\n", (1975, 3, 12)),
        # US order when only that reads as a date
        ("03/25/1975", (1975, 3, 25)),
        ("12-31-99", (1999, 12, 31)),
        # calendar and range
        ("29-02-2000", (2000, 2, 29)),
        ("29-02-1900", None),
        ("29-02-1975", None),
        ("31-04-1990", None),
        ("1975-13-01", None),
        ("00-01-1975", None),
        ("1879-12-31", None),
        ("1880-01-01", (1880, 1, 1)),
        (f"{THIS_YEAR + 1}-01-01", None),
        # junk
        ("", None),
        ("   ", None),
        ("onbekend", None),
        ("12 foo 1975", None),
        ("12-03/1975", None),
        ("123-03-1975", None),
        ("1-3-5", None),
        ("1975-03-12 later", None),
        ("1975031", None),
        ("13-13-1975", None),
        ("٢٠٠١-٠١-٠١", None),  # non-ASCII digits are not a date format we accept
    ],
)
def test_examples(text: str, ymd: tuple[int, int, int] | None) -> None:
    assert parse_date(text) == ymd


@pytest.mark.parametrize(
    ("ymd", "swapped"),
    [
        ((1975, 3, 12), (1975, 12, 3)),
        ((1975, 12, 3), (1975, 3, 12)),
        ((1975, 3, 3), None),  # the same date
        ((1975, 3, 13), None),  # day 13 cannot be a month
        ((1975, 2, 4), (1975, 4, 2)),
        ((2001, 4, 1), (2001, 1, 4)),
    ],
)
def test_swap_day_month(ymd: tuple[int, int, int], swapped: tuple[int, int, int] | None) -> None:
    assert swap_day_month(ymd) == swapped


dates = st.dates(min_value=dt.date(1880, 1, 1), max_value=dt.date(THIS_YEAR, 12, 31))


def _two_digit_year_round_trips(y: int) -> bool:
    yy = y % 100
    return (2000 + yy if 2000 + yy <= THIS_YEAR else 1900 + yy) == y


def _formats(day: dt.date) -> list[str]:
    y, m, d = day.year, day.month, day.day
    out = [
        f"{y:04d}-{m:02d}-{d:02d}",
        f"{y:04d}-{m:02d}-{d:02d}T10:00:00",
        f"{y:04d}-{m:02d}-{d:02d} 00:00:00",
        f"{d:02d}-{m:02d}-{y}",
        f"{d:02d}/{m:02d}/{y}",
        f"{d:02d}.{m:02d}.{y}",
        f"{d}-{m}-{y}",
        f"{y}{m:02d}{d:02d}",
        f"{d} {NL_FULL[m - 1]} {y}",
        f"{d} {NL_ABBR[m - 1]} {y}",
        f"{d} {NL_ABBR[m - 1]}. {y}",
        f"{d} {EN_FULL[m - 1]} {y}",
        f"{d} {EN_ABBR[m - 1].upper()} {y}",
        f"{EN_FULL[m - 1]} {d}, {y}",
        f"{d:02d}-{EN_ABBR[m - 1]}-{y}",
    ]
    if _two_digit_year_round_trips(y):
        out += [f"{d}-{m}-{y % 100:02d}", f"{d:02d}-{m:02d}-{y % 100:02d}"]
    return out


@given(dates)
def test_every_format_round_trips(day: dt.date) -> None:
    ymd = (day.year, day.month, day.day)
    for text in _formats(day):
        assert parse_date(text) == ymd, text
        assert parse_date(f"  {text.upper()} ") == ymd, text


@given(dates)
def test_swap_is_an_involution(day: dt.date) -> None:
    ymd = (day.year, day.month, day.day)
    swapped = swap_day_month(ymd)
    if swapped is not None:
        assert swapped != ymd
        assert swap_day_month(swapped) == ymd
        assert dt.date(*swapped)  # a real date
    else:
        assert day.day > 12 or day.day == day.month


@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    ymd = parse_date(text)
    assert ymd is None or dt.date(*ymd).year <= THIS_YEAR


@given(st.text(alphabet="0123456789-/. :tTzZ+,", max_size=30))
def test_never_raises_on_date_like_text(text: str) -> None:
    ymd = parse_date(text)
    if ymd is not None:
        assert 1880 <= dt.date(*ymd).year <= THIS_YEAR
