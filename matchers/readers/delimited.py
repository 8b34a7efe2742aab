"""Delimited text tables (CSV, semicolon, tab, pipe), streamed through pyarrow.

Speed comes from ``pyarrow.csv.open_csv``: multi-threaded parsing of large blocks, handed
out as Arrow batches without a Python object per value. Everything pyarrow cannot be
trusted with on a hostile file is done before it sees a byte, in :class:`_CleanStream`:

- decoding: the stream is re-encoded as valid UTF-8 (cp1252 where bytes are not UTF-8,
  UTF-16 transcoded), so pyarrow never meets invalid UTF-8 — it would otherwise fail the
  whole file, or crash inside its own invalid-row callback;
- over-long lines: a line longer than ``max_record_bytes`` is dropped and counted, so one
  50 MB line cannot make pyarrow fail with a block-boundary error;
- the header: it is parsed by :mod:`sniff`, and skipped here.

Ragged rows (a field count other than the header's) are skipped and counted by pyarrow's
invalid-row handler.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from matchers.errors import UnreadableDatasetError
from matchers.readers.base import (
    CountingFile,
    ReadStats,
    TableBatch,
    TableReader,
    unique_names,
)
from matchers.readers.sniff import (
    FALLBACK_ERRORS,
    Encoding,
    binary_reason,
    decode,
    detect_encoding,
    looks_like_header,
    sniff_dialect,
)

__all__ = ["DelimitedReader"]

HEAD_BYTES = 256 * 1024
_MIN_BLOCK = 2 << 20
_AHEAD = 6
_WAIT_SECONDS = 2.0
_SAMPLE_BLOCK = 1 << 20


def _first_record_end(data: bytes) -> int:
    """Offset just past the first record (quote-aware); ``len(data)`` if it does not end."""
    start = len(data) - len(data.lstrip(b"\r\n"))
    in_quotes = False
    index = start
    while index < len(data):
        byte = data[index]
        if byte == 0x22:  # '"'
            in_quotes = not in_quotes
        elif not in_quotes and byte in (0x0A, 0x0D):
            if byte == 0x0D and data[index + 1 : index + 2] == b"\n":
                index += 1
            return index + 1
        index += 1
    return len(data)


def _first_line_end(data: bytes) -> int:
    """Offset just past the first line, ignoring quotes; ``len(data)`` if none ends."""
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    if not ends:
        return len(data)
    end = min(ends)
    return end + 2 if data[end : end + 2] == b"\r\n" else end + 1


class _CleanStream(io.RawIOBase):
    """The file as pyarrow should see it: valid UTF-8, no header, no over-long lines.

    Lines are held back until their end is seen, at most ``max_record`` bytes of them, so
    an over-long line can be dropped whole; ``stats`` counts it as ``'record too long'``.
    """

    def __init__(
        self,
        path: Path,
        encoding: Encoding,
        *,
        skip: int,
        newline: bytes,
        max_record: int,
        chunk: int,
        stats: ReadStats,
    ) -> None:
        super().__init__()
        self._file = io.BufferedReader(CountingFile(path, stats))
        self._decoder = codecs.getincrementaldecoder(encoding.codec)(errors=FALLBACK_ERRORS)
        self._transcode = encoding.codec != "utf-8"
        if encoding.bom:
            self._file.read(encoding.bom)
        self._skip = skip
        self._newline = newline
        self._max = max_record
        self._chunk = chunk
        self._stats = stats
        self._carry = b""
        self._dropping = False
        self._out = bytearray()
        self._eof = False
        # Back-pressure: pyarrow reads ahead as fast as it can parse (dozens of blocks),
        # while matching consumes far slower. Reads wait while _AHEAD blocks are handed
        # out but not yet taken as batches, unless the consumer itself is waiting.
        self._lock = threading.Condition()
        self._issued = 0
        self._taken = 0
        self._waiting = False
        self._stopped = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            self._file.close()
            self._lock.notify_all()
        super().close()

    def consumer_waiting(self, waiting: bool) -> None:
        """The consumer is (not) blocked on pyarrow for the next batch."""
        with self._lock:
            self._waiting = waiting
            if not waiting:
                self._taken += 1
            self._lock.notify_all()

    def _may_read(self) -> bool:
        ahead = self._issued - self._taken
        return self._stopped or ahead < _AHEAD or (self._waiting and ahead < 2 * _AHEAD)

    def _utf8(self, raw: bytes, final: bool) -> bytes:
        if not self._transcode and raw.isascii() and self._decoder.getstate()[0] == b"":
            return raw
        return self._decoder.decode(raw, final=final).encode("utf-8")

    def _fill(self) -> None:
        raw = self._file.read(self._chunk)
        final = not raw
        data = self._utf8(raw, final)
        if self._skip:
            taken = min(self._skip, len(data))
            data = data[taken:]
            self._skip -= taken
        self._eof = final
        self._filter(data)

    def _filter(self, data: bytes) -> None:
        newline, limit = self._newline, self._max
        if self._dropping:
            end = data.find(newline)
            if end < 0:
                return
            data = data[end + 1 :]
            self._dropping = False
        buf = self._carry + data if self._carry else data
        self._carry = b""
        pos, size = 0, len(buf)
        while pos < size:
            end = buf.rfind(newline, pos, pos + limit + 1)
            if end >= 0:
                self._out += buf[pos : end + 1]
                pos = end + 1
            elif size - pos <= limit:
                self._carry = buf[pos:]
                break
            else:
                self._stats.skip("record too long")
                end = buf.find(newline, pos + limit)
                if end < 0:
                    self._dropping = True
                    break
                pos = end + 1
        if self._eof and self._carry:
            self._out += self._carry
            self._carry = b""

    def is_empty(self) -> bool:
        """Whether nothing at all is left to hand out (pyarrow refuses an empty stream)."""
        while not self._out and not self._eof:
            self._fill()
        return not self._out

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size >= 0 else 1 << 62
        with self._lock:
            # The timeout only guards against a consumer that went away without closing.
            self._lock.wait_for(self._may_read, timeout=_WAIT_SECONDS)
            if self._stopped:
                return b""
            self._issued += 1
            while len(self._out) < want and not self._eof:
                self._fill()
            taken = bytes(self._out[:want])
            del self._out[:want]
            return taken

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class DelimitedReader(TableReader):
    """A delimited text file; all columns come out as strings, empty cells as null.

    :raises UnreadableDatasetError: at construction when the file is empty, binary, or its
        first line is longer than ``max_record_bytes``; while streaming when a record
        cannot be found the end of (an unclosed quote spanning more than a block).
    """

    format = "csv"

    def _start(self) -> None:
        size = self.path.stat().st_size
        head = self._read_head(size)
        self.encoding = detect_encoding(head)
        text = decode(head[self.encoding.bom :], self.encoding.codec)
        reason = binary_reason(head, text)
        if reason:
            raise UnreadableDatasetError(f"{self.display_name}: not a table we can read ({reason})")
        complete = len(head) >= size
        utf8 = text.encode("utf-8")
        first_end = _first_record_end(utf8)
        if first_end >= len(utf8) and not complete:
            # No end of the first record in the head: an unclosed quote, or a huge line.
            first_end = _first_line_end(utf8)
        if first_end >= len(utf8) and not complete:
            raise UnreadableDatasetError(
                f"{self.display_name}: not a table we can read (the first line is longer "
                f"than {self.limits.max_record_bytes} bytes)"
            )
        dialect = sniff_dialect(text, complete=complete)
        self.delimiter = dialect.delimiter
        records = dialect.records
        self.has_header = bool(records) and looks_like_header(records[0], records[1:])
        header = records[0] if self.has_header else []
        self.columns = unique_names(header, max(dialect.columns, 1))
        self._skip = first_end if self.has_header else 0
        self._newline = b"\n" if b"\n" in head or b"\r" not in head else b"\r"
        if self.encoding.codec == "utf-16":
            self._newline = b"\n" if "\n" in text or "\r" not in text else b"\r"

    def _read_head(self, size: int) -> bytes:
        with self.path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
            # A first line longer than the head: read on, up to the record limit.
            while (
                b"\n" not in head
                and b"\r" not in head
                and len(head) < min(size, self.limits.max_record_bytes + 1)
            ):
                more = handle.read(HEAD_BYTES)
                if not more:
                    break
                head += more
        return head

    def _open(
        self, stats: ReadStats, *, block_size: int, threads: bool
    ) -> tuple[_CleanStream, pacsv.CSVStreamingReader | None]:
        stream = _CleanStream(
            self.path,
            self.encoding,
            skip=self._skip,
            newline=self._newline,
            max_record=self.limits.max_record_bytes,
            chunk=block_size,
            stats=stats,
        )
        if stream.is_empty():
            return stream, None

        def on_invalid(row: pacsv.InvalidRow) -> str:
            stats.skip("ragged row")
            return "skip"

        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    use_threads=threads,
                    block_size=block_size,
                    column_names=self.columns,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    # Always: costs nothing measurable, and without it a quoted newline
                    # that falls on a block boundary stops the whole file.
                    newlines_in_values=True,
                    ignore_empty_lines=True,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.columns},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    null_values=[""],
                    check_utf8=False,
                ),
            )
        except (pa.ArrowException, OSError) as exc:
            stream.close()
            raise self._broken(exc, stats) from None
        return stream, reader

    def _broken(self, exc: Exception, stats: ReadStats) -> UnreadableDatasetError:
        # Never quote pyarrow's message: its parse errors include the text of the row.
        if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException):
            what = exc.strerror or "I/O error"
        elif "straddl" in str(exc):
            what = f"a record does not end within {self._block_size()} bytes; is a quote open?"
        else:
            what = f"the CSV parser stopped: {type(exc).__name__}"
        return UnreadableDatasetError(
            f"{self.display_name}: cannot be read past record {stats.records} ({what})"
        )

    def _block_size(self) -> int:
        return max(_MIN_BLOCK, 2 * self.limits.max_record_bytes)

    def _stream(
        self, stats: ReadStats, *, block_size: int, threads: bool
    ) -> Iterator[pa.RecordBatch]:
        stream, reader = self._open(stats, block_size=block_size, threads=threads)
        try:
            if reader is None:
                return
            while True:
                stream.consumer_waiting(True)
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowException, OSError) as exc:
                    raise self._broken(exc, stats) from None
                finally:
                    stream.consumer_waiting(False)
                yield self._drop_oversized(batch, stats)
        finally:
            stream.close()  # first: wakes a read waiting for room, so the reader can stop
            if reader is not None:
                reader.close()

    def _drop_oversized(self, batch: pa.RecordBatch, stats: ReadStats) -> pa.RecordBatch:
        """Drop records longer than the limit that lines hid: quoted values spanning lines
        (an unclosed quote near the end of a file swallows the rest into one value)."""
        if batch.num_rows == 0 or batch.num_columns == 0:
            return batch
        sizes = [pc.fill_null(pc.binary_length(column), 0) for column in batch.columns]
        total = sizes[0]
        for size in sizes[1:]:
            total = pc.add(total, size)
        too_long = pc.greater(total, self.limits.max_record_bytes)
        dropped = pc.sum(too_long).as_py() or 0
        if not dropped:
            return batch
        stats.skip("record too long", dropped)
        return batch.filter(pc.invert(too_long))

    def sample(self, rows: int = 1000) -> pa.RecordBatch:
        """The first ``rows`` records, parsed exactly as :meth:`batches` parses them."""
        taken: list[pa.RecordBatch] = []
        count = 0
        block = max(_SAMPLE_BLOCK, 2 * self.limits.max_record_bytes)
        stream = self._stream(ReadStats(), block_size=block, threads=False)
        # A sample is what could be read; batches() reports the breakage itself.
        with contextlib.suppress(UnreadableDatasetError), contextlib.closing(stream):
            for batch in stream:
                taken.append(batch.slice(0, rows - count))
                count += taken[-1].num_rows
                if count >= rows:
                    break
        schema = pa.schema([(name, pa.string()) for name in self.columns])
        if not taken:
            return pa.RecordBatch.from_pylist([], schema=schema)
        return pa.Table.from_batches(taken, schema=schema).combine_chunks().to_batches()[0]

    def batches(self) -> Iterator[TableBatch]:
        """Stream all records in batches of at most ``limits.batch_rows``.

        :raises UnreadableDatasetError: when a record cannot be delimited (see class doc).
        """
        self.stats.reset()
        step = self.limits.batch_rows
        for batch in self._stream(self.stats, block_size=self._block_size(), threads=True):
            for offset in range(0, batch.num_rows, step):
                part = batch.slice(offset, step)
                yield TableBatch(part, self.stats.records + 1)
                self.stats.records += part.num_rows
