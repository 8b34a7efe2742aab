"""Spreadsheets (.xlsx, legacy .xls, .ods): cohort member lists often arrive as one, and
leaks too.

Every sheet is read, as a table of its own (``TableBatch.table`` is the sheet's name;
records are numbered per sheet). A sheet's header need not be its first row: exports
often start with a title, a date or a logo row, so the header is the first of the first
rows that names a known column ("BSN", "Achternaam", ...), else the first row when it
reads as a header, else there is none. Dates come out as ``YYYY-MM-DD``, whole numbers
without ``.0`` (a BSN typed as a number), so the values read like a CSV export of the
sheet.

.xlsx is streamed: a sheet is read a chunk of rows at a time from its XML part
(:mod:`.sheetxml`), mostly vectorised and two chunks at a time, so memory stays flat
however long the sheet is (a 2M-row sheet: about half the CSV rate); only the shared
strings table is held (compactly, :mod:`.sharedstrings`). Columns are numbered from the
leftmost column used in a sheet's first rows (the reader before this one, python-calamine,
counted from the leftmost in the whole sheet; the two differ only when a later row starts
further left). Legacy .xls and .ods go through python-calamine, which holds one sheet in memory
at a time.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from matchers.errors import UnreadableDatasetError
from matchers.readers.background import ahead
from matchers.readers.base import (
    MAX_COLUMNS,
    ReadStats,
    RowBuffer,
    TableBatch,
    TableReader,
    cell_text,
    gc_paused,
    unique_names,
)
from matchers.readers.ooxml import PartError, open_package, open_zip
from matchers.readers.sharedstrings import read_shared_strings
from matchers.readers.sheetcells import Block, SharedStrings
from matchers.readers.sheetxml import SheetError, SheetReading, read_sheet

__all__ = ["XlsxReader", "spreadsheet_kind"]

_HEADER_SCAN = 30  # rows searched for a header below titles and blank lines
_BATCH_BYTES = 2 << 20  # a batch is handed on at this much text (the CSV reader's block)


def spreadsheet_kind(path: Path) -> str | None:
    """'xlsx' or 'ods' when the file is a zip holding a workbook (by content, not name)."""
    try:
        with open_zip(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "mimetype" in names and archive.read("mimetype").strip() == _ODS_MIME:
                return "ods"
    except (PartError, zipfile.BadZipFile, OSError, ValueError, KeyError):
        return None
    return None


_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def header_row(rows: list[list[str]]) -> int | None:
    """Index of the header among a sheet's first non-blank rows, or None.

    A row naming a known column wins wherever it is (titles above it are not records);
    else the first row, when :func:`sniff.looks_like_header` reads it as one.
    """
    from matchers.columns import match_header
    from matchers.readers.sniff import looks_like_header

    for index, cells in enumerate(rows):
        named = [c for c in cells if c.strip()]
        if len(named) >= 2 and any(match_header(c) for c in named):
            return index
    if rows and looks_like_header(rows[0], rows[1:200]):
        return 0
    return None


class _Layout:
    """How a sheet's columns are named: from the header (when there is one), counted
    from the leftmost column used in the first rows; columns beyond the header's width
    are ``column_N``."""

    def __init__(self, offset: int, names: list[str]) -> None:
        self.offset = offset
        self.names = names

    def name(self, col: int) -> str:
        at = col - self.offset
        return self.names[at] if 0 <= at < len(self.names) else f"column_{at + 1}"

    def batch(self, pieces: list[Block]) -> pa.RecordBatch:
        """One record batch of the rows of ``pieces``: the header's columns first (null
        where empty), then other columns in the order they first hold a value — what
        :class:`RowBuffer` makes of the same rows."""
        rows = sum(p.rows for p in pieces)
        cols = sorted({c for p in pieces for c in p.columns})
        base = 0
        first: dict[int, int] = {}
        for piece in pieces:
            for col, values in piece.columns.items():
                if col not in first and values.null_count < len(values):
                    valid = values.is_valid().to_numpy(zero_copy_only=False)
                    first[col] = base + int(valid.argmax())
            base += piece.rows
        inside = range(self.offset, self.offset + len(self.names))
        extra = sorted((first[c], c) for c in cols if c not in inside and c in first)
        columns: dict[str, pa.Array] = {}
        for col in [*inside, *(c for _, c in extra)]:
            if len(columns) >= max(MAX_COLUMNS, len(self.names)) and col not in inside:
                break
            parts = [pa.nulls(p.rows, pa.string()) if p.columns.get(col) is None
                     else p.columns[col] for p in pieces]
            values = pa.concat_arrays(parts) if len(parts) > 1 else parts[0]
            name = self.name(col)
            if name in columns:  # a header literally named "column_7"
                values = pc.coalesce(values, columns[name])
            columns[name] = values
        if not columns:
            columns = {self.name(self.offset): pa.nulls(rows, pa.string())}
        return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))


def _head_texts(blocks: list[Block], count: int) -> tuple[list[list[str]], int]:
    """The first ``count`` rows as lists of cell texts from the leftmost column used in
    them (trailing empty cells dropped), and that column."""
    rows: list[dict[int, str]] = []
    for block in blocks:
        rows.extend(block.slice(0, min(block.rows, count - len(rows))).texts())
    offset = min(min(row) for row in rows if row)
    return [[row.get(c, "") for c in range(offset, max(row) + 1)] for row in rows], offset


class XlsxReader(TableReader):
    """Reads every non-empty sheet of a workbook (xlsx, xls, ods), row by row; see the
    module docstring.

    ``columns``, :meth:`sample` and ``table`` describe the first sheet with rows (what
    ``cohort enroll`` reads); :meth:`batches` hands out every sheet.

    :raises UnreadableDatasetError: the workbook cannot be opened or parsed, or has no
        sheet with any content.
    """

    format = "xlsx"
    multi_table = True

    def _start(self) -> None:
        self._reading: SheetReading | None = None
        if spreadsheet_kind(self.path) == "xlsx":
            self._reading = self._open_xlsx()
        first = next(self._batches(ReadStats(), batch_rows=1000, peek=True), None)
        if first is None:
            raise UnreadableDatasetError(f"{self.display_name}: a workbook without data")
        self.table = first.table
        self.columns = list(first.data.schema.names)
        self.has_header = self._first_has_header
        self._sample = first.data

    def _open_xlsx(self) -> SheetReading:
        """The workbook's sheets, styles and shared strings (held for every pass).

        :raises UnreadableDatasetError: not a readable workbook.
        """
        try:
            workbook = open_package(self.path)
            strings = SharedStrings.empty()
            if workbook.shared_strings is not None:
                with open_zip(self.path) as archive:
                    strings = read_shared_strings(archive, workbook.shared_strings,
                                                  workbook.budget(),
                                                  self.limits.max_record_bytes)
        except PartError as exc:
            raise UnreadableDatasetError(
                f"{self.display_name}: not a workbook we can read ({exc.reason})"
            ) from None
        return SheetReading(workbook, strings, self.limits.max_record_bytes)

    def sample(self, rows: int = 1000) -> pa.RecordBatch:
        return self._sample.slice(0, rows)

    def batches(self) -> Iterator[TableBatch]:
        self.stats.reset()
        yield from gc_paused(self._batches(self.stats, batch_rows=self.limits.batch_rows))

    def _batches(
        self, stats: ReadStats, *, batch_rows: int, peek: bool = False
    ) -> Iterator[TableBatch]:
        if self._reading is not None:
            yield from self._xlsx(self._reading, stats, batch_rows, ahead_of_use=not peek)
        else:
            yield from self._calamine(stats, batch_rows)

    # ------------------------------------------------------------------ streamed .xlsx

    def _xlsx(self, how: SheetReading, stats: ReadStats, batch_rows: int,
              ahead_of_use: bool) -> Iterator[TableBatch]:
        """Every sheet's batches; ``ahead_of_use``: read on a thread of its own, a few
        blocks ahead (not for the peek at construction, which needs one block)."""
        budget = how.workbook.budget()
        try:
            archive = open_zip(self.path)
        except PartError as exc:
            raise UnreadableDatasetError(
                f"{self.display_name}: not a workbook we can read ({exc.reason})"
            ) from None
        with archive:
            for sheet in how.workbook.sheets:
                if sheet.part is None:
                    stats.skip("unreadable sheet")
                    continue
                blocks = read_sheet(archive, sheet.part, how, budget)
                blocks = ahead(blocks) if ahead_of_use else blocks
                try:
                    yield from self._sheet_blocks(sheet.name, _counted(blocks, stats), stats,
                                                  batch_rows)
                except SheetError as exc:
                    stats.skip(exc.reason)
                finally:
                    blocks.close()

    def _sheet_blocks(
        self, title: str, blocks: Iterator[Block], stats: ReadStats, batch_rows: int
    ) -> Iterator[TableBatch]:
        """Batches of one sheet's rows; the rows read before a :class:`SheetError` are
        handed out before it is raised."""
        failed: list[SheetError] = []
        blocks = _until_error(blocks, failed)
        head: list[Block] = []
        rows = 0
        for block in blocks:
            if block.rows:
                head.append(block)
                rows += block.rows
                if rows >= _HEADER_SCAN:
                    break
        if rows:
            yield from self._sheet_batches(title, head, blocks, stats, batch_rows)
        if failed:
            raise failed[0]

    def _sheet_batches(
        self, title: str, head: list[Block], blocks: Iterator[Block], stats: ReadStats,
        batch_rows: int,
    ) -> Iterator[TableBatch]:
        texts, offset = _head_texts(head, _HEADER_SCAN)
        at = header_row(texts)
        if not hasattr(self, "_first_has_header"):
            self._first_has_header = at is not None
        width = max(len(cells) for cells in texts)
        layout = _Layout(offset, unique_names(texts[at] if at is not None else [], width))
        if at is not None:
            head = _drop_rows(head, at + 1)
        pending: list[Block] = []
        waiting = size = 0
        first = 1
        for block in chain(head, blocks):
            if not block.rows:
                continue
            pending.append(block)
            waiting += block.rows
            size += block.nbytes
            while waiting >= batch_rows or (size >= _BATCH_BYTES and waiting):
                take = min(waiting, batch_rows)
                pieces, pending = _split(pending, take)
                waiting -= take
                size = sum(p.nbytes for p in pending)
                stats.records += take
                yield TableBatch(layout.batch(pieces), first, table=title or None)
                first += take
        if waiting:
            stats.records += waiting
            yield TableBatch(layout.batch(pending), first, table=title or None)

    # ------------------------------------------------------------- .xls, .ods: calamine

    def _calamine(self, stats: ReadStats, batch_rows: int) -> Iterator[TableBatch]:
        try:
            from python_calamine import CalamineWorkbook

            workbook = CalamineWorkbook.from_path(str(self.path))
        except Exception as exc:  # noqa: BLE001 - a broken workbook fails in many ways
            raise UnreadableDatasetError(
                f"{self.display_name}: not a workbook we can read ({type(exc).__name__})"
            ) from None
        try:
            for name in workbook.sheet_names:
                cached = getattr(self, "_loaded", None)
                try:
                    # The peek at construction loaded the first sheet: reuse it once.
                    if cached is not None and cached[0] == name:
                        sheet, self._loaded = cached[1], None
                    else:
                        sheet = workbook.get_sheet_by_name(name)
                except Exception:  # noqa: BLE001 - a chart sheet, a broken sheet
                    stats.skip("unreadable sheet")
                    continue
                if not hasattr(self, "_sample"):
                    self._loaded = (name, sheet)
                yield from self._sheet(name, sheet, stats, batch_rows)
        finally:
            with contextlib.suppress(Exception):
                workbook.close()

    def _sheet(
        self, title: str, sheet: object, stats: ReadStats, batch_rows: int
    ) -> Iterator[TableBatch]:
        rows = _cells(sheet)
        with contextlib.closing(rows):
            head = list(islice(rows, _HEADER_SCAN))
            if not head:
                return
            texts = [[cell_text(c) or "" for c in cells] for cells in head]
            at = header_row(texts)
            if not hasattr(self, "_first_has_header"):
                self._first_has_header = at is not None
            width = max(len(cells) for cells in head)
            names = unique_names(texts[at] if at is not None else [], width)
            body = chain(head[at + 1 :] if at is not None else head, rows)
            buffer = RowBuffer(names, batch_rows)
            first = 1
            for cells in body:
                row = {
                    (names[i] if i < len(names) else f"column_{i + 1}"): text
                    for i, cell in enumerate(cells)
                    if cell != "" and (text := cell_text(cell)) is not None  # "": empty cell
                }
                if buffer.add(row):
                    data = buffer.take()
                    stats.records += data.num_rows
                    yield TableBatch(data, first, table=title or None)
                    first += data.num_rows
            if len(buffer):
                data = buffer.take()
                stats.records += data.num_rows
                yield TableBatch(data, first, table=title or None)


def _until_error(blocks: Iterator[Block], failed: list[SheetError]) -> Iterator[Block]:
    """``blocks`` up to a :class:`SheetError`, which is kept in ``failed``."""
    try:
        yield from blocks
    except SheetError as exc:
        failed.append(exc)


def _counted(blocks: Iterator[Block], stats: ReadStats) -> Iterator[Block]:
    """``blocks``, counting the rows they left out for being too long."""
    for block in blocks:
        if block.too_long:
            stats.skip("record too long", block.too_long)
        yield block


def _drop_rows(blocks: list[Block], count: int) -> list[Block]:
    """``blocks`` without their first ``count`` rows."""
    _, rest = _split(blocks, count)
    return rest


def _split(blocks: list[Block], count: int) -> tuple[list[Block], list[Block]]:
    """The first ``count`` rows of ``blocks`` and the rest, cutting one block if need be."""
    taken: list[Block] = []
    for index, block in enumerate(blocks):
        if count <= 0:
            return taken, blocks[index:]
        if block.rows <= count:
            taken.append(block)
            count -= block.rows
        else:
            taken.append(block.slice(0, count))
            return taken, [block.slice(count, block.rows), *blocks[index + 1 :]]
    return taken, []


def _cells(sheet: object) -> Iterator[list[object]]:
    """The sheet's rows without trailing empty cells; blank rows are not records."""
    for row in sheet.iter_rows():  # type: ignore[attr-defined]
        cells = list(row)
        while cells and (cells[-1] is None or cells[-1] == ""):
            cells.pop()
        if cells:
            yield cells
