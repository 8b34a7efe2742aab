"""A vectorised look at compact SpreadsheetML: every tag of a chunk at once, in numpy.

Why: a sheet is millions of tiny elements (``<c r="B2" t="s"><v>17</v></c>``); an XML
parser calling Python for each costs ~2.5 µs a cell, which made XLSX the slowest format.
Writers (Excel, LibreOffice, openpyxl, POI, ...) all write the same few shapes, so a chunk
of whole rows is cut at every ``<`` in one numpy pass, each tag is named by the four bytes
after its ``<``, and cells are recognised by the sequence of their tags. Whatever is not
one of those shapes is left to the XML parser (:class:`NotCompact`), so the fast path
only has to be right about what it accepts, never complete.

What makes that safe: ``<`` only ever starts markup in XML (text and attribute values
must escape it), so its positions are the tags; comments, CDATA and processing
instructions, where that is not true, send the chunk to the parser before we look
(``<!``, ``<?``). Simple tags are checked byte for byte (``<v>`` is three bytes, ``</c>``
four); attribute text is parsed in Python once per distinct string.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["NotCompact", "Tags", "scan", "substrings"]

PAD = 32  # bytes of zeros after a chunk, so fixed look-aheads never leave the buffer

# Tag codes: what the four bytes after '<' say.
OTHER = 0
C_R = 1  # <c r="...
C_OTHER = 2  # <c ...> without r first (or no r)
C_END = 3
V = 4
V_EMPTY = 5  # <v/>
V_END = 6
IS = 7
IS_END = 8
T = 9  # <t>
T_KEEP = 10  # <t xml:space="preserve">
T_END = 11
T_EMPTY = 12  # <t/>
F = 13  # <f> or <f ...>, possibly self-closing (see Tags.closed)
F_END = 14
ROW = 15
ROW_END = 16
SI = 17
SI_EMPTY = 18
SI_END = 19
R = 20  # <r> a run of rich text
RPH = 21  # <rPh ...> phonetic text (not shown)
BANG = 22  # <!-- -->, <![CDATA[, <!DOCTYPE, <?pi?>: not read here

T_KEEP_TAG = b'<t xml:space="preserve">'


class NotCompact(Exception):
    """The chunk is not the compact shape the vectorised path reads: parse it as XML."""


def _word(text: bytes) -> int:
    return int.from_bytes(text.ljust(4, b"\0"), "little")


def _mask(length: int) -> int:
    return (1 << (8 * length)) - 1


# What the first two bytes after '<' say, and which bytes (of the four after '<') must
# then match exactly: "v>" is <v>, "/c" must be "/c>", "ro" must be "row" (and a
# delimiter, checked separately). Codes without an entry are OTHER.
_PROVISIONAL: dict[bytes, tuple[int, bytes]] = {
    b"/c": (C_END, b"/c>"), b"v>": (V, b"v>"), b"v/": (V_EMPTY, b"v/>"),
    b"/v": (V_END, b"/v>"), b"is": (IS, b"is>"), b"/i": (IS_END, b"/is>"),
    b"t>": (T, b"t>"), b"/t": (T_END, b"/t>"), b"t/": (T_EMPTY, b"t/>"),
    b"f>": (F, b"f>"), b"f/": (F, b"f/"), b"/f": (F_END, b"/f>"),
    b"si": (SI, b"si>"), b"/s": (SI_END, b"/si>"), b"r>": (R, b"r>"),
    b"ro": (ROW, b"row"), b"/r": (ROW_END, b"/row"), b"rP": (RPH, b"rPh"),
    b"c>": (C_OTHER, b"c>"), b"c/": (C_OTHER, b"c/"),
}  # fmt: skip
_DELIMS = b" >/\t\n\r"
for _d in _DELIMS:
    _PROVISIONAL[b"c" + bytes([_d])] = (C_OTHER, b"c")
    _PROVISIONAL[b"f" + bytes([_d])] = (F, b"f")
_TABLE = np.zeros(1 << 16, dtype=np.int8)
_MASK = np.zeros(32, dtype=np.uint32)
_VALUE = np.zeros(32, dtype=np.uint32)
_SI_EMPTY = _word(b"si/>")
for _key, (_code, _full) in _PROVISIONAL.items():
    _TABLE[_word(_key) & 0xFFFF] = _code
    _MASK[_code] = _mask(len(_full)) if _code not in (C_OTHER, F) else 0
    _VALUE[_code] = _word(_full) & _MASK[_code]
_MASK[SI_EMPTY], _VALUE[SI_EMPTY] = _mask(4), _word(b"si/>")
for _second in range(256):
    _TABLE[ord("!") | _second << 8] = _TABLE[ord("?") | _second << 8] = BANG
_IS_DELIM = np.zeros(256, dtype=bool)
_IS_DELIM[list(_DELIMS)] = True
_C_R = _word(b"c r=")


class Tags:
    """The tags of one chunk: where each starts (``lt``) and its code; where a tag ends
    (its ``>``) is found on demand (:meth:`gt`), for the kinds of tag whose end we need."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.size = len(chunk)
        buf = chunk + bytes(PAD)
        self.bytes = np.frombuffer(buf, dtype=np.uint8)
        # The four bytes at every position, as an unaligned little-endian view: one
        # gather of it is faster than four byte gathers (numpy 2).
        self.words = np.ndarray((len(buf) - 3,), dtype="<u4", buffer=buf, strides=(1,))
        self.lt = np.flatnonzero(self.bytes[: self.size] == 0x3C)
        sig = self.word(self.lt + 1)
        low = sig & 0xFFFF
        code = _TABLE[low]
        if np.any(code == BANG):
            raise NotCompact("comment, CDATA, DTD or processing instruction")
        items = np.flatnonzero(code == SI)
        if len(items):
            code[items[sig[items] == _SI_EMPTY]] = SI_EMPTY
        code[(sig & _MASK[code]) != _VALUE[code]] = OTHER
        delimited = np.flatnonzero((code == ROW) | (code == RPH))
        if len(delimited):
            code[delimited[~_IS_DELIM[self.bytes[self.lt[delimited] + 4]]]] = OTHER
        cells = np.flatnonzero(code == C_OTHER)
        if len(cells):
            with_r = (sig[cells] == _C_R) & (self.bytes[self.lt[cells] + 5] == ord('"'))
            code[cells[with_r]] = C_R
        keep = np.flatnonzero(low == _word(b"t "))
        if len(keep):
            window = self.bytes[self.lt[keep, None] + np.arange(len(T_KEEP_TAG))]
            same = (window == np.frombuffer(T_KEEP_TAG, dtype=np.uint8)).all(axis=1)
            code[keep[same]] = T_KEEP
        self.code = code

    def __len__(self) -> int:
        return len(self.lt)

    def word(self, at: np.ndarray) -> np.ndarray:
        """The four bytes at each position, as a little-endian uint32."""
        return self.words[at]

    def gt(self, index: np.ndarray) -> np.ndarray:
        """Position of the ``>`` that ends each tag in ``index``: the byte before the next
        tag, in compact XML (for tags that have no text after them: ``<c>``, ``<f>``,
        end tags). Unlike "the first '>' after '<'", this is right even when an attribute
        value holds a '>'.

        :raises NotCompact: text or whitespace between such a tag and the next.
        """
        after = index + 1
        inside = after < len(self.lt)
        pos = np.where(inside, self.lt[np.where(inside, after, 0)], self.size) - 1
        if np.any(self.bytes[pos] != ord(">")):
            raise NotCompact("text or whitespace between tags")
        return pos

    def closed(self, index: np.ndarray) -> np.ndarray:
        """Whether each tag in ``index`` closes itself (``<c r="A1"/>``).

        :raises NotCompact: as :meth:`gt`.
        """
        return self.bytes[self.gt(index) - 1] == ord("/")

    def shapes(self, index: np.ndarray, count: int) -> np.ndarray:
        """The codes of the ``count`` tags after each tag in ``index``, packed five bits
        each (the first lowest; 31 beyond the last tag): shifted views of all the codes
        combined, then one gather — cheaper than gathering ``count`` codes per tag."""
        size = len(self.code)
        padded = np.full(size + count + 1, 31, dtype=np.int32)
        padded[:size] = self.code & 31
        packed = padded[1 : size + 1].copy()
        for k in range(1, count):
            packed |= padded[k + 1 : size + k + 1] << (5 * k)
        return packed[index]

    def following(self, index: np.ndarray, count: int) -> np.ndarray:
        """Codes of the ``count`` tags after each tag in ``index`` (one column each); -1
        beyond the last tag."""
        padded = np.concatenate((self.code, np.full(count, -1, dtype=np.int8)))
        return padded[index[:, None] + np.arange(1, count + 1)]


def substrings(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """``chunk[starts[i]:ends[i]]`` for every i, as a string array (one copy, no Python
    objects). Ranges must be in order and not overlap.

    :raises NotCompact: the bytes are not UTF-8 (let the XML parser say what is wrong).
    """
    count = len(starts)
    if not count:
        return pa.array([], pa.string())
    offsets = np.empty(2 * count, dtype=np.int32)
    offsets[0::2] = starts
    offsets[1::2] = ends
    if np.any(np.diff(offsets) < 0):
        raise NotCompact("overlapping text ranges")
    spans = pa.Array.from_buffers(
        pa.binary(), 2 * count - 1, [None, pa.py_buffer(offsets), pa.py_buffer(chunk)]
    )
    picked = spans.take(pa.array(np.arange(0, 2 * count - 1, 2, dtype=np.int64)))
    try:
        return picked.cast(pa.string())
    except pa.ArrowInvalid:
        raise NotCompact("text that is not UTF-8") from None


def scan(chunk: bytes) -> Tags:
    """The tags of ``chunk``.

    :raises NotCompact: the chunk holds markup the vectorised path does not read.
    """
    return Tags(chunk)
