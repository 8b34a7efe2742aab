"""JSON Lines: one JSON object per line, as written by log shippers and API dumps.

A line that is not valid JSON is skipped and counted (``'malformed JSON line'``), as is a
line longer than ``max_record_bytes`` (``'record too long'``, read past without keeping
it); blank lines are not records. A line holding an array is a row of cells.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Generator, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from matchers.readers.base import CountingFile, ReadStats, RowReader, TableBatch
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

    def batches(self) -> Iterator[TableBatch]:
        """Stream all records; flat files of text go through pyarrow's JSON reader.

        pyarrow parses JSON Lines in C on several threads, but fails a whole block on one
        bad line. It is used only while it can be trusted: the first records seen are flat
        objects of text in UTF-8, and every column comes out as text. At the first thing
        it cannot take (a malformed line, a number, a nested object, an over-long line),
        the row-by-row reader takes over after the records already handed out, so the
        result is the same either way.
        """
        if not self._fast_eligible():
            yield from super().batches()
            return
        self.stats.reset()
        handed = 0
        fast = self._fast_stream()
        while True:
            try:
                data = next(fast, None)
            except (pa.ArrowException, ValueError, OSError):
                break  # not for the fast path after all: on row by row below
            if data is None:
                return
            batch = TableBatch(data, handed + 1)
            handed += data.num_rows
            self.stats.records = handed
            yield batch
        fast.close()
        fast, seen = handed, 0  # records the fast path handed out; row-reader records seen
        for batch in super().batches():
            n = batch.data.num_rows
            cut = min(max(fast - seen, 0), n)
            seen += n
            if cut == n:
                continue
            data = batch.data.slice(cut) if cut else batch.data
            yield TableBatch(data, handed + 1)
            handed += data.num_rows
        self.stats.records = handed

    def _fast_eligible(self) -> bool:
        head = getattr(self, "_head", [])
        return (
            self.encoding.codec == "utf-8"
            and not self.encoding.bom
            and bool(head)
            and all(type(v) is str or v is None for row in head for v in row.values())
        )

    def _fast_stream(self) -> Iterator[pa.RecordBatch]:
        import pyarrow.json as pajson

        step = self.limits.batch_rows
        block = max(4 << 20, 2 * self.limits.max_record_bytes)
        with io.BufferedReader(CountingFile(self.path, self.stats)) as raw:
            reader = pajson.open_json(
                raw,
                read_options=pajson.ReadOptions(block_size=block, use_threads=True),
                parse_options=pajson.ParseOptions(unexpected_field_behavior="infer"),
            )
            for batch in reader:
                if any(not pa.types.is_string(f.type) and not pa.types.is_null(f.type)
                       for f in batch.schema):
                    raise ValueError("a column that is not text")
                data = batch.cast(pa.schema([(f.name, pa.string()) for f in batch.schema]))
                if data.num_columns:
                    # Over-long records are the row reader's to skip and count exactly.
                    sizes = [pc.fill_null(pc.binary_length(c), 0) for c in data.columns]
                    total = functools.reduce(pc.add, sizes)
                    if pc.max(total).as_py() > self.limits.max_record_bytes // 2:
                        raise ValueError("a record near the size limit")
                for lo in range(0, data.num_rows, step):
                    yield data.slice(lo, step)

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
