"""The shared strings table of an .xlsx (``xl/sharedStrings.xml``): Excel keeps every
text of the workbook there once and cells point at it by number, so it must be held
while the sheets are read. It is held compactly — one Arrow string array (a 1.5M-string
table: ~40 MB, where a Python list would take ~150 MB) — and read like the sheets:
vectorised chunks of whole ``<si>`` elements (two at a time, on worker threads), expat
for the rest.

Limits: the table's text may not exceed :data:`MAX_TABLE_BYTES` (the workbook is then
refused: holding it would break the memory bound); one string longer than the record
limit is not kept, and a row that uses it is skipped as too long.
"""

from __future__ import annotations

import zipfile
from xml.parsers import expat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matchers.readers.background import InOrder
from matchers.readers.cellvalues import XmlTextError
from matchers.readers.ooxml import Budget, PartError, stream_part
from matchers.readers.sheetcells import SharedStrings
from matchers.readers.sheetfast import fast_strings
from matchers.readers.sheetparse import DtdRefused, SharedStringsHandler
from matchers.readers.xmlchunks import ItemChunks, Oversized, markup_declared
from matchers.readers.xmlscan import NotCompact

__all__ = ["MAX_TABLE_BYTES", "read_shared_strings"]

MAX_TABLE_BYTES = 256 << 20


class _Table:
    def __init__(self, max_text: int) -> None:
        self.max_text = max_text
        self.arrays: list[pa.Array] = []
        self.over: list[int] = []
        self.count = 0
        self.size = 0

    def add(self, values: pa.Array, over: list[int]) -> None:
        self.over.extend(self.count + i for i in over)
        self.arrays.append(values)
        self.count += len(values)
        self.size += values.nbytes
        if self.size > MAX_TABLE_BYTES:
            raise PartError("shared strings table over the memory limit")

    def drain(self, handler: SharedStringsHandler) -> None:
        if handler.values:
            self.add(pa.array(handler.values, pa.string()), handler.over)
            handler.values, handler.over = [], []

    def result(self) -> SharedStrings:
        if not self.arrays:
            return SharedStrings.empty()
        values = pa.concat_arrays(self.arrays)
        lengths = np.asarray(pc.binary_length(values), dtype=np.int64)
        lengths[self.over] = self.max_text + 1  # a row that uses it is too long
        return SharedStrings(values, lengths)


def _expat(table: _Table, data: object) -> None:
    """Read the rest of the table with expat (``data``: byte chunks)."""
    handler = SharedStringsHandler(table.max_text)
    parser = handler.parser()
    try:
        for chunk in data:  # type: ignore[attr-defined]
            parser.Parse(chunk, False)
            table.drain(handler)
            if handler.done:
                return
        parser.Parse(b"", True)
    except expat.ExpatError:
        if not handler.done:
            raise PartError("shared strings table is not well-formed XML") from None
    finally:
        table.drain(handler)


_Strings = tuple[pa.Array, list[int]]  # a chunk's strings, and which are over the limit


def _chunk_strings(chunk: bytes, prefix: bytes, max_text: int) -> _Strings:
    """The strings of one chunk of whole ``<si>`` elements (no comment, CDATA or
    processing instruction in it): vectorised, or by expat when not in the compact form.

    :raises expat.ExpatError, XmlTextError: the chunk is not well-formed.
    """
    plain = chunk.replace(b"<" + prefix, b"<").replace(b"</" + prefix, b"</") \
        if prefix else chunk
    try:
        return fast_strings(plain, max_text)
    except NotCompact:
        handler = SharedStringsHandler(max_text)
        handler.parser().Parse(b"<sst>" + plain + b"</sst>", True)
        return pa.array(handler.values, pa.string()), handler.over


def read_shared_strings(
    archive: zipfile.ZipFile, part: str, budget: Budget, max_text: int
) -> SharedStrings:
    """The table in ``part``.

    :raises PartError: the part cannot be read, is not well-formed, declares a DTD, or
        holds more text than the limit.
    """
    table = _Table(max_text)
    data = stream_part(archive, part, budget)
    try:
        chunks = ItemChunks(data, "sst", "si", max_item=max(8 * max_text, 8 << 20))
        if not chunks.compact:
            _expat(table, chunks.rest())
            return table.result()
        prefix = chunks.prefix
        # Chunks are read two at a time on worker threads while this one inflates and
        # cuts the next; the strings come back in order.
        with InOrder[_Strings]() as pool:
            for chunk in chunks:
                if isinstance(chunk, Oversized):
                    done = pool.put((pa.array([""], pa.string()), [0]))
                elif markup_declared(chunk):
                    for strings in pool.drain():
                        table.add(*strings)
                    _expat(table, chunks.rest(chunk))
                    break
                else:
                    done = pool.submit(_chunk_strings, chunk, prefix, max_text)
                for strings in done:
                    table.add(*strings)
            else:
                for strings in pool.drain():
                    table.add(*strings)
    except DtdRefused:
        raise PartError("shared strings table declares a DTD (refused)") from None
    except (expat.ExpatError, XmlTextError):
        raise PartError("shared strings table is not well-formed XML") from None
    finally:
        data.close()  # the part's file handle, also on errors
    result = table.result()
    del table
    # The table was read in pieces (and concatenated): Arrow's allocator keeps the freed
    # pieces and the readers' scratch for reuse, ~200 MB for a 5M-string table, held for
    # the whole scan unless handed back now (peak RSS of a 2M-row sheet: ~190 MB less).
    pa.default_memory_pool().release_unused()
    return result
