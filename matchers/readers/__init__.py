"""Table readers: one leaked or enrolled file in, batches of string columns out.

Owns recognising a table's format by its content (never trusting the file name),
guessing encoding, delimiter and header, and streaming the records in bounded memory as
pyarrow batches whose columns are all strings (:mod:`.base` says exactly what a reader
hands out, and how records are numbered). One module per format: :mod:`.delimited`
(CSV and friends), :mod:`.jsonarray`, :mod:`.jsonlines`, :mod:`.xlsx`, :mod:`.sqldump`
(MySQL and PostgreSQL dumps, several tables per file); :mod:`.sniff` holds the guessing.
Archives (:mod:`matchers.archives`) and documents are not tables and are not handled here.

Readers see raw personal values and keep none: what leaves them is batches in memory,
counts, and column names. Errors name the file, never a value.
"""

from __future__ import annotations

import json
from pathlib import Path

from matchers.errors import UnreadableDatasetError
from matchers.readers.base import ReaderLimits, ReadStats, TableBatch, TableReader
from matchers.readers.delimited import DelimitedReader
from matchers.readers.jsonarray import JsonArrayReader
from matchers.readers.jsonlines import JsonLinesReader
from matchers.readers.sniff import binary_reason, decode, detect_encoding, read_head_or_fail
from matchers.readers.sqldump import SqlDumpReader, sniff_sql
from matchers.readers.xlsx import XlsxReader, spreadsheet_kind

__all__ = [
    "DelimitedReader",
    "JsonArrayReader",
    "JsonLinesReader",
    "ReadStats",
    "ReaderLimits",
    "SqlDumpReader",
    "TableBatch",
    "TableReader",
    "XlsxReader",
    "open_table",
]

_HEAD = 64 * 1024


def _not_a_table(name: str, why: str) -> UnreadableDatasetError:
    return UnreadableDatasetError(f"{name}: not a table we can read ({why})")


def _json_kind(text: str) -> str | None:
    """'array' or 'lines' when the text starts like a JSON table, else None."""
    stripped = text.lstrip()
    first, newline, rest = stripped.partition("\n")
    if stripped.startswith("["):
        after = stripped[1:].lstrip()
        if after and after[0] not in '{["]':
            return None  # "[id],[naam]": a CSV header in brackets
        if newline and rest.lstrip().startswith("[") and isinstance(_loads(first), list):
            return "lines"  # one array of cells per line
        return "array"
    if stripped.startswith("{"):
        if not newline:
            return "lines"  # one line, or a first line longer than the head
        return "lines" if isinstance(_loads(first), dict) else "document"
    return None


def _loads(line: str) -> object:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def open_table(
    path: Path, *, display_name: str | None = None, limits: ReaderLimits | None = None
) -> TableReader:
    """Open ``path`` with the reader its content calls for.

    A JSON array (``[`` first) is read as records, lines of JSON objects as JSON Lines,
    an Excel workbook (a zip holding ``xl/workbook.xml``) as a sheet, other text as a
    delimited table. ``display_name`` is how messages name the file (default: its name).

    :raises UnreadableDatasetError: the file cannot be opened, is empty, binary, another
        kind of archive or document, or a JSON document that is not a table.
    """
    path = Path(path)
    name = display_name or path.name
    head = read_head_or_fail(path, _HEAD, name)
    if head.startswith(b"PK\x03\x04"):
        kind = spreadsheet_kind(path)
        if kind:
            reader = XlsxReader(path, display_name=name, limits=limits)
            reader.format = kind
            return reader
        raise _not_a_table(name, "a zip archive")
    encoding = detect_encoding(head)
    text = decode(head[encoding.bom :], encoding.codec)
    reason = binary_reason(head, text)
    if reason == "an old-style Office document":
        # An .xls workbook, or a .doc/.ppt (which the workbook reader refuses).
        reader = XlsxReader(path, display_name=name, limits=limits)
        reader.format = "xls"
        return reader
    if reason:
        raise _not_a_table(name, reason)
    kind = _json_kind(text)
    if kind == "array":
        return JsonArrayReader(path, display_name=name, limits=limits)
    if kind == "lines":
        return JsonLinesReader(path, display_name=name, limits=limits)
    if kind == "document":
        raise _not_a_table(
            name, "a single JSON document; arrays of records and JSON Lines can be read"
        )
    if sniff_sql(text):
        return SqlDumpReader(path, display_name=name, limits=limits)
    return DelimitedReader(path, display_name=name, limits=limits)
