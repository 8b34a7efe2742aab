"""The streamed XLSX reader: read as python-calamine read the same files, in bounded
memory, and safely on hostile ones.

Differential tests compare the streamed reader with the python-calamine path of the same
reader class (``_reading = None``), the obviously-correct reference it replaced, on
workbooks written by openpyxl (inline strings) and the same converted to a shared
strings table (as Excel writes); hypothesis holds the vectorised parts equal to the
one-value-at-a-time definitions. All values are synthetic.
"""

from __future__ import annotations

import datetime
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import openpyxl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matchers.errors import UnreadableDatasetError
from matchers.readers import ReaderLimits, ooxml, open_table
from matchers.readers.cellvalues import Kind, render, render_one
from matchers.readers.ooxml import Workbook
from matchers.readers.sheetcells import SharedStrings, to_block
from matchers.readers.sheetfast import fast_cells, odd_cell_parser
from matchers.readers.sheetparse import SheetHandler
from matchers.readers.xlsx import XlsxReader
from matchers.readers.xmlscan import NotCompact

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
DATE_STYLES = ('<numFmts count="2"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
               '<numFmt numFmtId="165" formatCode="[h]:mm"/></numFmts>'
               '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/>'
               '<xf numFmtId="165"/><xf numFmtId="22"/></cellXfs>')  # fmt: skip

# ---------------------------------------------------------------------------- helpers


def raw_workbook(
    path: Path,
    sheets: list[tuple[str, str]],
    *,
    strings: list[str] | None = None,
    styles: str = DATE_STYLES,
    date1904: bool = False,
    sheet_xml: dict[int, bytes] | None = None,
    workbook_xml: str | None = None,
) -> Path:
    """A workbook from raw XML: ``sheets`` as (name, inside of ``<worksheet>``);
    ``sheet_xml`` replaces a whole sheet part by index; ``strings`` become the shared
    strings table (each one ``<si>`` element's inside)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        z.writestr("_rels/.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
                   f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        pr = '<workbookPr date1904="1"/>' if date1904 else ""
        listed = "".join(f'<sheet name="{escape(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                         for i, (n, _) in enumerate(sheets))
        z.writestr("xl/workbook.xml", workbook_xml or
                   f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}">{pr}<sheets>{listed}</sheets>'
                   "</workbook>")
        rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{RELS}/worksheet" '
                       f'Target="worksheets/sheet{i + 1}.xml"/>' for i in range(len(sheets)))
        rels += f'<Relationship Id="rS" Type="{RELS}/styles" Target="styles.xml"/>'
        z.writestr("xl/styles.xml", f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>')
        if strings is not None:
            rels += (f'<Relationship Id="rT" Type="{RELS}/sharedStrings" '
                     'Target="sharedStrings.xml"/>')
            z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">'
                       + "".join(f"<si>{s}</si>" for s in strings) + "</sst>")
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PKG}">{rels}'
                   "</Relationships>")
        for i, (_, body) in enumerate(sheets):
            data = (sheet_xml or {}).get(i)
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", data if data is not None else
                       f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'
                       f"{body}</worksheet>")
    return path


_INLINE = re.compile(rb'<c r="([A-Z]+\d+)"( s="\d+")? t="inlineStr"><is>(<t[^>]*>.*?</t>)</is></c>')


def shared_strings_version(src: Path, dst: Path) -> Path:
    """``src`` (written by openpyxl, strings inline) with every string moved to a shared
    strings table, as Excel writes it."""
    table: dict[bytes, int] = {}

    def share(match: re.Match[bytes]) -> bytes:
        index = table.setdefault(match.group(3), len(table))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (match.group(1), match.group(2) or b"",
                                                      index)

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = _INLINE.sub(share, data)
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rSST" Type="{RELS}/'
                                    'sharedStrings" Target="sharedStrings.xml"/>'
                                    "</Relationships>".encode())
            zout.writestr(info, data)
        sst = b"".join(b"<si>" + t + b"</si>" for t in table)
        zout.writestr("xl/sharedStrings.xml", b'<sst xmlns="' + MAIN.encode() + b'">' + sst
                      + b"</sst>")
    return dst


def _read(reader: XlsxReader) -> tuple[list[tuple[str | None, dict[str, str]]], dict[str, int]]:
    rows: list[tuple[str | None, dict[str, str]]] = []
    seen: dict[str | None, int] = {}
    for batch in reader.batches():
        assert batch.first_record == seen.get(batch.table, 0) + 1
        assert all(f.type == pa.string() for f in batch.data.schema)
        seen[batch.table] = seen.get(batch.table, 0) + batch.data.num_rows
        rows.extend((batch.table, {k: v for k, v in r.items() if v is not None})
                    for r in batch.data.to_pylist())
    assert reader.stats.records == len(rows)
    return rows, dict(reader.stats.skip_reasons)


def both(path: Path) -> tuple[XlsxReader, list, list]:
    """The streamed reading and calamine's reading of ``path``."""
    reader = open_table(path)
    assert isinstance(reader, XlsxReader) and reader._reading is not None
    streamed, _ = _read(reader)
    first = (reader.columns, reader.has_header, reader.table)
    reader._reading = None  # the python-calamine path of the same class
    reference, _ = _read(reader)
    assert first == (reader.columns, reader.has_header, reader.table)
    return reader, streamed, reference


def assert_like_calamine(path: Path) -> list:
    _, streamed, reference = both(path)
    assert streamed == reference
    return streamed


# ----------------------------------------------------------------- differential tests


def _export(path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Uitslagen"
    first.append(["Overzicht uitslagen"])  # a title above the header
    first.append([])
    first.append([None, datetime.date(2025, 7, 1)])
    first.append(["Kenmerk", "BSN", "Voornaam", "Achternaam", "Geboortedatum", "Bedrag", "Ok"])
    first.append(["C001", 123456782, "José", "de Vries", datetime.date(1980, 2, 1), 12.5, True])
    first.append(["C002", 11222333, "  Anna ", "Bakker & Zn <b>", datetime.datetime(  # noqa: DTZ001
        1975, 3, 12, 8, 30), -3, False])
    first.append(["C003", 111222333.0, "Piet", None, "30-11-1969", 1e20, None])
    first.append([None, None, None, None, None, None, None, "extra"])  # beyond the header
    first.append([])
    first.append(["C004", "123.456.782", "Ëlla\nvan 't Hek", "O'Brien", datetime.time(7, 5)])
    first["B10"].number_format = "@"
    first["E5"].number_format = "dd/mm/yyyy"
    second = book.create_sheet("Leeg")
    del second
    third = book.create_sheet("Sparse")
    third["C3"] = "naam"
    third["D3"] = "geboortedatum"
    third["C4"] = "Jan Jansen"
    third["E4"] = datetime.date(2001, 1, 1)
    third["D5"] = 42
    third["AB7"] = "far right"
    book.create_sheet("Zonder kop").append(["Jan", "de Vries", 19800201])
    book["Zonder kop"].append(["Piet", "Bakker", 19750312])
    book.save(path)
    return path


def test_openpyxl_export_reads_as_calamine(tmp_path: Path) -> None:
    path = _export(tmp_path / "export.xlsx")
    rows = assert_like_calamine(path)
    tables = [t for t, _ in rows]
    assert tables.count("Uitslagen") == 5 and "Leeg" not in tables
    assert rows[0] == ("Uitslagen", {"Kenmerk": "C001", "BSN": "123456782", "Voornaam": "José",
                                     "Achternaam": "de Vries", "Geboortedatum": "1980-02-01",
                                     "Bedrag": "12.5", "Ok": "true"})
    assert rows[1][1]["Geboortedatum"] == "1975-03-12 08:30:00"
    assert rows[1][1]["Voornaam"] == "  Anna " and rows[1][1]["Achternaam"] == "Bakker & Zn <b>"
    assert rows[3][1] == {"column_8": "extra"}
    shared = shared_strings_version(path, tmp_path / "excel.xlsx")
    with zipfile.ZipFile(shared) as z:
        assert b't="s"' in z.read("xl/worksheets/sheet1.xml")
    assert assert_like_calamine(shared) == rows


def test_raw_forms_read_as_calamine(tmp_path: Path) -> None:
    """Every form a writer may use for a cell, and every value type. (An error value in
    the leftmost column would differ: calamine counts it as used, with no text.)"""
    strings = ["<t>s0</t>", '<r><t>ri</t></r><r><rPr><b/></rPr><t xml:space="preserve">ch '
               '</t></r><rPh sb="0" eb="1"><t>PH</t></rPh>', "<t>_x000D_x_x005F_x000D_&#65;</t>",
               "", "<t>\n  multi\n  line  \n</t>", '<t xml:space="preserve"> kept </t>']
    cells = (
        '<c r="A1"><v>-12.5</v></c><c r="B1" t="str"><v> a&amp;b </v></c>'
        '<c r="C1" t="d"><v>2020-01-02T03:04:05</v></c><c r="D1" t="b"><v>0</v></c>'
        '<c r="E1"><v> 5 </v></c><c r="F1" t="s"><v>0</v></c><c r="G1" t="s"><v>1</v></c>'
        '<c r="H1" t="s"><v>2</v></c><c r="I1" t="s"><v>3</v></c><c r="J1" t="s"><v>4</v></c>'
        '<c r="K1"><f>1+1</f><v>2</v></c><c r="L1" t="inlineStr"><v>zz</v><is><t>inl</t></is></c>'
        '<c r="M1" t="b"><v>true</v></c><c r="N1" t="inlineStr"><is><t> in </t></is></c>'
        '<c r="O1"><v>1e3</v></c><c r="P1"><v>+7</v></c><c r="Q1"><v>007</v></c>'
        '<c r="R1"><v>.5</v></c><c r="S1"><v>-0</v></c><c r="T1"><v>123456789012345678</v></c>'
        '<c r="U1" s="3"><v>1.25</v></c><c r="V1" s="1"><v>-0.25</v></c>'
        '<c r="W1" s="1"><v>45000.0000001</v></c><c r="X1" s="2"><v>60</v></c>'
        '<c r="Y1" s="2"><v>59</v></c><c r="Z1" s="4"><v>45000.5</v></c>'
        '<c r="AA1" s="9"><v>45000</v></c><c r="AB1" s="1" t="s"><v>5</v></c>'
        '<c r="AC1" t="str"><f>x</f><v>q</v></c><c r="AD1"><f t="shared" si="0"/><v>3</v></c>'
        '<c r="AE1"><f>A1</f></c><c r="AF1"/><c r="AG1" t="inlineStr"/><c r="AH1"><v/></c>'
        '<c r="AI1" t="inlineStr"><is><r><t>a</t></r><t>b</t></is></c><c r="AJ1"><v>0x10</v></c>'
        '<c r="AK1" s="2"><v>2958466</v></c><c r="AL1" t="d"><v>03:04:05</v></c>'
        '<c r="AM1" t="str"><v>a\r\nb</v></c><c r="AN1"><v>Infinity</v></c>'
        '<c r="AO1" t="e"><v>#DIV/0!</v></c>'
    )
    body = f"<sheetData><row r=\"1\">{cells}</row></sheetData>"
    path = raw_workbook(tmp_path / "forms.xlsx", [("t", body)], strings=strings)
    rows = assert_like_calamine(path)
    assert rows[0][1]["column_2"] == " a&b " and rows[0][1]["column_7"] == "rich "


@pytest.mark.parametrize("date1904", [False, True])
def test_dates_read_as_calamine(tmp_path: Path, date1904: bool) -> None:
    serials = ["0", "0.75", "1", "59", "60", "61", "1462", "45000", "45000.25", "2958465",
               "45000.999999999", "-1.5", "100000.123456"]
    cells = "".join(f'<c r="{chr(65 + i // 26) if i >= 26 else ""}{chr(65 + i % 26)}1" '
                    f's="{1 + i % 2}"><v>{v}</v></c>' for i, v in enumerate(serials))
    path = raw_workbook(tmp_path / "dates.xlsx", [("d", f"<sheetData><row>{cells}</row>"
                                                      "</sheetData>")], date1904=date1904)
    assert_like_calamine(path)


def test_missing_references_follow_the_previous_cell(tmp_path: Path) -> None:
    body = ('<sheetData><row><c><v>1</v></c><c t="inlineStr"><is><t>a</t></is></c>'
            '<c r="E1"><v>3</v></c><c><v>4</v></c></row><row><c><v>5</v></c></row>'
            '<row r="7"><c s="0"><v>6</v></c></row></sheetData>')
    rows = assert_like_calamine(raw_workbook(tmp_path / "nor.xlsx", [("n", body)]))
    assert rows[0][1] == {"column_1": "1", "column_2": "a", "column_5": "3", "column_6": "4"}


_TEXT = st.lists(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn"))
    | st.sampled_from(["&", "<", ">", '"', "'", " ", "\n", "_x000D_", "é", "&amp;"]), max_size=8,
).map("".join).filter(lambda t: not t.startswith("="))  # openpyxl would write a formula
_VALUE = st.one_of(
    st.none(), _TEXT, st.integers(-10**12, 10**12), st.floats(allow_nan=False,
                                                              allow_infinity=False, width=64),
    st.booleans(), st.dates(datetime.date(1900, 3, 1), datetime.date(9999, 12, 31)),
    st.datetimes(datetime.datetime(1900, 3, 1), datetime.datetime(9999, 12, 31)),  # noqa: DTZ001
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(sheets=st.lists(st.lists(st.lists(_VALUE, max_size=8), max_size=12), min_size=1,
                       max_size=3), shared=st.booleans(), skip=st.integers(0, 3))
def test_random_workbooks_read_as_calamine(tmp_path: Path, sheets: list, shared: bool,
                                           skip: int) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for n, rows in enumerate(sheets):
        sheet = book.create_sheet(f"s{n}")
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                if value is not None and value != "":
                    sheet.cell(row=r + 1, column=c + 1 + skip, value=value)
    path = tmp_path / "random.xlsx"
    book.save(path)
    if shared:
        path = shared_strings_version(path, tmp_path / "random-sst.xlsx")
    try:
        _, streamed, reference = both(path)
    except UnreadableDatasetError:
        with pytest.raises(UnreadableDatasetError):
            XlsxReader(path)._reading = None
        return
    # The one documented difference: columns count from the leftmost column used in a
    # sheet's first rows, calamine from the leftmost in the whole sheet.
    for rows in sheets:
        used = [[c for c, v in enumerate(r) if v is not None and v != ""] for r in rows]
        used = [u for u in used if u]
        assume(not used or min(min(u) for u in used[:30]) == min(min(u) for u in used))
    assert streamed == reference


# ------------------------------------------------------ vectorised == one at a time

_RAW = st.one_of(
    st.from_regex(r"-?[0-9]{1,17}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
    st.text(alphabet="0123456789.-+eE &#;x_ \r\nabcAF", max_size=10),
    st.sampled_from(["", "0", "007", "1", "true", "false", "2020-01-02", "2020-01-02T03:04:05",
                     "&amp;", "&#65;", "_x0041_", " a ", "inf", "NaN", "2958465", "60"]),
)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.tuples(st.sampled_from([k for k in Kind if k not in (
    Kind.SHARED, Kind.LITERAL)]), _RAW), max_size=30), date1904=st.booleans())
def test_vectorised_rendering_equals_one_at_a_time(cells: list, date1904: bool) -> None:
    expected = []
    for kind, raw in cells:
        try:
            expected.append(render_one(kind, raw, date1904))
        except ValueError:
            return  # an undefined entity: both must raise (checked below)
    kinds = np.array([k for k, _ in cells], dtype=np.int8)
    done, _ = render(kinds, pa.array([r for _, r in cells], pa.string()), date1904)
    assert [v or "" for v in done.to_pylist()] == expected


_CELL_FORMS = st.sampled_from(["v", "vs", "is", "keep", "f", "fself", "empty", "self", "vnull",
                               "rich", "nor", "ws", "fnone"])


def _cell_xml(form: str, col: int, row: int, value: str) -> str:
    ref = f"{chr(65 + col // 26 - 1) if col >= 26 else ''}{chr(65 + col % 26)}{row}"
    text = escape(value)
    return {
        "v": f'<c r="{ref}"><v>{text}</v></c>',
        "vs": f'<c r="{ref}" s="1" t="n"><v>{text}</v></c>',
        "is": f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>',
        "keep": f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>',
        "f": f'<c r="{ref}" t="str"><f>A1&amp;"x"</f><v>{text}</v></c>',
        "fself": f'<c r="{ref}"><f t="shared" si="3"/><v>{text}</v></c>',
        "fnone": f'<c r="{ref}"><f>1+1</f></c>',
        "empty": f'<c r="{ref}" s="2"></c>',
        "self": f'<c r="{ref}" s="2"/>',
        "vnull": f'<c r="{ref}"><v/></c>',
        "rich": f'<c r="{ref}" t="inlineStr"><is><r><t>{text}</t></r><r><rPr><b/></rPr>'
                f"<t>!</t></r></is></c>",
        "nor": f'<c t="str"><v>{text}</v></c>',
        "ws": f'<c r="{ref}">\n  <v>{text}</v>\n</c>',
    }[form]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(st.tuples(_CELL_FORMS, st.integers(0, 40), _TEXT), max_size=6),
                     max_size=8))
def test_fast_path_reads_rows_as_expat_does(rows: list) -> None:
    """The vectorised reading of a chunk gives the rows expat gives; it hands a chunk to
    expat only for a form that is not compact (no ``r``, whitespace between tags)."""
    xml = "".join(
        f'<row r="{r + 1}">' + "".join(_cell_xml(f, c, r + 1, v) for f, c, v in sorted(
            cells, key=lambda x: x[1])) + "</row>" for r, cells in enumerate(rows))
    chunk = xml.encode()
    book = Workbook(Path("x"), [], None, [Kind.NUMBER, Kind.DATE, Kind.NUMBER])
    strings = SharedStrings.empty()
    handler = SheetHandler(book.kind_of, 1 << 20)
    handler.parser().Parse(b"<sheetData>" + chunk + b"</sheetData>", True)
    expected = to_block(handler.take(), strings, date1904=False, max_record_bytes=1 << 20)
    compact = not any(f in ("nor", "ws") for cells in rows for f, _, _ in cells)
    try:
        cells = fast_cells(chunk, book.kind_of, odd_cell_parser(book.kind_of, 1 << 20))
    except NotCompact:
        assert not compact
        return
    got = to_block(cells, strings, date1904=False, max_record_bytes=1 << 20)
    assert [b.texts() for b in got] == [b.texts() for b in expected]


# ------------------------------------------------------------------- hostile files


def _sheet(rows: int = 3) -> str:
    return "<sheetData>" + "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>naam{r}</t></is></c>'
        f'<c r="B{r}"><v>{100 + r}</v></c></row>' for r in range(1, rows + 1)) + "</sheetData>"


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')


def test_billion_laughs_in_a_sheet_is_refused(tmp_path: Path) -> None:
    bad = (LAUGHS + f'<worksheet xmlns="{MAIN}"><sheetData><row><c t="inlineStr"><is><t>'
           "&lol3;</t></is></c></row></sheetData></worksheet>").encode()
    path = raw_workbook(tmp_path / "lol.xlsx", [("good", _sheet()), ("bad", "")],
                        sheet_xml={1: bad})
    reader = open_table(path)
    rows, skipped = _read(reader)
    assert len(rows) == 3 and skipped == {"sheet declares a DTD (refused)": 1}


@pytest.mark.parametrize("part", ["workbook", "strings"])
def test_dtd_in_workbook_parts_is_refused(tmp_path: Path, part: str) -> None:
    external = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    if part == "workbook":
        path = raw_workbook(tmp_path / "dtd.xlsx", [("s", _sheet())], workbook_xml=(
            f'{external}<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>'))
    else:
        path = raw_workbook(tmp_path / "dtd.xlsx", [("s", _sheet())], strings=["<t>a</t>"])
        path = _replace_member(path, "xl/sharedStrings.xml", (
            f'{external}<sst xmlns="{MAIN}"><si><t>&e;</t></si></sst>').encode())
    with pytest.raises(UnreadableDatasetError, match=r"dtd\.xlsx: not a workbook we can read "
                                                     r"\(.*DTD \(refused\)\)"):
        open_table(path)


def _replace_member(path: Path, name: str, data: bytes) -> Path:
    """``path`` with the member ``name`` holding ``data`` instead (same file name)."""
    out = path.with_name("new-" + path.name)
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            z.writestr(info, data if info.filename == name else zin.read(info))
    return out.replace(path)


def test_truncated_workbook(tmp_path: Path) -> None:
    body = "<sheetData>" + "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="inlineStr"><is><t>{r * 7919}'
        f"</t></is></c></row>" for r in range(1, 60_000)) + "</sheetData>"
    path = raw_workbook(tmp_path / "full.xlsx", [("s", body)])
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 200):
        cut_path = tmp_path / f"cut{cut}.xlsx"
        cut_path.write_bytes(data[:cut])
        try:
            reader = open_table(cut_path)
        except UnreadableDatasetError as exc:
            assert f"cut{cut}.xlsx" in str(exc)
            continue
        _, skipped = _read(reader)
        assert skipped


def test_sheet_cut_short_keeps_what_was_read(tmp_path: Path) -> None:
    full = _sheet(5000).encode()
    bad = (f'<worksheet xmlns="{MAIN}">').encode() + full[: len(full) // 2]
    path = raw_workbook(tmp_path / "half.xlsx", [("s", "")], sheet_xml={0: bad})
    rows, skipped = _read(open_table(path))
    assert 2000 < len(rows) < 2600
    assert list(skipped) == ["rest of sheet unreadable: XML part ends early (truncated?)"]


def test_huge_shared_string_skips_its_rows(tmp_path: Path) -> None:
    big = "x" * 5000
    body = ('<sheetData><row><c t="inlineStr"><is><t>naam</t></is></c><c t="inlineStr"><is><t>'
            'bsn</t></is></c></row><row><c t="s"><v>0</v></c><c><v>1</v></c></row>'
            '<row><c t="s"><v>1</v></c><c><v>2</v></c></row>'
            '<row><c t="s"><v>0</v></c><c t="s"><v>0</v></c></row></sheetData>')
    path = raw_workbook(tmp_path / "big.xlsx", [("s", body)], strings=[f"<t>{big}</t>",
                                                                       "<t>Jan</t>"])
    reader = open_table(path, limits=ReaderLimits(max_record_bytes=4096))
    rows, skipped = _read(reader)
    assert [r for _, r in rows] == [{"naam": "Jan", "bsn": "2"}]
    assert skipped == {"record too long": 2}


def test_one_string_in_many_cells_is_not_materialised_at_once(tmp_path: Path) -> None:
    """A 1 MB shared string referenced by 1,000 cells (1 GB of text) reads in bounded
    memory: each row is under the limit, and blocks are cut by their text size."""
    body = "<sheetData>" + "".join(f'<row><c t="s"><v>0</v></c><c><v>{r}</v></c></row>'
                                   for r in range(1000)) + "</sheetData>"
    path = raw_workbook(tmp_path / "amp.xlsx", [("s", body)], strings=["<t>" + "y" * (1 << 20)
                                                                       + "</t>"])
    reader = open_table(path, limits=ReaderLimits(max_record_bytes=2 << 20))
    peak = rows = 0
    for batch in reader.batches():
        rows += batch.data.num_rows
        peak = max(peak, pa.total_allocated_bytes())
    assert rows == 1000 and peak < 200 << 20


def test_zip_bomb_sheet_stops_at_the_expansion_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ooxml, "RATIO_ALLOWANCE", 1 << 20)
    rows = _sheet(5).removesuffix("</sheetData>")
    bomb = (f'<worksheet xmlns="{MAIN}">{rows}'.encode() + b" " * (64 << 20)
            + b"</sheetData></worksheet>")
    path = raw_workbook(tmp_path / "bomb.xlsx", [("s", "")], sheet_xml={0: bomb})
    assert path.stat().st_size < 200_000
    got, skipped = _read(open_table(path))
    assert got == _read(open_table(raw_workbook(tmp_path / "plain.xlsx", [("s", _sheet(5))])))[0]
    assert skipped == {"rest of sheet unreadable: workbook expands beyond the size limit "
                       "(zip bomb?)": 1}


def test_zip_with_a_huge_directory_is_not_opened(tmp_path: Path) -> None:
    path = raw_workbook(tmp_path / "many.xlsx", [("s", _sheet())])
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (0xFFFE).to_bytes(2, "little") * 2  # entries claimed
    data[end + 12 : end + 16] = (1 << 30).to_bytes(4, "little")  # directory bytes claimed
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableDatasetError, match=r"many\.xlsx: not a table"):
        open_table(path)


def test_xml_forms_the_fast_path_hands_to_expat(tmp_path: Path) -> None:
    """Comments, CDATA, a prefixed namespace, pretty-printing and UTF-16: same records."""
    plain = raw_workbook(tmp_path / "plain.xlsx", [("s", _sheet(50))])
    expected, _ = _read(open_table(plain))
    xml = f'<worksheet xmlns="{MAIN}">{_sheet(50)}</worksheet>'
    variants = {
        "comment": xml.replace('<row r="20">', '<!-- <row r="99"> --><row r="20">'),
        "cdata": xml.replace("<t>naam30</t>", "<t><![CDATA[naam30]]></t>"),
        "prefix": re.sub(r"<(/?)(\w)", r"<\1x:\2", xml).replace(
            f'<x:worksheet xmlns="{MAIN}">', f'<x:worksheet xmlns:x="{MAIN}">'),
        "pretty": xml.replace("<row", "\n  <row").replace("<c ", "\n    <c "),
        "pi": xml.replace('<row r="40">', '<?keep going?><row r="40">'),
    }
    for name, text in variants.items():
        path = raw_workbook(tmp_path / f"{name}.xlsx", [("s", "")], sheet_xml={0: text.encode()})
        assert _read(open_table(path))[0] == expected, name
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>' + xml).encode("utf-16")
    path = raw_workbook(tmp_path / "utf16.xlsx", [("s", "")], sheet_xml={0: utf16})
    assert _read(open_table(path))[0] == expected


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=0, max_size=4)),
                      min_size=1, max_size=6))
def test_damaged_sheet_xml_never_raises_foreign_errors(tmp_path: Path, edits: list) -> None:
    xml = bytearray(f'<worksheet xmlns="{MAIN}">{_sheet(40)}</worksheet>'.encode())
    for at, data in edits:
        at %= len(xml)
        xml[at : at + len(data)] = data
    path = raw_workbook(tmp_path / "damaged.xlsx", [("s", "")], sheet_xml={0: bytes(xml)},
                        strings=["<t>a</t>"])
    try:
        reader = open_table(path)
    except UnreadableDatasetError:
        return
    _read(reader)


@pytest.mark.slow
def test_streaming_holds_a_few_blocks_not_the_sheet(tmp_path: Path) -> None:
    rows = 100_000
    filler = "lange naam " * 36
    body = "<sheetData>" + "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>persoon {r:08d} {filler}</t></is></c>'
        f'<c r="B{r}"><v>{r}</v></c></row>' for r in range(1, rows + 1)) + "</sheetData>"
    path = raw_workbook(tmp_path / "long.xlsx", [("s", body)])
    reader = open_table(path)
    base = pa.total_allocated_bytes()
    peak = total = 0
    for batch in reader.batches():
        total += batch.data.nbytes
        peak = max(peak, pa.total_allocated_bytes() - base)
    assert total > 40_000_000 and peak < 24_000_000
