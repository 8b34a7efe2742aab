"""Worksheet rows and shared strings read vectorised, from compact XML (see
:mod:`.xmlscan`): the path nearly every real workbook takes.

A cell is recognised by the codes of its tags: ``<c r="..">`` then one of

* nothing (``<c .../>``, ``<c ...></c>``, ``<c ...><v/></c>``): empty;
* ``<v>`` ``</v>`` ``</c>``, optionally after a formula (``<f>..</f>``, ``<f .../>``):
  the value in ``<v>``;
* ``<is>`` ``<t>`` ``</t>`` ``</is>`` ``</c>``: an inline string.

Any other cell that starts with ``<c r=`` and ends at the next ``</c>`` (rich text, a
formula without a value, extensions) is read on its own by expat. A cell without ``r``
first, or a tag outside any cell that is not a row tag, sends the whole chunk to expat
(:class:`~.xmlscan.NotCompact`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from matchers.readers import xmlscan as x
from matchers.readers.cellvalues import Kind, render
from matchers.readers.sheetcells import Cells
from matchers.readers.sheetparse import KindOf, SharedStringsHandler, SheetHandler
from matchers.readers.xmlscan import NotCompact, Tags, substrings

__all__ = [
    "MAX_ODD_CELLS",
    "fast_cells",
    "fast_strings",
    "odd_cell_parser",
    "parse_attributes",
]

MAX_ODD_CELLS = 256  # cells read one by one through expat; beyond, expat reads the chunk
_ATTRIBUTE = re.compile(r'\s+([A-Za-z_][\w.:-]*)\s*=\s*"([^"<&]*)"')


def parse_attributes(text: str) -> dict[str, str] | None:
    """``' s="1" t="n"'`` as a dict; None when it is not that simple form."""
    out: dict[str, str] = {}
    at = 0
    for match in _ATTRIBUTE.finditer(text):
        if match.start() != at:
            return None
        out[match.group(1)] = match.group(2)
        at = match.end()
    return out if not text[at:].strip() else None


def _kinds(chunk: bytes, starts: np.ndarray, ends: np.ndarray, kind_of: KindOf) -> np.ndarray:
    """The Kind each cell's attributes (after ``r``) give, parsed once per distinct text."""
    texts = substrings(chunk, starts, ends).dictionary_encode()
    table = np.empty(len(texts.dictionary), dtype=np.int8)
    for i, text in enumerate(texts.dictionary.to_pylist()):
        attrs = parse_attributes(text)
        if attrs is None:
            raise NotCompact("cell attributes in an unusual form")
        table[i] = kind_of(attrs.get("t"), attrs.get("s"))
    return table[np.asarray(texts.indices)]


def _columns(tags: Tags, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column (0-based) from ``r="XY12"``, and where the attributes after it start.

    :raises NotCompact: a reference that is not 1-3 capital letters, a digit and a quote
        within 8 bytes (what lies between is not checked: "A1x" reads as column A).
    """
    if not len(cells):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    at = tags.lt[cells] + 6  # after '<c r="'
    data = tags.bytes
    word = tags.word(at).astype(np.int32)
    b0, b1, b2 = ((word >> (8 * k) & 0xFF) - 64 for k in range(3))  # 'A' -> 1
    up0, up1, up2 = ((b >= 1) & (b <= 26) for b in (b0, b1, b2))
    two = up0 & up1
    three = two & up2
    col = np.where(two, b0 * 26 + b1, b0)
    col = np.where(three, col * 26 + b2, col)
    first_digit = at + up0 + two + three
    bad = ~up0 | ~_DIGIT[data[first_digit]]
    # The row number: its length is nearly always the same within a chunk; cells where
    # the quote is not where that length puts it are measured one byte at a time.
    usual = int(np.argmax(data[first_digit[:1, None] + np.arange(1, 9)] == ord('"'))) + 1
    digits = np.full(len(cells), usual, dtype=np.int64)
    other = np.flatnonzero(data[first_digit + usual] != ord('"'))
    if len(other):
        found = np.zeros(len(other), dtype=bool)
        for k in range(1, 9):
            quote = data[first_digit[other] + k] == ord('"')
            digits[other[quote & ~found]] = k
            found |= quote
        bad[other[~found]] = True
    if np.any(bad):
        raise NotCompact("a cell reference that is not a column and row")
    return col.astype(np.int64) - 1, first_digit + digits + 1


def _shape(*codes: int) -> int:
    return sum(code << (5 * k) for k, code in enumerate(codes))


# The compact forms of a cell, by the codes of the tags after its <c ...>: (how many of
# them count, their codes, the cell's length in tags, which of them holds the value).
_FORMS: list[tuple[int, int, int, int | None]] = [
    (1, _shape(x.C_END), 2, None),
    (2, _shape(x.V_EMPTY, x.C_END), 3, None),
    (3, _shape(x.V, x.V_END, x.C_END), 4, 1),
    (5, _shape(x.IS, x.T, x.T_END, x.IS_END, x.C_END), 6, 2),
    (5, _shape(x.IS, x.T_KEEP, x.T_END, x.IS_END, x.C_END), 6, 2),
    (5, _shape(x.F, x.F_END, x.V, x.V_END, x.C_END), 6, 3),  # <f>..</f><v>..</v>
    (4, _shape(x.F, x.V, x.V_END, x.C_END), 5, 2),  # <f .../><v>..</v>
    (3, _shape(x.F, x.F_END, x.C_END), 4, None),  # a formula without a value
]
_WIDTH_MASK = [(1 << (5 * width)) - 1 for width in range(6)]
_UPPER = np.zeros(256, dtype=bool)
_UPPER[65:91] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True


def fast_cells(chunk: bytes, kind_of: KindOf, parse_odd: Callable[[bytes], tuple[int, str]],
               ) -> Cells:
    """The cells of a chunk of whole ``<row>`` elements (the main namespace's prefix
    already removed).

    ``parse_odd`` reads one cell element that is not in a compact form, giving
    ``(kind, raw)``.

    :raises NotCompact: the chunk must be read by expat.
    """
    tags = Tags(chunk)
    code = tags.code
    if np.any(code == x.C_OTHER):
        raise NotCompact("a cell without r first")
    cells = np.flatnonzero(code == x.C_R)
    plain = b"&" not in chunk and b"\r" not in chunk and (b"_" not in chunk
                                                           or b"_x" not in chunk)
    is_row = code == x.ROW
    row_of = np.cumsum(is_row, dtype=np.int64)[cells] - 1
    if len(cells) and row_of[0] < 0:
        raise NotCompact("a cell outside a row")
    col, attrs_at = _columns(tags, cells)
    cell_gt = tags.gt(cells)
    closed = tags.bytes[cell_gt - 1] == ord("/")
    sig = tags.shapes(cells, 5)
    span = np.where(closed, 1, 0)
    value_at = np.full(len(cells), -1, dtype=np.int64)
    for width, shape, length, value in _FORMS:
        match = ((sig & _WIDTH_MASK[width]) == shape) & (span == 0)
        span[match] = length
        if value is not None:
            value_at[match] = value
        if span.all():  # every cell has its form: the rarer forms need no look
            break
    value_tag = np.where(value_at >= 0, cells + value_at, -1)

    odd = np.flatnonzero(span == 0)
    if len(odd) > MAX_ODD_CELLS:
        raise NotCompact("many cells in unusual forms")
    if len(odd):
        ends = np.flatnonzero(code == x.C_END)
        at = np.searchsorted(ends, cells[odd])
        if np.any(at >= len(ends)):
            raise NotCompact("a cell that does not end")
        span[odd] = ends[at] - cells[odd] + 1
    _check_coverage(code, cells, span)

    kind = _kinds(chunk, attrs_at, cell_gt - closed, kind_of)
    kind[span <= 3] = Kind.EMPTY
    kind[(value_tag < 0) & (span == 4)] = Kind.EMPTY  # <f>..</f> without a value
    is_inline = np.zeros(len(cells), dtype=bool)
    is_inline[value_tag >= 0] = tags.code[value_tag[value_tag >= 0]] != x.V
    kind[(kind == Kind.INLINE) & ~is_inline] = Kind.EMPTY  # <v> of t="inlineStr" is ignored
    keep = is_inline & (tags.code[np.maximum(value_tag, 0)] == x.T_KEEP)
    kind[is_inline] = Kind.INLINE
    kind[keep] = Kind.INLINE_KEPT

    has_value = value_tag >= 0
    starts = np.where(has_value, tags.lt[np.maximum(value_tag, 0)] + 3, tags.lt[cells])
    starts[keep] += len(x.T_KEEP_TAG) - 3
    ends = np.where(has_value, tags.lt[np.minimum(value_tag + 1, len(tags) - 1)], starts)
    raw = substrings(chunk, starts, ends)
    if len(odd):
        raw, kind = _odd_cells(chunk, tags, cells, span, odd, raw, kind, parse_odd)
    return Cells(int(np.count_nonzero(is_row)), row_of, col, kind, raw,
                 plain=plain and not len(odd))


def _check_coverage(code: np.ndarray, cells: np.ndarray, span: np.ndarray) -> None:
    """Every tag is a row tag or inside exactly one recognised cell: cells in order, none
    overlapping the next, and the tags they cover plus the row tags are all the tags."""
    last = cells + span - 1
    if np.any(last[:-1] >= cells[1:]) or (len(last) and last[-1] >= len(code)):
        raise NotCompact("cells that overlap")
    rows = np.count_nonzero(code == x.ROW) + np.count_nonzero(code == x.ROW_END)
    if int(span.sum()) + rows != len(code):
        raise NotCompact("markup outside cells")


def _odd_cells(
    chunk: bytes, tags: Tags, cells: np.ndarray, span: np.ndarray, odd: np.ndarray,
    raw: pa.Array, kind: np.ndarray, parse_odd: Callable[[bytes], tuple[int, str]],
) -> tuple[pa.Array, np.ndarray]:
    ends = tags.lt[cells[odd] + span[odd] - 1] + len(b"</c>")
    texts = raw.to_pylist()
    for i, start, end in zip(odd.tolist(), tags.lt[cells[odd]].tolist(), ends.tolist(),
                             strict=True):
        kind[i], texts[i] = parse_odd(chunk[start:end])
    return pa.array(texts, pa.string()), kind


def odd_cell_parser(kind_of: KindOf, max_row_text: int) -> Callable[[bytes], tuple[int, str]]:
    """Reads one ``<c>`` element with expat, as :class:`SheetHandler` would in a row."""

    def parse(element: bytes) -> tuple[int, str]:
        handler = SheetHandler(kind_of, max_row_text)
        parser = handler.parser()
        parser.Parse(b"<row>" + element + b"</row>", True)
        cells = handler.take()
        if not len(cells.kind):
            return Kind.EMPTY, ""
        return int(cells.kind[0]), cells.raw[0].as_py()

    return parse


def fast_strings(chunk: bytes, max_text: int) -> tuple[pa.Array, list[int]]:
    """The ``<si>`` strings of a chunk of whole ``<si>`` elements, and the positions of
    those longer than ``max_text`` (read as "").

    :raises NotCompact: the chunk must be read by expat.
    """
    plain_items = _plain_items(chunk)
    if plain_items is not None:
        return _strings(chunk, *plain_items, max_text)
    tags = Tags(chunk)
    code = tags.code
    items = np.flatnonzero((code == x.SI) | (code == x.SI_EMPTY))
    c1, c2, c3 = tags.following(items, 3).T
    opened = code[items] == x.SI
    span = np.where(opened, 0, 1)
    span[opened & (c1 == x.SI_END)] = 2
    span[opened & (c1 == x.T_EMPTY) & (c2 == x.SI_END)] = 3
    plain = opened & ((c1 == x.T) | (c1 == x.T_KEEP)) & (c2 == x.T_END) & (c3 == x.SI_END)
    span[plain] = 4
    odd = np.flatnonzero(span == 0)
    if len(odd) > MAX_ODD_CELLS:
        raise NotCompact("many rich strings")
    if len(odd):
        ends = np.flatnonzero(code == x.SI_END)
        at = np.searchsorted(ends, items[odd])
        if np.any(at >= len(ends)):
            raise NotCompact("a string that does not end")
        span[odd] = ends[at] - items[odd] + 1
    last = items + span - 1
    if np.any(last[:-1] >= items[1:]) or (len(last) and last[-1] >= len(code)):
        raise NotCompact("strings that overlap")
    if int(span.sum()) != len(code):
        raise NotCompact("markup outside strings")
    keep = plain & (c1 == x.T_KEEP)
    starts = np.where(plain, tags.lt[np.minimum(items + 1, len(code) - 1)] + 3, tags.lt[items])
    starts[keep] += len(x.T_KEEP_TAG) - 3
    ends = np.where(plain, tags.lt[np.minimum(items + 2, len(code) - 1)], starts)
    values, over = _strings(chunk, starts, ends, keep, max_text)
    if len(odd):
        texts = values.to_pylist()
        for i in odd.tolist():
            start = int(tags.lt[items[i]])
            end = int(tags.lt[items[i] + span[i] - 1]) + len(b"</si>")
            handler = SharedStringsHandler(max_text)
            handler.parser().Parse(chunk[start:end], True)
            texts[i] = handler.values[0] if handler.values else ""
            if handler.over:
                over.append(i)
        values = pa.array(texts, pa.string())
    return values, sorted(over)


def _strings(chunk: bytes, starts: np.ndarray, ends: np.ndarray, keep: np.ndarray,
             max_text: int) -> tuple[pa.Array, list[int]]:
    """The texts at ``starts``..``ends`` rendered as ``<t>`` text (``keep``: with
    ``xml:space="preserve"``); those longer than ``max_text`` read as "" and are listed."""
    too_long = np.flatnonzero(ends - starts > max_text)
    ends[too_long] = starts[too_long]
    kinds = np.where(keep, Kind.INLINE_KEPT, Kind.INLINE).astype(np.int8)
    plain = b"&" not in chunk and b"\r" not in chunk and (b"_" not in chunk
                                                           or b"_x" not in chunk)
    values, _ = render(kinds, substrings(chunk, starts, ends), False, plain=plain)
    return values, too_long.tolist()


_SI_WORD = int.from_bytes(b"<si>", "little")
_T_WORD = int.from_bytes(b"<t>", "little")
_T_END_WORD = int.from_bytes(b"</t>", "little")
_SI_END_WORD = int.from_bytes(b"</si", "little")
_KEEP_WORD = int.from_bytes(b"<t x", "little")


def _plain_items(chunk: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Where the texts are when the chunk is nothing but ``<si><t>text</t></si>`` items
    back to back (``<t xml:space="preserve">`` allowed): how Excel writes the table. Then
    every fourth ``<`` starts the same tag, and checking those four tags byte for byte
    and their distances says all — without classifying every tag as :class:`Tags` does.
    None when the chunk has any other shape (rich text, empty items, whitespace between
    items, a chunk's leading or trailing space): the general path reads it."""
    size = len(chunk)
    if size < 16:
        return None
    data = np.frombuffer(chunk, dtype=np.uint8)
    lt = np.flatnonzero(data == 0x3C)
    if len(lt) % 4 or lt[0] != 0:
        return None
    si, t, t_end, si_end = lt[0::4], lt[1::4], lt[2::4], lt[3::4]
    if (si_end[-1] + 5 != size or np.any(si_end - t_end != 4)
            or np.any(si[1:] - si_end[:-1] != 5)):
        return None
    # The text follows "<t>" (3 bytes) or the 24-byte preserve tag: t_end - t >= 3.
    words = np.ndarray((size - 3,), dtype="<u4", buffer=chunk, strides=(1,))
    if (np.any(t - si != 4) or np.any(words[si] != _SI_WORD) or np.any(words[t_end] != _T_END_WORD)
            or np.any(words[si_end] != _SI_END_WORD) or np.any(data[si_end + 4] != ord(">"))):
        return None
    head = words[np.minimum(t, size - 4)]
    keep = head == _KEEP_WORD
    if np.any((head[~keep] & 0xFFFFFF) != _T_WORD) or np.any(t_end - t < 3):
        return None
    starts = t + 3
    if keep.any():
        at = t[keep]
        if np.any(t_end[keep] - at < len(x.T_KEEP_TAG)):
            return None
        window = data[at[:, None] + np.arange(len(x.T_KEEP_TAG))]
        if not (window == np.frombuffer(x.T_KEEP_TAG, dtype=np.uint8)).all():
            return None
        starts[keep] = at + len(x.T_KEEP_TAG)
    return starts, t_end.copy(), keep
