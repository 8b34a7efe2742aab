"""What every table reader hands out, whatever the file format.

Readers turn one file into a stream of :class:`TableBatch` objects whose columns are all
nullable ``pa.string()``, so the stages after them (column detection, normalisation,
matching) never care whether the leak was a CSV, JSON or XLSX file. They read a bounded
amount at a time: memory stays flat however large the file is.

Record numbers
    ``TableBatch.first_record`` numbers the records a reader *hands out*, 1-based, in file
    order and without gaps. A skipped record (ragged row, malformed JSON, over-long line)
    does not take a number; it is counted in ``ReadStats`` instead. When nothing was
    skipped, record N is the N-th data record of the file (header excluded).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import gc
import io
import json
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pyarrow as pa

from matchers.errors import ConfigError, UnreadableDatasetError

__all__ = [
    "MAX_COLUMNS",
    "CountingFile",
    "ReadStats",
    "ReaderLimits",
    "RowBuffer",
    "TableBatch",
    "TableReader",
    "cell_text",
    "flatten_json",
    "gc_paused",
    "unique_names",
]

T = TypeVar("T")
MAX_COLUMNS = 2048
_MAX_DEPTH = 16


@dataclass(frozen=True)
class ReaderLimits:
    """Bounds that keep a hostile or broken file from exhausting memory.

    ``max_record_bytes``: a longer record (line, JSON element) is skipped and counted under
    ``'record too long'``; when it cannot be skipped (the header, an unclosed quote) the
    reader raises ``UnreadableDatasetError``. ``batch_rows``: most rows per batch.
    """

    max_record_bytes: int = 1 << 20
    batch_rows: int = 65536

    def __post_init__(self) -> None:
        """:raises ConfigError: a limit too small to read any real table with."""
        if self.max_record_bytes < 1024:
            raise ConfigError(f"max_record_bytes is {self.max_record_bytes}; it must be >= 1024")
        if self.batch_rows < 1:
            raise ConfigError(f"batch_rows is {self.batch_rows}; it must be >= 1")


@dataclass
class ReadStats:
    """Counts of what a reader did with a file; they go into reports (never values).

    ``skip`` may be called from pyarrow's parser threads, hence the lock.
    """

    records: int = 0
    skipped: int = 0
    skip_reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    bytes_read: int = 0  # of the file, for progress; 0 when a reader cannot tell
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def skip(self, reason: str, count: int = 1) -> None:
        """Count ``count`` records skipped for ``reason`` (a fixed phrase, no values)."""
        with self._lock:
            self.skipped += count
            self.skip_reasons[reason] += count

    def reset(self) -> None:
        """Start counting a new pass over the file."""
        with self._lock:
            self.records = self.skipped = self.bytes_read = 0
            self.skip_reasons.clear()


def gc_paused(items: Iterator[T]) -> Iterator[T]:
    """``items``, with Python's cyclic garbage collector paused while each is produced.

    Readers that build rows as Python lists keep tens of thousands of them alive per
    batch; every collection walks them all again, which cost more than the parsing (a
    PostgreSQL COPY block: 8.8 s with, 2.7 s without). The rows hold no reference
    cycles, so reference counting frees them; collection resumes between batches.
    """
    while True:
        enabled = gc.isenabled()
        gc.disable()
        try:
            item = next(items, _END)
        finally:
            if enabled:
                gc.enable()
        if item is _END:
            return
        yield item  # type: ignore[misc]


_END = object()


class CountingFile(io.RawIOBase):
    """A binary file that adds what is read from it to ``stats.bytes_read`` (progress)."""

    def __init__(self, path: Path, stats: ReadStats | None) -> None:
        super().__init__()
        self._raw = path.open("rb", buffering=0)
        self._stats = stats

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        if n and self._stats is not None:
            self._stats.bytes_read += n
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass(frozen=True)
class TableBatch:
    """A slice of records: every column ``pa.string()`` and nullable.

    Column names are the header texts (made unique), ``column_1``.. when the file has no
    header, and dotted paths (``address.postcode``) for nested JSON. Batches of one JSON
    file may differ in their column sets: each holds at least the reader's ``columns``.
    """

    data: pa.RecordBatch
    first_record: int
    table: str | None = None  # which table of a multi-table file (SQL dump); else None


class TableReader(ABC):
    """A streaming reader of one table file.

    Construction peeks at the start of the file, so ``columns`` and ``has_header`` are
    known at once and a file that is not a table fails early with
    ``UnreadableDatasetError``. Each call of ``batches()`` is a new pass over the file:
    it resets ``stats`` and numbers records from 1 again.
    """

    format: ClassVar[str]
    path: Path
    display_name: str
    stats: ReadStats
    columns: list[str]
    has_header: bool

    def __init__(
        self,
        path: Path,
        *,
        display_name: str | None = None,
        limits: ReaderLimits | None = None,
    ) -> None:
        self.path = Path(path)
        self.display_name = display_name or self.path.name
        self.limits = limits or ReaderLimits()
        self.stats = ReadStats()
        try:
            self._start()
        except OSError as exc:
            raise UnreadableDatasetError(
                f"{self.display_name}: cannot be read ({exc.strerror or 'I/O error'})"
            ) from exc

    @abstractmethod
    def _start(self) -> None:
        """Peek at the start of the file: set ``columns`` and ``has_header``.

        :raises UnreadableDatasetError: the file is not a table of this format.
        """

    @abstractmethod
    def sample(self, rows: int = 1000) -> pa.RecordBatch:
        """The first ``rows`` records, for content-based column detection.

        Cheap and repeatable; does not touch ``stats``.
        """

    @abstractmethod
    def batches(self) -> Iterator[TableBatch]:
        """Stream every record of the file, in order, as batches.

        :raises UnreadableDatasetError: when the file breaks down beyond skipping a record.
        """


def unique_names(cells: list[str], count: int) -> list[str]:
    """``count`` distinct column names from header cells: blanks become ``column_N``,
    repeats get ``_2``, ``_3``; missing cells are filled in as ``column_N``."""
    names: list[str] = []
    seen: set[str] = set()
    for index in range(count):
        cell = cells[index].strip() if index < len(cells) else ""
        base = cell or f"column_{index + 1}"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        names.append(name)
    return names


def cell_text(value: object) -> str | None:
    """One value as the string a column holds: None stays null, numbers lose a ``.0``
    (a BSN exported as a float), booleans are ``true``/``false``, lists of scalars are
    joined with spaces ("given names": ["Jan", "Piet"]), other structures are JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e18:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list) and all(
        v is None or isinstance(v, str | int | float) for v in value
    ):
        return " ".join(t for t in (cell_text(v) for v in value) if t is not None)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def flatten_json(obj: dict[str, object], prefix: str = "", depth: int = 0) -> dict[str, str | None]:
    """A JSON object as one row: nested objects become dotted columns (``address.city``)."""
    if not prefix and all(v is None or type(v) is str for v in obj.values()):
        return obj  # type: ignore[return-value]  # already a flat row of text (the usual case)
    row: dict[str, str | None] = {}
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and depth < _MAX_DEPTH:
            row.update(flatten_json(value, name, depth + 1))
        else:
            row[name] = cell_text(value)
    return row


class RowBuffer:
    """Collects rows (dicts of column -> text) into string batches.

    Every batch holds all of ``columns`` (null where a row lacks one), then any other
    column its rows have, in order of first appearance (none with ``fixed``). Beyond
    ``MAX_COLUMNS`` distinct columns, new ones are ignored: a file with a fresh key in
    every object must not grow a batch without bound.
    """

    def __init__(self, columns: list[str], batch_rows: int, *, fixed: bool = False) -> None:
        self.columns = list(columns)
        self.batch_rows = batch_rows
        self._limit = len(self.columns) if fixed else MAX_COLUMNS
        self._rows: list[dict[str, str | None]] = []
        self._order: dict[str, None] = dict.fromkeys(self.columns)

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: dict[str, str | None]) -> bool:
        """Add a row; True when the buffer is full and should be taken."""
        for name in row:
            if name not in self._order and len(self._order) < self._limit:
                self._order[name] = None
        self._rows.append(row)
        return len(self._rows) >= self.batch_rows

    def take(self) -> pa.RecordBatch:
        """The buffered rows as a batch; the buffer starts empty again."""
        rows, names = self._rows, list(self._order)
        self._rows, self._order = [], dict.fromkeys(self.columns)
        arrays = [pa.array([row.get(name) for row in rows], type=pa.string()) for name in names]
        schema = pa.schema([(name, pa.string()) for name in names])
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


class RowReader(TableReader):
    """A reader that builds rows in Python (JSON, XLSX) from one value per record.

    A record is a JSON object (nested keys flattened to ``a.b`` columns) or a list of
    cells (an XLSX row, a JSON array of arrays), whose columns are named by a header row
    when :func:`sniff.looks_like_header` finds one, else ``column_1``...; any other value
    is skipped as ``'not a record'``. Subclasses set the common attributes, implement
    :meth:`_values` and call :meth:`_peek`, which learns ``columns`` from the first
    records (in order of first appearance) and keeps them for :meth:`sample`.
    """

    PEEK_ROWS = 1000
    limits: ReaderLimits
    _names: list[str]
    _list_header: bool

    @abstractmethod
    def _values(self, stats: ReadStats) -> Generator[object, None, None]:
        """Every record as a parsed value, counting skipped ones in ``stats``."""

    def _rows(self, stats: ReadStats) -> Generator[dict[str, str | None], None, None]:
        first_list = True
        values = self._values(stats)
        with contextlib.closing(values):
            for value in values:
                if isinstance(value, dict):
                    yield flatten_json(value)
                elif isinstance(value, list):
                    if first_list and self._list_header:
                        first_list = False
                        continue
                    first_list = False
                    yield self._list_row(value)
                else:
                    stats.skip("not a record")

    def _list_row(self, cells: list[object]) -> dict[str, str | None]:
        names = self._names
        row: dict[str, str | None] = {}
        for index, cell in enumerate(cells):
            text = cell_text(cell)
            if text is not None:
                row[names[index] if index < len(names) else f"column_{index + 1}"] = text
        return row

    def _first(self, count: int) -> list[dict[str, str | None]]:
        rows = self._rows(ReadStats())
        with contextlib.closing(rows):
            return list(islice(rows, count))

    def _peek(self) -> None:
        from matchers.readers.sniff import looks_like_header

        values = self._values(ReadStats())
        with contextlib.closing(values):
            head = list(islice(values, self.PEEK_ROWS))
        lists = [[cell_text(c) or "" for c in v] for v in head if isinstance(v, list)]
        self._list_header = bool(lists) and looks_like_header(lists[0], lists[1:200])
        width = max((len(cells) for cells in lists), default=0)
        self._names = unique_names(lists[0] if self._list_header else [], width)
        # Object keys name their values; a list of cells is named only by a header row.
        self.has_header = self._list_header or not head or isinstance(head[0], dict)
        self._head = self._first(self.PEEK_ROWS)
        order: dict[str, None] = dict.fromkeys(self._names if lists else [])
        for row in self._head:
            for name in row:
                if name not in order and len(order) < MAX_COLUMNS:
                    order[name] = None
        self.columns = list(order)

    def sample(self, rows: int = 1000) -> pa.RecordBatch:
        """The first ``rows`` records, with exactly the reader's ``columns``."""
        head = self._head if rows <= len(self._head) else self._first(rows)
        buffer = RowBuffer(self.columns, rows, fixed=True)
        for row in head[:rows]:
            buffer.add(row)
        return buffer.take()

    def batches(self) -> Iterator[TableBatch]:
        """Stream all records in batches of at most ``limits.batch_rows``; batches may add
        columns first seen after the peek (see :class:`RowBuffer`)."""
        self.stats.reset()
        buffer = RowBuffer(self.columns, self.limits.batch_rows)
        rows = self._rows(self.stats)
        try:
            with contextlib.closing(rows):
                yield from gc_paused(self._fill(rows, buffer))
        except OSError as exc:
            raise UnreadableDatasetError(
                f"{self.display_name}: cannot be read past record {self.stats.records} "
                f"({exc.strerror or 'I/O error'})"
            ) from exc
        if len(buffer):
            yield self._emit(buffer)

    def _fill(
        self, rows: Iterator[dict[str, str | None]], buffer: RowBuffer
    ) -> Iterator[TableBatch]:
        for row in rows:
            if buffer.add(row):
                yield self._emit(buffer)

    def _emit(self, buffer: RowBuffer) -> TableBatch:
        data = buffer.take()
        batch = TableBatch(data, self.stats.records + 1)
        self.stats.records += data.num_rows
        return batch
