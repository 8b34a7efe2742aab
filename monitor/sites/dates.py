"""Dates as leak sites write them, to aware UTC datetimes.

Absolute dates (ISO 8601, ``2025-07-06``, ``06/07/2025``, ``06.07.2025``, ``Jul 6, 2025``,
``6 July 2025 14:00``, Unix timestamps in seconds or milliseconds) and relative ones:
countdowns (``13D 23h 59m``, ``13 days 23:59:59``, ``13:23:59:59``) and ``3 hours ago``.
A relative value is taken from the ``now`` the caller gives, so a saved page parses the same
way in a test as it did when it was fetched. Day-first or month-first for ambiguous numeric
dates is the site's ``date_order``; a value over 12 decides by itself. Times without a zone
are taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["parse_when"]

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YMD = re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<a>\d{1,2})[-/.](?P<b>\d{1,2})(?!\d)")
_XYZ = re.compile(r"(?<!\d)(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})(?!\d)")
_D_MON_Y = re.compile(r"(?<!\d)(?P<d>\d{1,2})(?:st|nd|rd|th)?\s*(?:of\s+)?" + _MONTH
                      + r",?\s*(?P<y>\d{4})(?!\d)", re.I)
_MON_D_Y = re.compile(_MONTH + r"\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<y>\d{4})(?!\d)", re.I)
_TIME = re.compile(r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"
                   r"\s*(?P<ampm>[ap]\.?m\.?)?(?![\d:])", re.I)
_ZONE = re.compile(r"(?:(?<=\d)|\s)(?:(?P<utc>Z|UTC|GMT)|(?:UTC|GMT)?(?P<sign>[+-])(?P<zh>\d{2}):?"
                   r"(?P<zm>\d{2}))(?![\w:])", re.I)
_EPOCH = re.compile(r"\d{9,13}(?:\.\d+)?")

_UNIT_SECONDS = {
    "w": 604800, "week": 604800, "d": 86400, "day": 86400, "h": 3600, "hr": 3600,
    "hour": 3600, "m": 60, "min": 60, "minute": 60, "s": 1, "sec": 1, "second": 1,
}
_UNIT = re.compile(
    r"(?P<n>\d{1,5})\s*(?P<u>weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
    r"(?![a-z])", re.I)
_CLOCK = re.compile(r"(?<![\d:])(?:(?P<d>\d{1,4})[:\s]+)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})"
                    r"(?![\d:])")
_FILLER = re.compile(
    r"\b(?:and|left|remaining|remain|in|ago|until|till|time|publication|published|publish|"
    r"deadline|leak|leaks|data|will|be|countdown|timer|before|after|expires?)\b|[,:;.\-()|/]",
    re.I)
_MIN_YEAR, _MAX_YEAR = 1990, 2100


def parse_when(
    text: str | None, now: datetime, *, order: str = "dmy", future: bool = False
) -> datetime | None:
    """The moment ``text`` names, as an aware UTC datetime, or None.

    ``future`` says which way a bare duration points: a deadline's countdown (``True``) or a
    "published" age (``False``); ``ago``/``in``/``left`` in the text override it.
    """
    if not text:
        return None
    text = text.strip()[:200]
    if not text:
        return None
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    absolute = _absolute(text, order)
    if absolute is not None:
        return absolute
    return _relative(text, now, future)


def _from_epoch(value: float) -> datetime | None:
    if value > 1e11:  # milliseconds
        value /= 1000
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if _MIN_YEAR <= moment.year <= _MAX_YEAR else None


def _absolute(text: str, order: str) -> datetime | None:
    iso = _iso(text)
    if iso is not None:
        return iso
    y = mo = d = None
    if m := _YMD.search(text):
        y, mo, d = int(m["y"]), int(m["a"]), int(m["b"])
    elif m := _XYZ.search(text):
        a, b, y = int(m["a"]), int(m["b"]), int(m["y"])
        if y < 100:
            y += 2000
        if a > 12 or (order == "dmy" and b <= 12):
            d, mo = a, b
        else:
            mo, d = a, b
    elif (m := _D_MON_Y.search(text)) or (m := _MON_D_Y.search(text)):
        y, mo, d = int(m["y"]), _MONTHS[m["mon"].lower().rstrip(".")], int(m["d"])
    if y is None or mo is None or d is None:
        return None
    rest = text[: m.start()] + " " + text[m.end():]
    hour = minute = second = 0
    if t := _TIME.search(rest):
        hour, minute, second = int(t["h"]), int(t["m"]), int(t["s"] or 0)
        ampm = (t["ampm"] or "").lower().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
    zone = _zone(rest)
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        return None
    try:
        return datetime(y, mo, d, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _iso(text: str) -> datetime | None:
    candidate = text.replace("Z", "+00:00") if text.endswith("Z") else text
    if not (len(candidate) >= 10 and candidate[4] == "-" and candidate[:4].isdigit()):
        return None
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not _MIN_YEAR <= moment.year <= _MAX_YEAR:
        return None
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _zone(text: str) -> timezone:
    m = _ZONE.search(text)
    if not m or m["utc"]:
        return UTC
    offset = timedelta(hours=int(m["zh"]), minutes=int(m["zm"]))
    if offset >= timedelta(hours=24):
        return UTC
    return timezone(-offset if m["sign"] == "-" else offset)


def _relative(text: str, now: datetime, future: bool) -> datetime | None:
    lowered = text.lower()
    seconds = 0
    found = False
    rest = lowered
    if c := _CLOCK.search(lowered):
        seconds += int(c["d"] or 0) * 86400 + int(c["h"]) * 3600 + int(c["m"]) * 60 + int(c["s"])
        found = True
        rest = rest[: c.start()] + " " + rest[c.end():]
    for u in _UNIT.finditer(rest):
        unit = u["u"].lower()
        unit = unit[:-1] if len(unit) > 2 and unit.endswith("s") else unit
        seconds += int(u["n"]) * _UNIT_SECONDS[unit]
        found = True
    if not found:
        return None
    # Anything but units, numbers and filler words means this was not a duration.
    leftover = _FILLER.sub(" ", _UNIT.sub(" ", rest))
    if leftover.strip():
        return None
    if re.search(r"\bago\b", lowered):
        future = False
    elif re.search(r"\b(?:in|left|remaining|until|till)\b", lowered):
        future = True
    delta = timedelta(seconds=seconds)
    try:
        return (now + delta if future else now - delta).astimezone(UTC)
    except OverflowError:
        return None
