"""One worksheet's rows, streamed from its XML part in bounded memory.

The part is cut into chunks of whole rows (:mod:`.xmlchunks`); each chunk is read
vectorised (:mod:`.sheetfast`), or by expat when it is not in the compact form; from a
chunk with a comment or CDATA on, expat reads the rest of the sheet. Cells become
:class:`~.sheetcells.Block` objects of at most a few MB of text each. Chunks are read on
two worker threads (:class:`~.background.InOrder`) while the caller inflates and cuts
the next ones; their blocks come back in file order.

What cannot be read stops the sheet, not the workbook: rows read before the damage
(a truncated download, XML that is not well-formed, the expansion limit) are kept, and
:class:`SheetError` says why the rest is missing.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from xml.parsers import expat

import pyarrow as pa

from matchers.readers.background import InOrder
from matchers.readers.cellvalues import XmlTextError
from matchers.readers.ooxml import Budget, PartError, Workbook, stream_part
from matchers.readers.sheetcells import BLOCK_BYTES, Block, Cells, SharedStrings, to_block
from matchers.readers.sheetfast import fast_cells, odd_cell_parser
from matchers.readers.sheetparse import DtdRefused, SheetHandler
from matchers.readers.xmlchunks import ItemChunks, Oversized, markup_declared
from matchers.readers.xmlscan import NotCompact

__all__ = ["SheetError", "SheetReading", "read_sheet"]

_EXPAT_ROWS = 4096  # rows collected by expat before they are handed on


class SheetError(Exception):
    """The rest of a sheet cannot be read; ``reason`` is a fixed phrase for reports."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SheetReading:
    """What reading any sheet of one workbook needs."""

    workbook: Workbook
    strings: SharedStrings
    max_record_bytes: int

    def blocks(self, cells: Cells) -> Iterator[Block]:
        return to_block(cells, self.strings, date1904=self.workbook.date1904,
                        max_record_bytes=self.max_record_bytes)


def _expat_blocks(data: Iterable[bytes], how: SheetReading) -> Iterator[Block]:
    handler = SheetHandler(how.workbook.kind_of, how.max_record_bytes)
    parser = handler.parser()
    try:
        for chunk in data:
            parser.Parse(chunk, False)
            if handler.rows >= _EXPAT_ROWS or handler.done:
                yield from how.blocks(handler.take())
            if handler.done:
                return
        parser.Parse(b"", True)
    except expat.ExpatError:
        if not handler.done:
            yield from how.blocks(handler.take())
            raise SheetError("rest of sheet is not well-formed XML") from None
    yield from how.blocks(handler.take())
    if not handler.done:
        raise SheetError("rest of sheet is missing (truncated?)")


def _fragment(chunk: bytes, how: SheetReading) -> Cells:
    handler = SheetHandler(how.workbook.kind_of, how.max_record_bytes)
    handler.parser().Parse(b"<sheetData>" + chunk + b"</sheetData>", True)
    return handler.take()


def _read(archive: zipfile.ZipFile, part: str, how: SheetReading, budget: Budget,
          ) -> Iterator[Block]:
    max_row = max(8 * how.max_record_bytes, 8 << 20)
    data = stream_part(archive, part, budget)
    with contextlib.closing(data):  # the part's file handle, also on errors
        yield from _read_items(ItemChunks(data, "sheetData", "row", max_row), how)


# What a worker hands back: the blocks it made, and the rest of them still to be made
# (None: all made) — a chunk pointing at a huge shared string from many cells would make
# far more text than the bound, so beyond it blocks are made one at a time, when used.
_Done = tuple[list[Block], Iterator[Block] | None]
_EAGER_BYTES = BLOCK_BYTES


def _start(blocks: Iterator[Block]) -> _Done:
    made: list[Block] = []
    size = 0
    for block in blocks:
        made.append(block)
        size += block.nbytes
        if size >= _EAGER_BYTES:
            return made, blocks
    return made, None


def _blocks(results: Iterator[_Done]) -> Iterator[Block]:
    for made, rest in results:
        yield from made
        if rest is not None:
            yield from rest


def _read_items(chunks: ItemChunks, how: SheetReading) -> Iterator[Block]:
    if not chunks.compact:
        yield from _expat_blocks(chunks.rest(), how)
        return
    odd = odd_cell_parser(how.workbook.kind_of, how.max_record_bytes)
    prefix = chunks.prefix
    # Chunks are read two at a time on worker threads (inflating and cutting the next
    # ones goes on here meanwhile); their blocks come back in order.
    with InOrder[_Done]() as pool:
        source = iter(chunks)
        while True:
            try:
                chunk = next(source, None)
            except Exception:
                # The part breaks off here: the rows of the chunks before come first.
                yield from _blocks(pool.drain())
                raise
            if chunk is None:
                break
            if isinstance(chunk, Oversized):
                yield from _blocks(pool.put(([Block(0, {}, 0, too_long=1)], None)))
            elif markup_declared(chunk):
                # A comment, CDATA or processing instruction (the vectorised reader
                # takes none): expat reads from this chunk to the end of the sheet.
                yield from _blocks(pool.drain())
                yield from _expat_blocks(chunks.rest(chunk), how)
                return
            else:
                yield from _blocks(pool.submit(_chunk_blocks, chunk, prefix, how, odd))
        yield from _blocks(pool.drain())


def _chunk_blocks(chunk: bytes, prefix: bytes, how: SheetReading,
                  odd: Callable[[bytes], tuple[int, str]]) -> _Done:
    """The blocks of one chunk of whole rows (no comment, CDATA or processing
    instruction in it): vectorised, or by expat when it is not in the compact form."""
    plain = chunk.replace(b"<" + prefix, b"<").replace(b"</" + prefix, b"</") \
        if prefix else chunk
    try:
        cells = fast_cells(plain, how.workbook.kind_of, odd)
    except NotCompact:
        cells = _fragment(plain, how)
    except (IndexError, ValueError, pa.ArrowException):
        # Damage the shape checks did not foresee: the vectorised path is only a
        # faster way to the same cells, so expat decides (and reports any error).
        cells = _fragment(plain, how)
    return _start(how.blocks(cells))


def read_sheet(archive: zipfile.ZipFile, part: str, how: SheetReading, budget: Budget,
               ) -> Iterator[Block]:
    """Blocks of the sheet's non-blank rows, in order.

    :raises SheetError: after the rows that could be read, when the rest cannot.
    """
    try:
        yield from _read(archive, part, how, budget)
    except PartError as exc:
        raise SheetError(f"rest of sheet unreadable: {exc.reason}") from None
    except DtdRefused:
        raise SheetError("sheet declares a DTD (refused)") from None
    except (expat.ExpatError, XmlTextError):
        raise SheetError("rest of sheet is not well-formed XML") from None
