"""A streamed XML part cut into chunks of whole items (``<row>`` of ``<sheetData>``,
``<si>`` of ``<sst>``), for the vectorised reader; and the hand-over to expat when the
part is not something that reader can take.

The head of the part (up to the container's start tag) is parsed by expat — that refuses
a DTD, learns the container's prefix (``x:sheetData``) and the encoding. Then the bytes
are cut just before the last item start tag in each buffer (a place between two items,
whatever they hold, since ``<`` only starts markup); a chunk that holds a comment or
CDATA is never cut inside, because the vectorised reader gives it to expat whole (and
:meth:`ItemChunks.rest` streams from its start). An item larger than ``max_item`` is not
buffered: it is passed over and reported, as :class:`Oversized`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from xml.parsers import expat

from matchers.readers.ooxml import PartError
from matchers.readers.sheetparse import new_parser

__all__ = ["CHUNK_BYTES", "ItemChunks", "Oversized", "markup_declared"]

CHUNK_BYTES = 2 << 20
_HEAD_BYTES = 64 << 20
_UTF8 = ("utf-8", "utf8")
_DELIMITERS = (b" ", b">", b"/", b"\t", b"\n", b"\r")


def markup_declared(chunk: bytes) -> bool:
    """Whether ``chunk`` holds ``<!`` or ``<?`` (a comment, CDATA, a DTD or a processing
    instruction: the vectorised reader takes none). The rare byte is looked for first:
    a search for one byte is a memchr, some 80 times faster than a search for two bytes
    in text full of ``<`` (4 ms for a 2 MB chunk, under the GIL)."""
    return (b"!" in chunk and b"<!" in chunk) or (b"?" in chunk and b"<?" in chunk)


@dataclass(frozen=True)
class Oversized:
    """An item over the size limit was passed over here."""


class _HeadDone(Exception):
    """Raised by the XML declaration handler: the head has told us its encoding."""


class ItemChunks:
    """Chunks of whole items of one part; iterate once.

    After construction: ``compact`` says whether the vectorised reader may try the
    chunks (UTF-8, head understood); ``empty`` that the container has no items; ``qname``
    and ``prefix`` name the container's tag. When ``compact`` is False, or at any chunk
    the vectorised reader refuses, call :meth:`rest` for the remaining bytes for expat.

    :raises DtdRefused: the head declares a DTD.
    :raises PartError: the head is not well-formed.
    """

    def __init__(self, data: Iterator[bytes], container: str, item: str, max_item: int) -> None:
        self._data = data
        self._container = container
        self._item = item
        self._max_item = max_item
        self.qname = container
        self.prefix = b""
        self.empty = False
        self.compact = True
        self._buffer = b""
        self._head = b""
        self._eof = False
        self._read_head()

    def _more(self) -> bool:
        chunk = next(self._data, None)
        if chunk is None:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _read_head(self) -> None:
        start = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?" + self._container.encode() + rb"[\s/>]")
        while True:
            if self._buffer.startswith((b"\xff\xfe", b"\xfe\xff", b"<\0", b"\0<")):
                self.compact = False  # UTF-16
                return
            found = start.search(self._buffer)
            end = self._buffer.find(b">", found.end() - 1) if found else -1
            if found and end >= 0:
                break
            if len(self._buffer) > _HEAD_BYTES or not self._more():
                self.compact = False
                return
        head = self._buffer[: end + 1]
        names: list[str] = []
        encoding: list[str | None] = []

        def on_start(name: str, _attrs: object) -> None:
            if name.rpartition(":")[2] == self._container:
                names.append(name)
                raise _HeadDone

        parser = new_parser(on_start)
        parser.XmlDeclHandler = lambda _v, enc, _s: encoding.append(enc)
        try:
            parser.Parse(head, False)
        except _HeadDone:
            pass  # stopped on purpose once the declaration was read
        except expat.ExpatError:
            raise PartError("XML part is not well-formed") from None
        if not names or (encoding and encoding[0] and encoding[0].lower() not in _UTF8):
            self.compact = False
            return
        self.qname = names[0]
        prefix = found.group(1)
        self.prefix = prefix + b":" if prefix else b""
        self.empty = head.endswith(b"/>")
        self._head = head
        self._buffer = self._buffer[end + 1 :]

    def rest(self, start: bytes = b"") -> Iterator[bytes]:
        """The remaining bytes for an expat parser: from the start of the part when the
        head was not understood, else ``<qname>`` followed by ``start`` (the chunk the
        vectorised reader refused) and everything after it."""
        if not self._head:
            yield self._buffer
        else:
            yield b"<" + self.qname.encode() + b">" + start + self._buffer
        self._buffer = b""
        yield from self._data

    def _last_start(self, tag: bytes) -> int:
        """Where the last item start tag in the buffer begins (0 or -1: none after 0)."""
        at = len(self._buffer)
        while (at := self._buffer.rfind(tag, 0, at)) > 0:
            if self._buffer[at + len(tag) : at + len(tag) + 1] in _DELIMITERS:
                return at
        return at

    def __iter__(self) -> Iterator[bytes | Oversized]:
        if self.empty or not self.compact:
            return
        end_tag = b"</" + self.prefix + self._container.encode() + b">"
        tag = b"<" + self.prefix + self._item.encode()
        item_end = b"</" + self.prefix + self._item.encode() + b">"
        skipping = False
        searched = 0  # the end tag is not in the buffer before this
        while True:
            end = self._buffer.find(end_tag, searched)
            searched = max(0, len(self._buffer) - len(end_tag))
            if skipping:
                at = self._first_start(tag)
                stop = at if at >= 0 else end
                if stop >= 0:
                    self._buffer, skipping, searched = self._buffer[stop:], False, 0
                    continue
                self._buffer, searched = self._buffer[-len(end_tag) :], 0  # may straddle reads
            elif end >= 0:
                # The buffer moves on before the chunk is handed out: a caller that
                # switches to rest() there must get what follows the chunk.
                chunk, self._buffer = self._buffer[:end], self._buffer[end:]
                if chunk:
                    yield chunk
                return
            elif len(self._buffer) >= CHUNK_BYTES or self._eof:
                cut = self._last_start(tag)
                if cut <= 0:  # one item, maybe padded: cut after it if only space follows
                    after = self._buffer.rfind(item_end) + len(item_end)
                    if after >= len(item_end) and not self._buffer[after:].strip():
                        cut = after
                if cut > 0:
                    chunk, self._buffer = self._buffer[:cut], self._buffer[cut:].lstrip()
                    searched = 0
                    yield chunk
                    continue
                if len(self._buffer) > self._max_item:
                    if self._buffer.startswith(tag):
                        yield Oversized()
                        self._buffer, skipping = self._buffer[1:], True
                    else:  # no item starts here: whitespace (or junk) between items
                        self._buffer = self._buffer[-len(end_tag) :]
                    searched = 0
                    continue
                if self._eof:
                    if self._buffer.strip():
                        raise PartError("XML part ends early (truncated?)")
                    return
            if not self._more() and skipping:
                raise PartError("XML part ends early (truncated?)")

    def _first_start(self, tag: bytes) -> int:
        at = -1
        while (at := self._buffer.find(tag, at + 1)) >= 0:
            if self._buffer[at + len(tag) : at + len(tag) + 1] in _DELIMITERS:
                return at
        return -1
