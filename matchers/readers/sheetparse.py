"""Worksheet and shared-strings XML through expat: the reading of record, for whatever
the vectorised path (:mod:`.sheetfast`) does not take — pretty-printed XML, cells without
an ``r`` attribute, rich text, comments, other encodings than UTF-8.

The rules are calamine's (so a sheet reads as it did before): a cell's column comes from
its ``r`` attribute, else it follows the previous cell; its value is the text of ``<v>``
(ignored for ``t="inlineStr"``), or of the ``<t>`` elements of ``<is>``, each trimmed of
XML whitespace unless ``xml:space="preserve"``, phonetic runs (``<rPh>``) left out;
formulas are not values. Element names are matched without their prefix.

Safety: a DTD is refused before it is read (no entity expansion, no external entities);
text is collected up to a limit, so one enormous text node cannot fill memory.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.parsers import expat

from matchers.readers.cellvalues import XML_SPACE, Kind, ooxml_unescape
from matchers.readers.sheetcells import Cells

__all__ = [
    "DtdRefused",
    "KindOf",
    "SharedStringsHandler",
    "SheetHandler",
    "column_index",
    "new_parser",
]

KindOf = Callable[[str | None, str | None], Kind]  # (t, s) -> Kind


class DtdRefused(Exception):
    """The XML declares a DTD: refused (entity expansion, external entities)."""


def _refuse(*_args: object) -> None:
    raise DtdRefused


def new_parser(
    start: Callable[..., None],
    end: Callable[[str], None] | None = None,
    data: Callable[[str], None] | None = None,
    *,
    namespaces: bool = False,
) -> expat.XMLParserType:
    """An expat parser that refuses DTDs and entity declarations (:class:`DtdRefused`);
    with ``namespaces``, names are ``"uri local"``, else as written (``x:c``)."""
    parser = expat.ParserCreate(namespace_separator=" ") if namespaces else expat.ParserCreate()
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if data is not None:
        parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    return parser


def _local(name: str) -> str:
    return name[name.find(":") + 1 :]


def column_index(ref: str) -> int | None:
    """0-based column of a cell reference ("B7" -> 1), or None when it is not one."""
    col = 0
    letters = 0
    for char in ref:
        if "A" <= char <= "Z":
            col = col * 26 + ord(char) - 64
            letters += 1
        else:
            break
    if not 1 <= letters <= 3 or letters == len(ref) or not ref[letters:].isdigit():
        return None
    return col - 1


def _escaped(text: str) -> str:
    """Parsed text back as raw XML text, so :func:`cellvalues.render_one` reads it like
    text the vectorised path cut from the bytes (entities already replaced by expat)."""
    return text.replace("&", "&amp;").replace("\r", "&#13;")


class _Strings:
    """Text of ``<t>`` elements in an ``<is>`` or ``<si>``: trimmed per element unless
    preserved, phonetic runs left out, ``_xHHHH_`` decoded on the whole."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pieces: list[str] = []
        self.size = 0
        self.over = False
        self._text: list[str] | None = None
        self._keep = False
        self._phonetic = 0

    def start(self, local: str, attrs: dict[str, str]) -> None:
        if local == "rPh":
            self._phonetic += 1
        elif local == "t" and not self._phonetic:
            self._text = []
            self._keep = attrs.get("xml:space") == "preserve"

    def end(self, local: str) -> None:
        if local == "rPh":
            self._phonetic -= 1
        elif local == "t" and self._text is not None:
            text = "".join(self._text)
            self.pieces.append(text if self._keep else text.strip(XML_SPACE))
            self._text = None

    def data(self, text: str) -> None:
        if self._text is not None:
            self.size += len(text)
            if self.size > self.limit:
                self.over = True
            else:
                self._text.append(text)

    def value(self) -> str:
        """The text; "" when it was over the limit (the caller counts that)."""
        return "" if self.over else ooxml_unescape("".join(self.pieces))


class SheetHandler:
    """Collects the cells of ``<row>`` elements as they complete.

    ``max_row_text``: a row with more text than this is dropped and counted in
    ``too_long`` (its text is not kept while it is read).
    """

    def __init__(self, kind_of: KindOf, max_row_text: int) -> None:
        self.kind_of = kind_of
        self.max_row_text = max_row_text
        self.rows = 0
        self.too_long = 0
        self.done = False  # the end of sheetData was seen
        self._row: list[int] = []
        self._col: list[int] = []
        self._kind: list[int] = []
        self._raw: list[str] = []
        self._next_col = 0
        self._row_size = 0
        self._row_start = 0
        self._cell: tuple[int, str | None, str | None] | None = None
        self._value: list[str] | None = None
        self._in_value = False
        self._strings: _Strings | None = None
        self._in_strings = False

    def parser(self) -> expat.XMLParserType:
        return new_parser(self.start, self.end, self.data)

    def take(self) -> Cells:
        """The cells of the rows completed so far; they are forgotten here."""
        done = self._row_start
        cells = Cells.from_lists(self.rows, self._row[:done], self._col[:done],
                                 self._kind[:done], self._raw[:done])
        cells.too_long = self.too_long
        del self._row[:done], self._col[:done], self._kind[:done], self._raw[:done]
        self._row = [r - self.rows for r in self._row]
        self.rows = self.too_long = self._row_start = 0
        return cells

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if self._in_strings and self._strings is not None:
            self._strings.start(local, attrs)
        elif self._cell is not None:
            if local == "v" and self._cell[2] not in ("inlineStr", "is"):
                self._value, self._in_value = [], True
            elif local == "is":
                self._strings = self._strings or _Strings(self.max_row_text)
                self._in_strings = True
        elif local == "c":
            ref = attrs.get("r")
            col = column_index(ref) if ref is not None else None
            self._cell = (self._next_col if col is None else col, attrs.get("s"),
                          attrs.get("t"))

    def end(self, name: str) -> None:
        local = _local(name)
        if self._in_strings and self._strings is not None:
            if local == "is":
                self._in_strings = False
            else:
                self._strings.end(local)
        elif local == "v":
            self._in_value = False
        elif local == "c" and self._cell is not None:
            self._finish_cell(self._cell)
        elif local == "row":
            self._finish_row()
        elif local == "sheetData":
            if self._row_start < len(self._row):
                self._finish_row()  # cells outside any <row>: read as one
            self.done = True

    def data(self, text: str) -> None:
        if self._in_strings and self._strings is not None:
            self._strings.data(text)
        elif self._in_value and self._value is not None:
            self._row_size += len(text)
            if self._row_size <= self.max_row_text:
                self._value.append(text)

    def _finish_cell(self, cell: tuple[int, str | None, str | None]) -> None:
        col, style, kind_attr = cell
        self._next_col = col + 1
        if self._strings is not None:
            strings, self._strings = self._strings, None
            self._row_size += strings.size
            kind, raw = Kind.LITERAL, strings.value()
        elif self._value is not None:
            kind = self.kind_of(kind_attr, style)
            raw = _escaped("".join(self._value))
        else:
            kind, raw = Kind.EMPTY, ""
        self._cell, self._value, self._in_value, self._in_strings = None, None, False, False
        if kind != Kind.EMPTY and raw:
            self._row.append(self.rows)
            self._col.append(col)
            self._kind.append(kind)
            self._raw.append(raw)

    def _finish_row(self) -> None:
        if self._row_size > self.max_row_text:
            del self._row[self._row_start :], self._col[self._row_start :]
            del self._kind[self._row_start :], self._raw[self._row_start :]
            self.too_long += 1
        self.rows += 1
        self._row_start = len(self._row)
        self._next_col = 0
        self._row_size = 0


class SharedStringsHandler:
    """Collects the strings of ``<si>`` elements as they complete; a string longer than
    ``max_text`` is not kept: it reads as "" and its index is listed in ``over``."""

    def __init__(self, max_text: int) -> None:
        self.max_text = max_text
        self.values: list[str] = []
        self.over: list[int] = []
        self.done = False
        self._strings: _Strings | None = None

    def parser(self) -> expat.XMLParserType:
        return new_parser(self.start, self.end, self.data)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if self._strings is not None:
            self._strings.start(local, attrs)
        elif local == "si":
            self._strings = _Strings(self.max_text)

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "si" and self._strings is not None:
            if self._strings.over:
                self.over.append(len(self.values))
            self.values.append(self._strings.value())
            self._strings = None
        elif self._strings is not None:
            self._strings.end(local)
        elif local == "sst":
            self.done = True

    def data(self, text: str) -> None:
        if self._strings is not None:
            self._strings.data(text)
