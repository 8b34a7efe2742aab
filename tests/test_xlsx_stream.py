"""The parts of the streamed XLSX reader that make it fast: ISA-L inflating a zip member
(checked as zipfile checks it), and chunks read on worker threads and handed back in
order. Real zips and real threads; the cells and strings they give must equal what the
plain paths give."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers.readers import ooxml
from matchers.readers.background import InOrder
from matchers.readers.ooxml import Budget, PartError, open_zip, stream_part
from matchers.readers.sheetfast import _plain_items, fast_strings
from matchers.readers.sheetparse import SharedStringsHandler
from matchers.readers.xmlchunks import markup_declared
from matchers.readers.xmlscan import NotCompact

needs_isal = pytest.mark.skipif(ooxml._isal_zlib is None, reason="isal not installed")


def _zip(path: Path, data: bytes, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("part.xml", data)
    return path


def _part(data_size: int = 3 << 20) -> bytes:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i * 7919)
                    for i in range(data_size // 40))
    return b"<sheetData>" + rows + os.urandom(1 << 16).hex().encode() + b"</sheetData>"


@needs_isal
def test_inflated_member_equals_zipfile(tmp_path: Path) -> None:
    data = _part()
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        path = _zip(tmp_path / f"m{method}.zip", data, method)
        with open_zip(path) as archive:
            chunks = list(stream_part(archive, "part.xml", Budget(1 << 40)))
        assert b"".join(chunks) == data
        assert max(len(c) for c in chunks) <= ooxml.READ_BYTES


def _entry(path: Path) -> zipfile.ZipInfo:
    with zipfile.ZipFile(path) as z:
        return z.getinfo("part.xml")


@needs_isal
@pytest.mark.parametrize("damage", ["crc", "short", "long", "cut"])
def test_damaged_member_is_refused(tmp_path: Path, damage: str) -> None:
    """A wrong CRC, a stream longer or shorter than the directory says, or compressed
    data cut short: the member is refused, as zipfile refuses it."""
    path = _zip(tmp_path / "m.zip", _part(1 << 20))
    info = _entry(path)
    if damage == "crc":
        info.CRC ^= 1
    elif damage == "short":
        info.file_size += 1
    elif damage == "long":
        info.file_size -= 1
    else:
        info.compress_size //= 2
    with pytest.raises(zipfile.BadZipFile):
        for _ in ooxml._inflate(path, info, Budget(1 << 40)):
            pass


@needs_isal
def test_corrupt_deflate_data_is_a_part_error(tmp_path: Path) -> None:
    path = _zip(tmp_path / "m.zip", _part(1 << 20))
    info = _entry(path)
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for at in range(start + 100, start + info.compress_size - 100, 997):
        raw[at] ^= 0x5A
    path.write_bytes(bytes(raw))
    with open_zip(path) as archive, pytest.raises(PartError):
        for _ in stream_part(archive, "part.xml", Budget(1 << 40)):
            pass


@needs_isal
def test_inflating_stops_at_the_budget(tmp_path: Path) -> None:
    path = _zip(tmp_path / "bomb.zip", b" " * (64 << 20))
    with open_zip(path) as archive, pytest.raises(PartError, match="zip bomb"):
        for _ in stream_part(archive, "part.xml", Budget(8 << 20)):
            pass


def test_in_order_hands_back_results_in_submission_order() -> None:
    def slow(i: int) -> int:
        time.sleep(0.001 * (i % 3))
        return i

    got: list[int] = []
    with InOrder[int](workers=3, window=2) as pool:
        for i in range(50):
            got.extend(pool.put(-i) if i % 7 == 0 else pool.submit(slow, i))
        got.extend(pool.drain())
    assert got == [-i if i % 7 == 0 else i for i in range(50)]


def test_in_order_raises_in_turn_after_earlier_results() -> None:
    def work(i: int) -> int:
        if i == 5:
            raise ValueError("five")
        return i

    got: list[int] = []
    with pytest.raises(ValueError, match="five"), InOrder[int](window=2) as pool:
        for i in range(10):
            got.extend(pool.submit(work, i))
        got.extend(pool.drain())
    assert got == [0, 1, 2, 3, 4]


def test_in_order_keeps_at_most_window_results_waiting() -> None:
    with InOrder[int](workers=2, window=3) as pool:
        for i in range(3):
            assert list(pool.submit(abs, i)) == []
        assert list(pool.submit(abs, 3)) == [0]
        assert list(pool.drain()) == [1, 2, 3]


def _big_sheet(rows: int) -> tuple[str, list[str]]:
    """A sheet of many chunks: numbers, dates, shared and inline strings."""
    strings = [f"<t>naam {i} \u00e9</t>" for i in range(rows)]
    body = ['<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>bsn</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>naam</t></is></c><c r="C1" t="inlineStr"><is>'
            '<t>geboortedatum</t></is></c><c r="D1" t="inlineStr"><is><t>plaats</t></is></c>'
            "</row>"]
    for r in range(2, rows + 2):
        body.append(f'<row r="{r}"><c r="A{r}"><v>{100000000 + r * 7}</v></c>'
                    f'<c r="B{r}" t="s"><v>{r - 2}</v></c><c r="C{r}" s="2"><v>{20000 + r % 9000}'
                    f'</v></c><c r="D{r}" t="inlineStr"><is><t>plaats {r % 97}</t></is></c></row>')
    body.append("</sheetData>")
    return "".join(body), strings


def test_many_chunks_read_alike_on_workers_and_by_expat(tmp_path: Path) -> None:
    """A sheet and a shared strings table of several chunks each, read by the workers,
    give the records expat gives for the same sheet (a comment up front sends the whole
    sheet to expat); a comment midway hands over to expat there, rows in order."""
    from test_xlsx import _read, raw_workbook

    from matchers.readers import open_table

    body, strings = _big_sheet(60_000)
    assert len(body) > 3 * (2 << 20)
    fast = _read(open_table(raw_workbook(tmp_path / "fast.xlsx", [("s", body)],
                                         strings=strings)))
    slow_body = body.replace("<sheetData>", "<sheetData><!-- expat -->", 1)
    slow = _read(open_table(raw_workbook(tmp_path / "slow.xlsx", [("s", slow_body)],
                                         strings=strings)))
    mid_body = body.replace('<row r="40000">', '<!-- midway --><row r="40000">', 1)
    mid = _read(open_table(raw_workbook(tmp_path / "mid.xlsx", [("s", mid_body)],
                                        strings=strings)))
    assert len(fast[0]) == 60_000
    assert fast == slow == mid
    assert fast[0][12345][1]["naam"] == "naam 12345 \u00e9"


@pytest.mark.parametrize(("chunk", "declared"), [
    (b"<row><c><v>1</v></c></row>", False),
    (b"<row><c t='s'><v>Hi!</v></c></row>", False),
    (b"<row><!-- x --></row>", True),
    (b"<row><?pi x?></row>", True),
    (b"<t><![CDATA[a]]></t>", True),
    (b"<t>why? because!</t>", False),
])  # fmt: skip
def test_markup_declared(chunk: bytes, declared: bool) -> None:
    assert markup_declared(chunk) is declared


_SST_PIECE = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")).map(escape),
    st.sampled_from([" ", "\t", "\n", "&amp;", "&lt;", "&#233;", "&#32;", "_x000D_", ">"]),
)
_SST_TEXT = st.lists(_SST_PIECE, max_size=12).map("".join)  # XML text, escaped
_SST_ITEM = st.one_of(
    _SST_TEXT.map(lambda t: f"<si><t>{t}</t></si>"),
    _SST_TEXT.map(lambda t: f'<si><t xml:space="preserve">{t}</t></si>'),
    st.just("<si><t/></si>"), st.just("<si/>"),
    _SST_TEXT.map(lambda t: f"<si><r><t>{t}</t></r><r><t>x</t></r></si>"),
)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_SST_ITEM, min_size=1, max_size=20))
def test_shared_strings_fast_paths_equal_expat(items: list[str]) -> None:
    """Both vectorised readings of a chunk of ``<si>`` items (the plain back-to-back one
    and the general one) give expat's strings."""
    chunk = "".join(items).encode()
    handler = SharedStringsHandler(1 << 20)
    handler.parser().Parse(b"<sst>" + chunk + b"</sst>", True)
    plain = all(i.startswith(("<si><t>", '<si><t xml:space="preserve">')) for i in items)
    assert (_plain_items(chunk) is not None) == plain
    try:
        values, over = fast_strings(chunk, 1 << 20)
    except NotCompact:
        assert not plain
        return
    assert values.to_pylist() == handler.values
    assert over == []


def test_plain_shared_strings_over_the_limit_read_empty() -> None:
    chunk = b"<si><t>short</t></si><si><t>far too long</t></si><si><t>ok</t></si>"
    assert _plain_items(chunk) is not None
    values, over = fast_strings(chunk, 5)
    assert values.to_pylist() == ["short", "", "ok"]
    assert over == [1]
