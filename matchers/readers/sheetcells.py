"""The cells of a run of worksheet rows, and the run as columns of text.

Both ways of reading a sheet's XML — vectorised (:mod:`.sheetfast`) and through expat
(:mod:`.sheetparse`) — produce :class:`Cells`: for every cell its row within the run,
its column, its :class:`~.cellvalues.Kind` and its raw text. :func:`to_block` renders
them (:func:`.cellvalues.render`, shared strings looked up) and lays them out as one
string array per column, blank rows left out, as the reader hands them on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matchers.readers.cellvalues import Kind, render

__all__ = ["Block", "Cells", "SharedStrings", "to_block"]

BLOCK_BYTES = 16 << 20  # most text one block materialises (shared strings multiply)


@dataclass(frozen=True)
class SharedStrings:
    """The shared strings table: compact (one Arrow array), lengths kept for budgets."""

    values: pa.Array
    lengths: np.ndarray  # UTF-8 bytes of each string

    @classmethod
    def empty(cls) -> SharedStrings:
        return cls(pa.array([], pa.string()), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class Cells:
    """Cells of ``rows`` consecutive rows: parallel arrays, in document order."""

    rows: int
    row: np.ndarray  # int64, 0 .. rows-1
    col: np.ndarray  # int64, 0-based column (A = 0)
    kind: np.ndarray  # int8, a Kind
    raw: pa.Array  # string: the raw XML text (LITERAL: the finished text)
    too_long: int = 0  # rows already dropped for their size
    plain: bool = False  # no raw text holds '&', '\r' or '_x' (nothing to unescape)

    @classmethod
    def from_lists(
        cls, rows: int, row: Sequence[int], col: Sequence[int], kind: Sequence[int],
        raw: Sequence[str],
    ) -> Cells:
        return cls(
            rows,
            np.asarray(row, dtype=np.int64),
            np.asarray(col, dtype=np.int64),
            np.asarray(kind, dtype=np.int8),
            pa.array(raw, pa.string()),
        )


@dataclass
class Block:
    """Non-blank rows of a sheet as columns: 0-based column -> string array (null where
    the row has no value there). ``too_long``: rows left out for exceeding the record
    size limit (they are counted, never handed out)."""

    rows: int
    columns: dict[int, pa.Array]
    nbytes: int = 0
    too_long: int = 0

    def slice(self, start: int, stop: int) -> Block:
        part = {c: a.slice(start, stop - start) for c, a in self.columns.items()}
        part = {c: a for c, a in part.items() if a.null_count < len(a)}
        return Block(stop - start, part, sum(a.nbytes for a in part.values()))

    def texts(self) -> list[dict[int, str]]:
        """Each row as {column: text} (for looking at a sheet's first rows)."""
        rows: list[dict[int, str]] = [{} for _ in range(self.rows)]
        for col, values in sorted(self.columns.items()):
            for index, text in enumerate(values.to_pylist()):
                if text is not None:
                    rows[index][col] = text
        return rows


def _shared(
    raw: pa.Array, table: SharedStrings
) -> tuple[np.ndarray, np.ndarray]:
    """Indexes into the table (-1: not a valid index) and the lengths they point at."""
    ok = pc.and_(pc.ascii_is_decimal(raw), pc.less_equal(pc.binary_length(raw), 10))
    valid = np.asarray(ok.fill_null(False))
    index = np.full(len(raw), -1, dtype=np.int64)
    if valid.any():
        index[valid] = np.asarray(pc.cast(raw.filter(pa.array(valid)), pa.int64()))
    index[(index < 0) | (index >= len(table))] = -1  # a dangling index reads as empty
    lengths = np.where(index >= 0, table.lengths[np.maximum(index, 0)], 0)
    return index, lengths


def to_block(
    cells: Cells, table: SharedStrings, *, date1904: bool, max_record_bytes: int
) -> Iterator[Block]:
    """Render ``cells`` and lay them out by column, in blocks of at most
    :data:`BLOCK_BYTES` of text, made one at a time (a small sheet can point at one huge
    shared string from many cells). Rows whose text is longer than ``max_record_bytes``
    are left out and counted (in a first, empty block).

    :raises XmlTextError: a text with an undefined entity.
    """
    count = len(cells.kind)
    shared = cells.kind == Kind.SHARED
    own = np.flatnonzero(~shared)  # cells whose text is their own (not in the table)
    at = np.flatnonzero(shared)
    raws = cells.raw if len(own) == count else cells.raw.take(own)
    text, _ = render(cells.kind[own], raws, date1904, plain=cells.plain)
    # Where each cell's text is: own text at its rank among own cells; a shared string at
    # -1 - its index in the table (-1 - -1 = 0 for a dangling one, which reads as empty).
    source = np.empty(count, dtype=np.int64)
    lengths = np.empty(count, dtype=np.int64)
    source[own] = np.arange(len(own))
    lengths[own] = np.asarray(pc.binary_length(text).fill_null(0), dtype=np.int64)
    if len(at):
        index, lengths[at] = _shared(cells.raw.take(at), table)
        source[at] = -1 - index
    keep = lengths > 0  # "" and null: an empty cell
    per_row = np.bincount(cells.row[keep], weights=lengths[keep], minlength=cells.rows)
    too_long = per_row > max_record_bytes
    keep &= ~too_long[cells.row]
    dropped = int(too_long.sum()) + cells.too_long
    if dropped:
        yield Block(0, {}, 0, dropped)
    where = np.flatnonzero(keep)
    if not len(where):
        return
    kept = cells.row[where]  # in document order, so sorted
    new_row = np.empty(len(kept), dtype=bool)
    new_row[0] = True
    np.not_equal(kept[1:], kept[:-1], out=new_row[1:])
    slot = np.cumsum(new_row) - 1  # each kept cell's row among the kept rows
    rows = int(slot[-1]) + 1
    row_bytes = np.bincount(slot, weights=lengths[where], minlength=rows)
    # Cut the rows into groups of at most BLOCK_BYTES (a row is never cut).
    group = (np.cumsum(row_bytes) // BLOCK_BYTES).astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    ends = np.append(starts[1:], rows)
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        first, last = np.searchsorted(slot, [lo, hi])
        part = where[first:last]
        yield _layout(text, source[part], cells.col[part], slot[first:last] - lo, hi - lo,
                      int(row_bytes[lo:hi].sum()), table)


def _layout(
    text: pa.Array, source: np.ndarray, cols: np.ndarray, slot: np.ndarray, rows: int,
    size: int, table: SharedStrings,
) -> Block:
    """One block: cells (where their text is, see :func:`to_block`; their column and row
    slot) as one string array per column.

    Each column is one take, straight from the shared strings table when all its cells
    point there (the usual text column of an Excel sheet) or from ``text`` when none
    does; only a column mixing both gets its shared strings copied out first."""
    columns: dict[int, pa.Array] = {}
    for col, part in _by_column(cols):
        src = source[part]
        shared = src < 0
        if not shared.any():
            values, index = text, src
        elif shared.all():
            values, index = table.values, -1 - src
        else:  # shared strings copied out of the table once, after this column's own text
            values = pa.concat_arrays([text, table.values.take(pa.array(-1 - src[shared]))])
            index = src.copy()
            index[shared] = len(text) + np.arange(np.count_nonzero(shared))
        at_row = slot[part]
        # Slots never decrease (document order): as many distinct ones as rows are all.
        if len(at_row) == rows and np.all(at_row[1:] != at_row[:-1]):
            columns[col] = values.take(pa.array(index))  # a value in every row
            continue
        at = np.full(rows, -1, dtype=np.int64)
        at[at_row] = index  # a column written twice in a row: the last counts
        columns[col] = values.take(pa.array(at, mask=at < 0))
    return Block(rows, columns, size)


def _by_column(cols: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Each column of ``cols`` (in increasing order) with the positions of its cells, in
    their order: a pass per column when a sheet has few, else one stable sort."""
    if not len(cols):
        return
    used = np.flatnonzero(np.bincount(cols)) if cols.max() < 1 << 16 else np.unique(cols)
    if len(used) <= 32:
        for col in used.tolist():
            yield col, np.flatnonzero(cols == col)
        return
    by_col = np.argsort(cols, kind="stable")
    bounds = np.flatnonzero(np.diff(cols[by_col])) + 1
    for part in np.split(by_col, bounds):
        yield int(cols[part[0]]), part
