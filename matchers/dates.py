"""Birth-date parsing for cohort files and leaked tables.

A birth date is matched as its own keyed field, so every spelling of one date must give the
same ``(year, month, day)``. Accepted (whitespace around and between parts is ignored):

* ISO ``yyyy-mm-dd`` (also with ``/`` or ``.``), optionally followed by a time as in
  ``1975-03-12T10:00:00``, ``1975-03-12 00:00:00`` (Excel exports) or with a zone;
* ``dd-mm-yyyy``, ``dd/mm/yyyy``, ``dd.mm.yyyy``, one-digit day and month allowed, the same
  separator twice; also followed by a time;
* ``dd-mm-yy`` / ``d-m-yy``: the century is 20yy unless that is after the current year,
  else 19yy (a birth date cannot lie in the future);
* ``yyyymmdd`` (8 digits) and, when that is no date, ``ddmmyyyy`` — never both valid for a
  year in range, so there is no ambiguity;
* day, month name, year: Dutch or English, full or abbreviated, with or without a dot
  ("12 maart 1975", "12 mrt 1975", "3 okt. 1980", "12-Mar-1975", "12 March 1975"), and the
  English month-first order ("March 12, 1975"); two-digit years as above.

Numeric day-first dates are read Dutch (d-m-y); when the month is above 12 and the day is
not, the value can only be US m-d-y and is read that way. Only real calendar dates with a
year from 1880 to the current year (UTC) are accepted. :func:`parse_date` never raises.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["parse_date", "swap_day_month"]

MIN_YEAR = 1880

_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_MONTHS = {
    # Dutch
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "febr": 2, "maart": 3, "mrt": 3,
    "maa": 3, "april": 4, "apr": 4, "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7,
    "augustus": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10,
    "okt": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    # English (where it differs)
    "january": 1, "february": 2, "march": 3, "mar": 3, "may": 5, "june": 6, "july": 7,
    "august": 8, "october": 10, "oct": 10,
}  # fmt: skip

_TIME = r"(?:(?:t|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:z|[+-]\d{2}:?\d{2})?)?"
_NUMERIC = re.compile(
    r"\s*(\d{1,4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{1,2})" + _TIME + r"\s*", re.ASCII
)
_EIGHT = re.compile(r"\s*(\d{8})" + _TIME + r"\s*", re.ASCII)
_DAY_NAME = re.compile(
    r"\s*(\d{1,2})(?:e|st|nd|rd|th)?[\s./,-]*([a-z]+)\.?[\s./,-]*(\d{4}|\d{2})\s*", re.ASCII
)
_NAME_DAY = re.compile(
    r"\s*([a-z]+)\.?[\s./-]*(\d{1,2})(?:st|nd|rd|th)?[\s.,/-]*(\d{4}|\d{2})\s*", re.ASCII
)


def _this_year() -> int:
    return datetime.now(UTC).year


def _real(y: int, m: int, d: int) -> bool:
    if not (1 <= m <= 12 and 1 <= d <= _DAYS[m]):
        return False
    return m != 2 or d < 29 or (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))


def _valid(y: int, m: int, d: int, this_year: int) -> bool:
    return MIN_YEAR <= y <= this_year and _real(y, m, d)


def _century(yy: int, this_year: int) -> int:
    return 2000 + yy if 2000 + yy <= this_year else 1900 + yy


def _ymd(y: int, m: int, d: int, this_year: int) -> tuple[int, int, int] | None:
    return (y, m, d) if _valid(y, m, d, this_year) else None


def _numeric(a: str, b: str, c: str, this_year: int) -> tuple[int, int, int] | None:
    if len(a) == 4:  # y-m-d
        return _ymd(int(a), int(b), int(c), this_year) if len(c) <= 2 else None
    if len(a) > 2 or len(c) == 1 or len(c) == 3:
        return None
    d, m = int(a), int(b)
    y = int(c) if len(c) == 4 else _century(int(c), this_year)
    if m > 12 and d <= 12:  # only possible as US m-d-y
        d, m = m, d
    return _ymd(y, m, d, this_year)


def parse_date(text: str) -> tuple[int, int, int] | None:
    """``(year, month, day)`` of a birth date written in any supported format, else None.

    Returns None rather than raising for anything that is not a real date in range: a
    leaked table's date column holds junk as often as dates, and a guess would make false
    matches. The formats are listed in the module docstring.
    """
    if not isinstance(text, str):
        return None
    s = text.lower()
    if not s.isascii():  # non-breaking and other Unicode spaces
        s = " ".join(s.split())
    if len(s) > 64:
        s = s.strip()
        if len(s) > 64:
            return None
    this_year = _this_year()
    m = _NUMERIC.fullmatch(s)
    if m:
        return _numeric(m[1], m[3], m[4], this_year)
    m = _EIGHT.fullmatch(s)
    if m:
        v = m[1]
        return _ymd(int(v[:4]), int(v[4:6]), int(v[6:]), this_year) or _ymd(
            int(v[4:]), int(v[2:4]), int(v[:2]), this_year
        )
    m = _DAY_NAME.fullmatch(s)
    if m:
        day, name, year = m[1], m[2], m[3]
    else:
        m = _NAME_DAY.fullmatch(s)
        if not m:
            return None
        name, day, year = m[1], m[2], m[3]
    month = _MONTHS.get(name)
    if month is None:
        return None
    y = int(year) if len(year) == 4 else _century(int(year), this_year)
    return _ymd(y, month, int(day), this_year)


def swap_day_month(ymd: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """The same date with day and month exchanged, or None when that is no different date.

    Day/month swaps are the commonest birth-date error between two registries (US vs.
    Dutch order), so matching also tries this variant. None when the day is above 12,
    equal to the month, or the result is not a real date.
    """
    y, m, d = ymd
    if d == m or not 1 <= d <= 12:
        return None
    return (y, d, m) if _real(y, d, m) else None
