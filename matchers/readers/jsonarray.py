"""A JSON array of records (``[{...}, {...}]``), read incrementally.

The file is never parsed whole: text is read in chunks and each element decoded with
``json.JSONDecoder.raw_decode`` as soon as it is complete, so memory stays at a chunk
plus one element. Elements are objects (nested objects flattened to ``a.b`` columns,
lists joined) or arrays of cells.

A malformed element, or one longer than ``max_record_bytes``, is skipped and counted
(``'malformed JSON element'``); the reader resynchronises at the next ``}, {`` boundary
between elements, and ends the file when it finds none. A file that ends before the
closing ``]`` (a truncated download) gives the complete elements it has, and counts the
unfinished one.

Columns: ``columns`` are the keys of the first records; a key first seen later appears
in the batches from then on, so batches of one file may have different column sets
(each holds at least ``columns``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import TextIO

from matchers.errors import UnreadableDatasetError
from matchers.readers.base import ReadStats, RowReader
from matchers.readers.jsonlines import open_text
from matchers.readers.sniff import detect_encoding, read_head

__all__ = ["JsonArrayReader"]

_CHUNK = 1 << 20
_SPACE = re.compile(r"\s*")
_SEPARATORS = re.compile(r"[\s,]*")
_RESYNC = re.compile(r"\}\s*,\s*(?=\{)")
_DECODER = json.JSONDecoder()


class JsonArrayReader(RowReader):
    """Reads a top-level JSON array element by element; see the module docstring.

    :raises UnreadableDatasetError: the file does not start with ``[``, or cannot be
        opened.
    """

    format = "json"

    def _start(self) -> None:
        self.encoding = detect_encoding(read_head(self.path, 64 * 1024))
        self._peek()

    def _values(self, stats: ReadStats) -> Generator[object, None, None]:
        with open_text(self.path, self.encoding, stats) as text:
            scanner = _Scanner(text, self.limits.max_record_bytes)
            if not scanner.start():
                raise UnreadableDatasetError(
                    f"{self.display_name}: not a table we can read (no JSON array)"
                )
            while True:
                try:
                    value = scanner.next()
                except _Malformed:
                    stats.skip("malformed JSON element")
                    if scanner.resync():
                        continue
                    return
                if value is _END:
                    return
                yield value


_END = object()


class _Malformed(Exception):
    """The element at the scanner's position is not valid JSON (or too long)."""


class _Scanner:
    """Walks the elements of a JSON array in a text stream, a chunk at a time."""

    def __init__(self, text: TextIO, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.buf = ""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        """Append a chunk, dropping what was consumed; False at the end of the file."""
        chunk = "" if self.eof else self.text.read(_CHUNK)
        self.eof = not chunk
        self.buf, self.pos = self.buf[self.pos :] + chunk, 0
        return not self.eof

    def start(self) -> bool:
        """Consume the opening ``[``; False when the text does not start with one."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.more():
                break
        if self.buf[self.pos : self.pos + 1] != "[":
            return False
        self.pos += 1
        return True

    def next(self) -> object:
        """The next element, or ``_END`` after the closing ``]`` or at the end of the file.

        :raises _Malformed: the element is not valid JSON, or longer than the limit.
        """
        while True:
            self.pos = _SEPARATORS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos >= len(self.buf):
                if self.more():
                    continue
                return _END  # no closing bracket: a truncated file
            if self.buf[self.pos] == "]":
                return _END
            try:
                value, self.pos = _DECODER.raw_decode(self.buf, self.pos)
            except (ValueError, RecursionError) as exc:
                if len(self.buf) - self.pos <= self.limit and self.more():
                    continue  # the element may only be incomplete: read on and retry
                raise _Malformed from exc
            return value

    def resync(self) -> bool:
        """Move to the next ``}, {`` element boundary; False when there is none."""
        start = self.pos + 1
        while True:
            found = _RESYNC.search(self.buf, start)
            if found:
                self.pos = found.end()
                return True
            start = max(self.pos, len(self.buf) - 64)  # a boundary may straddle chunks
            self.pos = start
            if not self.more():
                return False
            start = 0
