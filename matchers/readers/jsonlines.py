"""JSON Lines: one JSON object per line, as written by log shippers and API dumps.

A line that is not valid JSON is skipped and counted (``'malformed JSON line'``), as is a
line longer than ``max_record_bytes`` (``'record too long'``, read past without keeping
it); blank lines are not records. A line holding an array is a row of cells.
"""

from __future__ import annotations

import io
import json
from collections.abc import Generator
from pathlib import Path

from matchers.readers.base import CountingFile, ReadStats, RowReader
from matchers.readers.sniff import FALLBACK_ERRORS, Encoding, detect_encoding, read_head

__all__ = ["JsonLinesReader", "open_text"]


def open_text(path: Path, encoding: Encoding, stats: ReadStats | None = None) -> io.TextIOWrapper:
    """The file as text: a BOM dropped, invalid UTF-8 read as cp1252, newlines as ``\\n``;
    bytes read are counted in ``stats`` (progress)."""
    codec = "utf-8-sig" if encoding.name == "utf-8-sig" else encoding.codec
    raw = io.BufferedReader(CountingFile(path, stats))
    return io.TextIOWrapper(raw, encoding=codec, errors=FALLBACK_ERRORS)


class JsonLinesReader(RowReader):
    """Reads a JSON Lines file record by record; see the module docstring.

    :raises UnreadableDatasetError: the file cannot be opened.
    """

    format = "jsonl"

    def _start(self) -> None:
        self.encoding = detect_encoding(read_head(self.path, 64 * 1024))
        self._peek()

    def _values(self, stats: ReadStats) -> Generator[object, None, None]:
        # Characters, not bytes, bound a line here: close enough for a safety limit.
        limit = self.limits.max_record_bytes
        with open_text(self.path, self.encoding, stats) as text:
            while True:
                line = text.readline(limit + 1)
                if not line:
                    return
                if len(line) > limit and not line.endswith("\n"):
                    stats.skip("record too long")
                    while line and not line.endswith("\n"):
                        line = text.readline(limit)
                    continue
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError):
                    stats.skip("malformed JSON line")
                    continue
                yield value
