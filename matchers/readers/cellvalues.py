"""What an XLSX cell says, as the text a column holds: one cell at a time, and whole
columns at once.

A cell's XML gives a raw text and a kind (its ``t`` attribute, and for numbers whether its
style is a date or duration format). The text rendered here is what python-calamine, the
reader before this one, handed to :func:`base.cell_text` — so a sheet reads the same as it
did, and like a CSV export of it: whole numbers without ``.0`` (a BSN typed as a number),
date serials as ``YYYY-MM-DD`` (with a time when they have one), booleans ``true``/``false``,
error values (``#N/A``) empty, text as written (``<t>`` trimmed unless
``xml:space="preserve"``, ``_xHHHH_`` escapes decoded).

The vectorised :func:`render` handles the bulk of a sheet in pyarrow and numpy; any value
off the common path (a decimal number, a date with a time, text with an entity) goes
through :func:`render_one`, which is the definition: a hypothesis test holds the two equal.
"""

from __future__ import annotations

import datetime
import enum
import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matchers.readers.base import cell_text

__all__ = [
    "XML_SPACE",
    "Kind",
    "XmlTextError",
    "ooxml_unescape",
    "render",
    "render_one",
    "xml_text",
]


class Kind(enum.IntEnum):
    """How a cell's raw text is to be read (from its ``t`` attribute and style)."""

    NUMBER = 0  # t absent or "n", a plain number format
    DATE = 1  # a number in a date/time format
    DURATION = 2  # a number in an elapsed-time format ([h]:mm)
    SHARED = 3  # t="s": an index into the shared strings table
    TEXT = 4  # t="str" (a formula's text result), or an unknown t: the text as written
    INLINE = 5  # <is><t>: trimmed of XML whitespace
    INLINE_KEPT = 6  # <is><t xml:space="preserve">: as written
    BOOL = 7
    ERROR = 8  # #N/A, #DIV/0!: no value
    ISO_DATE = 9  # t="d": an ISO 8601 date or time
    EMPTY = 10
    LITERAL = 11  # already rendered (a cell read by the XML parser)


class XmlTextError(ValueError):
    """Text with an entity reference XML does not define (the part is not well-formed)."""


_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z_][\w.-]*);|&")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
XML_SPACE = " \t\n\r"
# What Rust's f64 parser (calamine) accepts; Python's float() also takes "1_000" and " 5 ".
_FLOAT = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity|nan)"
)
_EPOCH = datetime.datetime(1899, 12, 30)  # noqa: DTZ001 - a spreadsheet serial has no zone
_MS_PER_DAY = 86_400_000
_MAX_SERIAL_DAYS = 2_958_465  # 9999-12-31
_DAYS_1904 = 1462


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name is None:
        raise XmlTextError("a bare '&'")
    if name.startswith("#"):
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise XmlTextError("a character reference out of range")
        return chr(code)
    try:
        return _NAMED[name]
    except KeyError:
        raise XmlTextError("an undefined entity") from None


def _ooxml_char(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)


def ooxml_unescape(text: str) -> str:
    """``_xHHHH_`` decoded: how OOXML writes characters XML cannot hold (``_x000D_``)."""
    return _OOXML_ESCAPE.sub(_ooxml_char, text) if "_x" in text else text


def xml_text(raw: str, *, ooxml: bool = True, trim: bool = False) -> str:
    """Character data as an XML parser reports it: line ends normalised to ``\\n``,
    entity and character references replaced; then trimmed of XML whitespace (``trim``,
    as calamine reads a ``<t>`` without ``xml:space="preserve"``) and ``_xHHHH_``
    decoded (``ooxml``).

    :raises XmlTextError: an undefined entity or a bare ``&``.
    """
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in raw:
        raw = _ENTITY.sub(_entity, raw)
    if trim:
        raw = raw.strip(XML_SPACE)
    return ooxml_unescape(raw) if ooxml else raw


def _serial(raw: str) -> float | None:
    raw = xml_text(raw, ooxml=False)
    return float(raw) if _FLOAT.fullmatch(raw) else None


def _number(raw: str) -> str:
    value = _serial(raw)
    if value is None:  # not a number after all: the text (calamine reads it so)
        return xml_text(raw, ooxml=False)
    return cell_text(value)  # type: ignore[return-value]


def _moment(value: float, date1904: bool) -> datetime.datetime | None:
    """A serial date as calamine reads it: the 1900 system's phantom 29 February is
    folded onto the 28th, times round to the millisecond."""
    days = value + _DAYS_1904 if date1904 else value
    if days < 60:
        days += 1
    ms = days * _MS_PER_DAY
    if not math.isfinite(ms):  # a finite serial beyond ~1e300 days: no date at all
        return None
    ms = math.copysign(math.floor(abs(ms) + 0.5), ms)  # Rust's round(): half away from 0
    try:
        return _EPOCH + datetime.timedelta(milliseconds=ms)
    except OverflowError:
        return None


def _date(raw: str, date1904: bool) -> str:
    value = _serial(raw)
    if value is None:
        return xml_text(raw, ooxml=False)
    moment = _moment(value, date1904) if math.isfinite(value) else None
    if moment is None:
        return cell_text(value)  # type: ignore[return-value]
    if value < 1.0:
        return moment.time().isoformat()
    if value == float(int(value)):
        return moment.date().isoformat()
    return cell_text(moment)  # type: ignore[return-value]


def _duration(raw: str) -> str:
    value = _serial(raw)
    if value is None:
        return xml_text(raw, ooxml=False)
    try:
        span = datetime.timedelta(milliseconds=round(value * _MS_PER_DAY))
    except (OverflowError, ValueError):
        return cell_text(value)  # type: ignore[return-value]
    return cell_text(span)  # type: ignore[return-value]


def _iso(raw: str) -> str:
    text = xml_text(raw)
    for parse in (datetime.datetime.fromisoformat, datetime.time.fromisoformat):
        try:
            value = parse(text)
        except ValueError:
            continue
        if isinstance(value, datetime.datetime) and value.tzinfo is None and "T" in text:
            return cell_text(value)  # type: ignore[return-value]
        if isinstance(value, datetime.time) and value.tzinfo is None:
            return value.isoformat()
    try:
        return datetime.date.fromisoformat(text).isoformat() if len(text) == 10 else text
    except ValueError:
        return text


def render_one(kind: int, raw: str, date1904: bool = False) -> str:
    """One cell's text ("" for no value) from its raw XML text; SHARED and LITERAL
    cells are resolved by the caller.

    :raises XmlTextError: the raw text holds an undefined entity.
    """
    if kind == Kind.NUMBER:
        return _number(raw)
    if kind == Kind.TEXT:
        return xml_text(raw)
    if kind == Kind.INLINE:
        return xml_text(raw, trim=True)
    if kind == Kind.INLINE_KEPT:
        return xml_text(raw)
    if kind == Kind.DATE:
        return _date(raw, date1904)
    if kind == Kind.DURATION:
        return _duration(raw)
    if kind == Kind.BOOL:
        text = xml_text(raw, ooxml=False)
        if text in ("1", "true"):
            return "true"
        return "false" if text in ("0", "false") else text
    if kind == Kind.ISO_DATE:
        return _iso(raw)
    return ""  # ERROR, EMPTY


# --------------------------------------------------------------------------- vectorised

_NEEDS_XML = r"[&\r]|_x[0-9A-Fa-f]{4}_"
_DAYS_TO_1970 = 25_569  # serial of 1970-01-01 in the 1900 system


def _assemble(size: int, pieces: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """One string array of ``size`` from pieces that each fill the positions given."""
    if len(pieces) == 1 and len(pieces[0][0]) == size:
        return pieces[0][1]
    index = np.empty(size, dtype=np.int64)
    start = 0
    for where, _values in pieces:
        index[where] = np.arange(start, start + len(where))
        start += len(where)
    return pa.concat_arrays([values for _, values in pieces]).take(index)


def _split(values: pa.Array, mask: np.ndarray, fast: object, slow: object) -> pa.Array:
    """``fast`` (vectorised) over the elements outside ``mask``, ``slow`` (one value at a
    time) over those under it, put back in order."""
    if not mask.any():
        return fast(values)  # type: ignore[operator]
    pieces: list[tuple[np.ndarray, pa.Array]] = []
    where = np.flatnonzero(mask)
    pieces.append((where, pa.array([slow(v) for v in values.take(where).to_pylist()],  # type: ignore[operator]
                                   pa.string())))
    rest = np.flatnonzero(~mask)
    if len(rest):
        pieces.append((rest, fast(values.take(rest))))  # type: ignore[operator]
    return _assemble(len(values), pieces)


def _mask(values: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(values, pattern).fill_null(False))


def _as_is(values: pa.Array) -> pa.Array:
    return values


_SPACE_BYTE = np.zeros(256, dtype=bool)
_SPACE_BYTE[[ord(c) for c in XML_SPACE]] = True


def _untrimmed(values: pa.Array) -> bool:
    """Whether any value starts or ends with XML whitespace: a look at the first and last
    byte of each, straight from the Arrow buffers (trimming copies every string)."""
    if values.type != pa.string() or not len(values):
        return True
    _, offsets_buf, data_buf = values.buffers()
    if data_buf is None:
        return False
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[values.offset:
                                                          values.offset + len(values) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    return bool(_SPACE_BYTE[data[starts[filled]]].any()
                or _SPACE_BYTE[data[ends[filled] - 1]].any())


def _render_text(values: pa.Array, trim: bool, plain: bool) -> pa.Array:
    need = np.zeros(len(values), dtype=bool) if plain else _mask(values, _NEEDS_XML)
    if trim and plain and not _untrimmed(values):
        return values  # nothing to unescape, nothing to trim
    if trim:
        return _split(values, need, lambda v: pc.utf8_trim(v, XML_SPACE),
                      lambda v: xml_text(v, trim=True))
    return _split(values, need, _as_is, xml_text)


def _render_number(values: pa.Array) -> pa.Array:
    """Digits without a leading zero, up to 15 of them (exact in a double), read as
    themselves; anything else (decimals, exponents, signs) through :func:`_number`."""
    digits = pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), 15))
    plain = pc.and_not(digits, pc.starts_with(values, "0"))
    return _split(values, ~np.asarray(plain.fill_null(False)), _as_is, _number)


def _serial_dates(values: pa.Array, date1904: bool) -> pa.Array:
    """Whole serials from 1 to 2958465, as dates."""
    days = np.asarray(pc.cast(values, pa.int64())) + (_DAYS_1904 if date1904 else 0)
    days = np.where(days < 60, days + 1, days) - _DAYS_TO_1970
    return pc.cast(pa.array(days.astype(np.int32), pa.date32()), pa.string())


def _render_date(values: pa.Array, date1904: bool) -> pa.Array:
    digits = pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), 7))
    simple = np.asarray(digits.fill_null(False))
    if simple.any():
        serial = np.zeros(len(values), dtype=np.int64)
        serial[simple] = np.asarray(pc.cast(values.filter(pa.array(simple)), pa.int64()))
        last = _MAX_SERIAL_DAYS - (_DAYS_1904 if date1904 else 0)  # 9999-12-31
        simple &= (serial >= 1) & (serial <= last)
    return _split(values, ~simple, lambda v: _serial_dates(v, date1904),
                  lambda v: _date(v, date1904))


def render(
    kinds: np.ndarray, raws: pa.Array, date1904: bool, *, plain: bool = False
) -> tuple[pa.Array, np.ndarray]:
    """Every cell's text: ``kinds`` (one :class:`Kind` per cell) and ``raws`` (their raw
    XML text, a string array) in, a string array out ("" or null for no value) and the
    positions of SHARED cells, whose text is still the index into the table. ``plain``:
    the caller knows no raw text holds ``&``, a carriage return or ``_x``.

    :raises XmlTextError: a raw text holds an undefined entity.
    """
    pieces: list[tuple[np.ndarray, pa.Array]] = []
    for kind in np.flatnonzero(np.bincount(kinds, minlength=len(Kind))):
        where = np.flatnonzero(kinds == kind)
        part = raws.take(where) if len(where) < len(raws) else raws
        if kind in (Kind.SHARED, Kind.LITERAL):
            done = part  # the caller looks SHARED up; LITERAL is finished
        elif kind == Kind.NUMBER:
            done = _render_number(part)
        elif kind in (Kind.INLINE, Kind.INLINE_KEPT, Kind.TEXT):
            done = _render_text(part, trim=kind == Kind.INLINE, plain=plain)
        elif kind == Kind.DATE:
            done = _render_date(part, date1904)
        elif kind in (Kind.ERROR, Kind.EMPTY):
            done = pa.nulls(len(where), pa.string())
        else:
            done = pa.array([render_one(int(kind), v, date1904) for v in part.to_pylist()],
                            pa.string())
        pieces.append((where, done))
    if not pieces:
        return raws, np.empty(0, dtype=np.int64)
    return _assemble(len(raws), pieces), np.flatnonzero(kinds == Kind.SHARED)
