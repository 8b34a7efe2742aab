"""Excel workbooks (.xlsx): cohort member lists often arrive as one, and leaks too.

openpyxl's read-only mode streams rows from each sheet's XML without building the
workbook in memory. Every sheet is read, as a table of its own (``TableBatch.table`` is
the sheet's name; records are numbered per sheet). A sheet's header need not be its first
row: exports often start with a title, a date or a logo row, so the header is the first
of the first rows that names a known column ("BSN", "Achternaam", ...), else the first
row when it reads as a header, else there is none. Dates come out as ``YYYY-MM-DD``,
whole numbers without ``.0`` (a BSN typed as a number), so the values read like a CSV
export of the sheet.
"""

from __future__ import annotations

import contextlib
import warnings
import zipfile
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path

import pyarrow as pa

from matchers.errors import UnreadableDatasetError
from matchers.readers.base import (
    ReadStats,
    RowBuffer,
    TableBatch,
    TableReader,
    cell_text,
    gc_paused,
    unique_names,
)

__all__ = ["XlsxReader", "is_xlsx"]

_HEADER_SCAN = 30  # rows searched for a header below titles and blank lines


def is_xlsx(path: Path) -> bool:
    """Whether the file is a zip holding an Excel workbook (by content, not name)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "xl/workbook.xml" in names


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


class XlsxReader(TableReader):
    """Reads every non-empty sheet of a workbook, row by row; see the module docstring.

    ``columns``, :meth:`sample` and ``table`` describe the first sheet with rows (what
    ``cohort enroll`` reads); :meth:`batches` hands out every sheet.

    :raises UnreadableDatasetError: the workbook cannot be opened or parsed, or has no
        sheet with any content.
    """

    format = "xlsx"
    multi_table = True

    def _start(self) -> None:
        first = next(self._batches(ReadStats(), batch_rows=1000), None)
        if first is None:
            raise UnreadableDatasetError(f"{self.display_name}: a workbook without data")
        self.table = first.table
        self.columns = list(first.data.schema.names)
        self.has_header = self._first_has_header
        self._sample = first.data

    def sample(self, rows: int = 1000) -> pa.RecordBatch:
        return self._sample.slice(0, rows)

    def batches(self) -> Iterator[TableBatch]:
        self.stats.reset()
        yield from gc_paused(self._batches(self.stats, batch_rows=self.limits.batch_rows))

    def _batches(self, stats: ReadStats, *, batch_rows: int) -> Iterator[TableBatch]:
        try:
            # A file object, not the path: openpyxl refuses names not ending in .xlsx, and
            # the content has been checked already.
            with self.path.open("rb") as handle:
                import openpyxl  # only when a workbook is read: it takes 0.15 s to import

                with warnings.catch_warnings():
                    # openpyxl warns about styles and extensions it ignores; none matter.
                    warnings.simplefilter("ignore")
                    workbook = openpyxl.load_workbook(
                        handle, read_only=True, data_only=True, keep_links=False
                    )
                try:
                    for sheet in workbook.worksheets:
                        yield from self._sheet(sheet, stats, batch_rows)
                finally:
                    workbook.close()
        except UnreadableDatasetError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken workbook fails in many ways
            raise UnreadableDatasetError(
                f"{self.display_name}: not a workbook we can read ({type(exc).__name__})"
            ) from None

    def _sheet(self, sheet: object, stats: ReadStats, batch_rows: int) -> Iterator[TableBatch]:
        if not hasattr(sheet, "iter_rows"):
            return  # a chart sheet
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # a wrong <dimension> would cut rows off
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
            title = str(getattr(sheet, "title", "")) or None
            buffer = RowBuffer(names, batch_rows)
            first = 1
            for cells in body:
                row = {
                    (names[i] if i < len(names) else f"column_{i + 1}"): text
                    for i, cell in enumerate(cells)
                    if (text := cell_text(cell)) is not None
                }
                if buffer.add(row):
                    data = buffer.take()
                    stats.records += data.num_rows
                    yield TableBatch(data, first, table=title)
                    first += data.num_rows
            if len(buffer):
                data = buffer.take()
                stats.records += data.num_rows
                yield TableBatch(data, first, table=title)


def _cells(sheet: object) -> Iterator[list[object]]:
    """The sheet's rows without trailing empty cells; blank rows are not records."""
    for row in sheet.iter_rows(values_only=True):  # type: ignore[attr-defined]
        cells = list(row)
        while cells and (cells[-1] is None or cells[-1] == ""):
            cells.pop()
        if cells:
            yield cells
