"""Excel workbooks (.xlsx), as cohort member lists often arrive, and some leaks too.

openpyxl's read-only mode streams rows from the sheet's XML without building the
workbook in memory. The first sheet with any content is read; its header row, if it has
one, is its first non-empty row. Dates come out as ``YYYY-MM-DD``, whole numbers without
``.0`` (a BSN typed as a number), so the values read like a CSV export of the sheet.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Generator
from pathlib import Path

import openpyxl

from matchers.errors import UnreadableDatasetError
from matchers.readers.base import ReadStats, RowReader

__all__ = ["XlsxReader", "is_xlsx"]


def is_xlsx(path: Path) -> bool:
    """Whether the file is a zip holding an Excel workbook (by content, not name)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "xl/workbook.xml" in names


class XlsxReader(RowReader):
    """Reads the first non-empty sheet of a workbook, row by row.

    :raises UnreadableDatasetError: the workbook cannot be opened or parsed.
    """

    format = "xlsx"

    def _start(self) -> None:
        self._sheet: int | None = None
        self._peek()

    def _values(self, stats: ReadStats) -> Generator[object, None, None]:
        try:
            # A file object, not the path: openpyxl refuses names not ending in .xlsx, and
            # the content has been checked already.
            with self.path.open("rb") as handle:
                with warnings.catch_warnings():
                    # openpyxl warns about styles and extensions it ignores; none matter.
                    warnings.simplefilter("ignore")
                    workbook = openpyxl.load_workbook(
                        handle, read_only=True, data_only=True, keep_links=False
                    )
                try:
                    yield from self._sheet_rows(workbook)
                finally:
                    workbook.close()
        except UnreadableDatasetError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken workbook fails in many ways
            raise UnreadableDatasetError(
                f"{self.display_name}: not a workbook we can read ({type(exc).__name__})"
            ) from None

    def _sheet_rows(self, workbook: openpyxl.Workbook) -> Generator[object, None, None]:
        sheets = workbook.worksheets
        order = [self._sheet] if self._sheet is not None else range(len(sheets))
        for index in order:
            sheet = sheets[index]
            if not hasattr(sheet, "iter_rows"):
                continue  # a chart sheet
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # a wrong <dimension> would cut rows off
            found = False
            for row in sheet.iter_rows(values_only=True):
                cells = list(row)
                while cells and (cells[-1] is None or cells[-1] == ""):
                    cells.pop()
                if not cells:
                    continue  # a blank row is not a record
                if not found:
                    found, self._sheet = True, index
                yield cells
            if found:
                return
