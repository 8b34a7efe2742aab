"""Table readers on real files: formats, encodings, broken input, streaming.

All values are synthetic (made-up names, BSNs that pass the 11-proof by construction).
"""

from __future__ import annotations

import json
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchers.errors import CohortwatchError, UnreadableDatasetError
from matchers.readers import (
    DelimitedReader,
    JsonArrayReader,
    JsonLinesReader,
    ReaderLimits,
    TableReader,
    XlsxReader,
    open_table,
)
from matchers.readers.sniff import detect_encoding, looks_like_header, sniff_dialect

HEADER = ["ref", "bsn", "voornaam", "achternaam", "geboortedatum"]
ROWS = [
    ["C001", "123456782", "José", "de Vries", "1980-02-01"],
    ["C002", "111222333", "Anna", "Bakker", "12-03-1975"],
    ["C003", "", "Piet", "van der Berg", "1969-11-30"],
]


def _rows(reader: TableReader) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for batch in reader.batches():
        assert batch.first_record == len(out) + 1
        assert all(field.type == pa.string() for field in batch.data.schema)
        out.extend(batch.data.to_pylist())
    assert reader.stats.records == len(out)
    return out


def _write(
    path: Path,
    lines: list[list[str]],
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    text = newline.join(delimiter.join(cells) for cells in lines) + newline
    path.write_bytes(text.encode(encoding))
    return path


# ---- delimited text ----------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_found(tmp_path: Path, delimiter: str) -> None:
    path = _write(tmp_path / "people.txt", [HEADER, *ROWS], delimiter)
    reader = open_table(path)
    assert isinstance(reader, DelimitedReader)
    assert reader.format == "csv"
    assert reader.delimiter == delimiter
    assert reader.has_header and reader.columns == HEADER
    rows = _rows(reader)
    assert [r["achternaam"] for r in rows] == ["de Vries", "Bakker", "van der Berg"]
    assert rows[2]["bsn"] is None  # an empty cell is null


def test_semicolon_wins_over_decimal_commas(tmp_path: Path) -> None:
    lines = [["naam", "bedrag"], *[[f"Naam{i}", f"{i},50"] for i in range(20)]]
    reader = open_table(_write(tmp_path / "t.csv", lines, ";"))
    assert reader.delimiter == ";" and reader.columns == ["naam", "bedrag"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path / "e.csv", [HEADER, *ROWS], ";", encoding)
    reader = open_table(path)
    assert reader.columns[0] == "ref"  # no BOM left in the first column name
    assert _rows(reader)[0]["voornaam"] == "José"


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.csv", [HEADER, *ROWS], "\t", "utf-16")
    reader = open_table(path)
    assert reader.columns == HEADER
    assert _rows(reader)[0]["voornaam"] == "José"


def test_mixed_encodings_decode_line_by_line(tmp_path: Path) -> None:
    lines = ["naam,plaats", "José,Zeeland", "Renée,Brabant"]
    data = (lines[0] + "\n" + lines[1] + "\n").encode() + (lines[2] + "\n").encode("cp1252")
    data += ("Zoë,Limburg\n" * 3).encode()
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    assert detect_encoding(data).name == "mixed"
    names = [r["naam"] for r in _rows(open_table(path))]
    assert names == ["José", "Renée", "Zoë", "Zoë", "Zoë"]


def test_cp1252_bytes_far_into_a_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    body = b"ref,naam\n" + b"".join(b"R%06d,Jansen\n" % i for i in range(30000))
    path.write_bytes(body + b"R999999,Ren\xe9e\n")  # past the sniffed head
    rows = _rows(open_table(path))
    assert len(rows) == 30001 and rows[-1]["naam"] == "Renée"


def test_no_header(tmp_path: Path) -> None:
    reader = open_table(_write(tmp_path / "n.csv", ROWS))
    assert not reader.has_header
    assert reader.columns == [f"column_{i}" for i in range(1, 6)]
    rows = _rows(reader)
    assert len(rows) == 3 and rows[0]["column_1"] == "C001"


def test_header_only_file_has_columns_and_no_records(tmp_path: Path) -> None:
    reader = open_table(_write(tmp_path / "h.csv", [HEADER]))
    assert reader.columns == HEADER and _rows(reader) == []
    assert reader.sample().num_rows == 0


def test_duplicate_and_blank_header_cells_get_unique_names(tmp_path: Path) -> None:
    reader = open_table(_write(tmp_path / "d.csv", [["naam", "", "naam"], ["A", "B", "C"]]))
    assert reader.columns == ["naam", "column_2", "naam_2"]


def test_ragged_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    lines = [HEADER, ROWS[0], ["C009", "x"], ROWS[1], [*ROWS[2], "extra", "more"], ROWS[2]]
    reader = open_table(_write(tmp_path / "r.csv", lines))
    rows = _rows(reader)
    assert [r["ref"] for r in rows] == ["C001", "C002", "C003"]
    assert reader.stats.skipped == 2
    assert reader.stats.skip_reasons == {"ragged row": 2}


def test_quoted_delimiters_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "ref,naam,opmerking\n"
        'C1,"Vries, Jan de","regel een\nregel twee"\n'
        'C2,"Bakker, Anna","zei ""ja"""\n',
        encoding="utf-8",
    )
    reader = open_table(path)
    rows = _rows(reader)
    assert rows[0] == {"ref": "C1", "naam": "Vries, Jan de", "opmerking": "regel een\nregel twee"}
    assert rows[1]["opmerking"] == 'zei "ja"'


def test_quoted_newline_on_a_block_boundary(tmp_path: Path) -> None:
    # Every row holds a quoted newline, none in the sniffed head; the first row is sized
    # so that pyarrow's 2 MiB block ends between a quoted newline and its row's end.
    path = tmp_path / "blocks.csv"
    rows = 150_000
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("ref,opm\n" + "R0," + "x" * 15 + "\n")
        out.writelines(f'R{i:06d},"a\nb"\n' for i in range(1, rows))
    reader = DelimitedReader(path)
    assert reader._block_size() == 2 << 20  # the arithmetic above assumes it
    got = _rows(reader)
    assert len(got) == rows and got[-1] == {"ref": f"R{rows - 1:06d}", "opm": "a\nb"}
    assert reader.stats.skipped == 0


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_line_ends(tmp_path: Path, newline: str) -> None:
    reader = open_table(_write(tmp_path / "w.csv", [HEADER, *ROWS], ";", newline=newline))
    rows = _rows(reader)
    assert len(rows) == 3 and rows[2]["geboortedatum"] == "1969-11-30"


def test_a_50mb_line_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    with path.open("wb") as out:
        out.write(b"ref,naam\nC1,Jansen\n")
        out.write(b"C2," + b"x" * (50 << 20) + b"\n")
        out.write(b"C3,Bakker\n")
    started = time.monotonic()
    reader = open_table(path)
    rows = _rows(reader)
    assert [r["ref"] for r in rows] == ["C1", "C3"]
    assert reader.stats.skip_reasons == {"record too long": 1}
    assert time.monotonic() - started < 5


def test_a_file_that_is_one_50mb_line_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "oneline.csv"
    path.write_bytes(b"Jansen," * ((50 << 20) // 7))
    with pytest.raises(UnreadableDatasetError, match=r"oneline\.csv: .*first line is longer"):
        open_table(path)


def test_unclosed_quote_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    # The quoted newline in the head makes the reader honour quotes across lines; the quote
    # opened later never closes, so that record runs past any block.
    with path.open("w", encoding="utf-8") as out:
        out.write('ref,naam\nC0,"a\nb"\n' + "C1,Jansen\n" * 100 + 'C2,"Bakker\n')
        out.write("C3,x\n" * 6_000_000)
    reader = open_table(path, limits=ReaderLimits(max_record_bytes=1024))
    with pytest.raises(UnreadableDatasetError, match=r"quote\.csv: cannot be read past record 101"):
        _rows(reader)


def test_unclosed_quote_near_the_end_is_one_over_long_record(tmp_path: Path) -> None:
    path = tmp_path / "tail.csv"
    path.write_text('ref,naam\nC0,"a\nb"\nC1,Jansen\nC2,"Bakker\n' + "C3,x\n" * 500, "utf-8")
    reader = open_table(path, limits=ReaderLimits(max_record_bytes=1024))
    assert [r["ref"] for r in _rows(reader)] == ["C0", "C1"]
    assert reader.stats.skip_reasons == {"record too long": 1}


def test_large_file_streams_in_consecutive_batches(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("ref,bsn,naam,geboortedatum\n")
        out.writelines(f"R{i:06d},123456782,Jan Jansen,1980-01-01\n" for i in range(200_000))
    reader = open_table(path)
    firsts, total = [], 0
    for batch in reader.batches():
        assert batch.data.num_rows <= ReaderLimits().batch_rows
        assert batch.data.column("ref")[0].as_py() == f"R{batch.first_record - 1:06d}"
        firsts.append(batch.first_record)
        total += batch.data.num_rows
    assert len(firsts) >= 4 and firsts[0] == 1 and total == 200_000


def test_each_pass_numbers_records_from_one(tmp_path: Path) -> None:
    for path in (
        _write(tmp_path / "p.csv", [HEADER, *ROWS, ["bad"]]),
        _write(tmp_path / "p.json", [[json.dumps([{"a": "1"}, {"a": "2"}, 3])]]),
    ):
        reader = open_table(path)
        first, second = _rows(reader), _rows(reader)
        assert first == second and reader.stats.skipped == 1


def test_sample_is_cheap_repeatable_and_leaves_stats_alone(tmp_path: Path) -> None:
    lines = [HEADER, *[[f"C{i}", "123456782", "Jan", "Jansen", "1980-01-01"] for i in range(50)]]
    reader = open_table(_write(tmp_path / "s.csv", [*lines, ["bad"]]))
    first = reader.sample(10)
    assert first.num_rows == 10 and first.schema.names == HEADER
    assert reader.sample(10).equals(first)
    assert reader.sample().num_rows == 50
    assert reader.stats.records == 0 and reader.stats.skipped == 0


# ---- JSON --------------------------------------------------------------------------------


def test_json_array_with_nested_objects(tmp_path: Path) -> None:
    records = [
        {"id": 1, "persoon": {"naam": "Jan Jansen", "bsn": 123456782}, "tags": ["a", "b"]},
        {"id": 2, "persoon": {"naam": "Anna Bakker", "geboren": None}, "actief": True},
    ]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    reader = open_table(path)
    assert isinstance(reader, JsonArrayReader) and reader.format == "json"
    assert reader.columns == [
        "id",
        "persoon.naam",
        "persoon.bsn",
        "tags",
        "persoon.geboren",
        "actief",
    ]
    rows = _rows(reader)
    assert rows[0]["persoon.bsn"] == "123456782" and rows[0]["tags"] == "a b"
    assert rows[1]["persoon.geboren"] is None and rows[1]["actief"] == "true"


def test_json_array_skips_a_malformed_element_and_resyncs(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"n": "A"}, {"n": "B", oops}, {"n": "C"},\n {"n": "D"}]', encoding="utf-8")
    reader = open_table(path)
    assert [r["n"] for r in _rows(reader)] == ["A", "C", "D"]
    assert reader.stats.skip_reasons == {"malformed JSON element": 1}


def test_truncated_json_array_gives_what_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('[{"n": "A"}, {"n": "B"}, {"n": "C", "x": [1, 2', encoding="utf-8")
    reader = open_table(path)
    assert [r["n"] for r in _rows(reader)] == ["A", "B"]
    assert reader.stats.skipped == 1


def test_json_array_streams_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        out.write(",\n".join(json.dumps({"ref": f"R{i}", "naam": "x" * 300}) for i in range(12000)))
        out.write("]")
    rows = _rows(JsonArrayReader(path, limits=ReaderLimits(batch_rows=5000)))
    assert len(rows) == 12000 and rows[-1]["ref"] == "R11999"


def test_json_batches_may_gain_columns(tmp_path: Path) -> None:
    records = [{"ref": f"R{i}"} for i in range(1500)]
    records[1200]["extra"] = "x"
    path = tmp_path / "grow.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    reader = open_table(path, limits=ReaderLimits(batch_rows=500))
    assert reader.columns == ["ref"]
    schemas = [b.data.schema.names for b in reader.batches()]
    assert schemas == [["ref"], ["ref"], ["ref", "extra"]]


def test_json_array_of_arrays_with_header(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([HEADER, *ROWS]), encoding="utf-8")
    reader = open_table(path)
    assert reader.has_header and reader.columns == HEADER
    assert _rows(reader)[1]["achternaam"] == "Bakker"


def test_json_lines_with_a_broken_line(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text(
        '{"naam": "Jan", "adres": {"postcode": "1234 AB"}}\n'
        '{"naam": "Anna"\n'
        "\n"
        '{"naam": "Piet", "bsn": "111222333"}\n'
        "42\n",
        encoding="utf-8",
    )
    reader = open_table(path)
    assert isinstance(reader, JsonLinesReader) and reader.format == "jsonl"
    assert reader.columns == ["naam", "adres.postcode", "bsn"]
    assert [r["naam"] for r in _rows(reader)] == ["Jan", "Piet"]
    assert reader.stats.skip_reasons == {"malformed JSON line": 1, "not a record": 1}


def test_json_lines_of_arrays(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [HEADER, *ROWS]) + "\n", encoding="utf-8")
    reader = open_table(path)
    assert reader.format == "jsonl" and reader.columns == HEADER
    assert [r["ref"] for r in _rows(reader)] == ["C001", "C002", "C003"]


def test_json_lines_over_long_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text('{"a": "1"}\n{"a": "' + "x" * 5000 + '"}\n{"a": "3"}\n', encoding="utf-8")
    reader = open_table(path, limits=ReaderLimits(max_record_bytes=1024))
    assert [r["a"] for r in _rows(reader)] == ["1", "3"]
    assert reader.stats.skip_reasons == {"record too long": 1}


def test_json_content_wins_over_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(json.dumps([{"naam": "Jan", "bsn": "123456782"}]), encoding="utf-8-sig")
    reader = open_table(path)
    assert reader.format == "json" and _rows(reader)[0]["naam"] == "Jan"


def test_bracketed_csv_header_is_not_json(tmp_path: Path) -> None:
    reader = open_table(_write(tmp_path / "sql.csv", [["[ref]", "[naam]"], ["C1", "Jan"]]))
    assert reader.format == "csv" and reader.columns == ["[ref]", "[naam]"]


def test_single_json_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"records": [{"naam": "Jan"}]}, indent=2), encoding="utf-8")
    with pytest.raises(UnreadableDatasetError, match="single JSON document"):
        open_table(path)


# ---- XLSX --------------------------------------------------------------------------------


def test_xlsx_first_sheet_with_header(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([])  # a blank first row is not the header
    sheet.append(["Kenmerk", "BSN", "Voornaam", "Achternaam", "Geboortedatum"])
    sheet.append(["C001", 123456782, "José", "de Vries", datetime(1980, 2, 1)])  # noqa: DTZ001
    sheet.append(["C002", 11222333, "Anna", "Bakker", date(1975, 3, 12)])
    sheet.append(["C003", 111222333.0, "Piet", None, "30-11-1969"])
    path = tmp_path / "cohort.data"  # the name says nothing; the content does
    workbook.save(path)
    reader = open_table(path)
    assert isinstance(reader, XlsxReader) and reader.format == "xlsx"
    assert reader.columns == ["Kenmerk", "BSN", "Voornaam", "Achternaam", "Geboortedatum"]
    rows = _rows(reader)
    assert [r["BSN"] for r in rows] == ["123456782", "11222333", "111222333"]
    assert rows[0]["Geboortedatum"] == "1980-02-01" and rows[1]["Geboortedatum"] == "1975-03-12"
    assert rows[2]["Achternaam"] is None and rows[0]["Voornaam"] == "José"


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "leak.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("people.csv", "naam\nJan\n")
    with pytest.raises(UnreadableDatasetError, match=r"leak\.xlsx: not a table .*zip archive"):
        open_table(path)


def test_broken_workbook(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not-xml")
    with pytest.raises(UnreadableDatasetError, match=r"broken\.xlsx"):
        _rows(open_table(path))


# ---- not tables --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty file"),
        (b"  \n\n ", "empty file"),
        (bytes(range(256)) * 64, "binary data"),
        (b"\x1f\x8b\x08\x00" + bytes(500), "gzip"),
        (b"%PDF-1.7\n" + bytes(500), "PDF"),
    ],
)
def test_not_a_table(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "thing.csv"
    path.write_bytes(content)
    with pytest.raises(UnreadableDatasetError, match=rf"thing\.csv: not a table .*{why}"):
        open_table(path)


def test_missing_file_or_folder(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDatasetError, match=r"gone\.csv: cannot be read"):
        open_table(tmp_path / "gone.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(UnreadableDatasetError, match=r"dir\.csv: cannot be read"):
        open_table(tmp_path / "dir.csv")


def test_messages_carry_no_values(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"Jansen123456782" * 100_000)
    with pytest.raises(UnreadableDatasetError) as info:
        open_table(path, display_name="inner/x.csv", limits=ReaderLimits(max_record_bytes=1024))
    assert "Jansen" not in str(info.value) and "inner/x.csv" in str(info.value)


# ---- sniffing ----------------------------------------------------------------------------


def test_sniff_ignores_delimiters_inside_quotes() -> None:
    text = 'naam;plaats\n"Vries, Jan de";Ede\n"Bakker, A.";Delft\n'
    dialect = sniff_dialect(text, complete=True)
    assert dialect.delimiter == ";" and dialect.columns == 2


@pytest.mark.parametrize(
    ("first", "rest", "expected"),
    [
        (["ref", "bsn", "naam"], [["C1", "123456782", "Jan"]], True),
        (["Kenmerk", "Opmerking"], [["C1", "geen"]], True),  # known words
        (["foo", "bar"], [["1", "2022-01-01"], ["2", "2022-01-02"]], True),  # letters over digits
        (["C1", "123456782", "Jan"], [["C2", "111222333", "Piet"]], False),
        (["Jan", "de Vries"], [["Anna", "Bakker"]], False),  # names over names: data
        (["", ""], [["a", "b"]], False),
    ],
)
def test_header_detection(first: list[str], rest: list[list[str]], expected: bool) -> None:
    assert looks_like_header(first, rest) is expected


# ---- robustness --------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        b",",
        b";",
        b"\t",
        b"|",
        b'"',
        b"\n",
        b"\r",
        b"\x00",
        b"\xe9",
        b"\xc3",
        b"\xa9",
        b"a",
        b"Jan",
        b"1",
        b"123456782",
        b"[",
        b"{",
        b"}",
        b" ",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.one_of(st.binary(max_size=2000), st.lists(_PIECES, max_size=400).map(b"".join)))
def test_arbitrary_bytes_raise_only_our_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    limits = ReaderLimits(max_record_bytes=1024, batch_rows=7)
    for opener in (DelimitedReader, open_table):
        try:
            reader = opener(path, limits=limits)
            reader.sample()
            _rows(reader)
        except CohortwatchError:
            pass


def test_ods_spreadsheet_is_read_by_content(tmp_path: Path) -> None:
    """An OpenDocument spreadsheet (LibreOffice's format), built by hand: a zip whose first
    entry is its mimetype, with the table in content.xml."""
    import zipfile

    rows = [["BSN", "Naam", "Geboortedatum"], ["123456782", "Jan de Vries", "1975-03-12"],
            ["", "Zoë Bakker", "1980-01-02"]]

    def cell(v: str) -> str:
        if not v:
            return "<table:table-cell/>"
        return (f'<table:table-cell office:value-type="string"><text:p>{v}</text:p>'
                "</table:table-cell>")

    body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>"
                   for r in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Blad1">'
        f"{body}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    path = tmp_path / "export.bin"  # the name says nothing
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                    compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", manifest)
    reader = open_table(path)
    assert reader.format == "ods"
    assert reader.columns == ["BSN", "Naam", "Geboortedatum"]
    batches = list(reader.batches())
    assert [b.table for b in batches] == ["Blad1"]
    got = batches[0].data.to_pylist()
    assert got == [
        {"BSN": "123456782", "Naam": "Jan de Vries", "Geboortedatum": "1975-03-12"},
        {"BSN": None, "Naam": "Zoë Bakker", "Geboortedatum": "1980-01-02"},
    ]


def test_old_office_file_that_is_no_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brief.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    with pytest.raises(UnreadableDatasetError, match="not a workbook"):
        list(open_table(path).batches())


def test_json_lines_fast_path_hands_over_mid_file(tmp_path: Path) -> None:
    """Flat text records go through pyarrow; a number, a nested object and a malformed line
    past its first block make the row reader take over, with nothing lost or repeated."""
    lines = [json.dumps({"bsn": f"{i:09d}", "naam": f"persoon {i} " + "x" * 60})
             for i in range(80_000)]  # ~7 MB: the odd lines come after the first 4 MiB block
    lines[70_000] = '{"bsn": 70000, "naam": "a number"}'
    lines[70_001] = '{"bsn": "70001", "adres": {"postcode": "1234 AB"}}'
    lines[70_002] = '{"bsn": "70002", broken'
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reader = open_table(path)
    batches = list(reader.batches())
    firsts = [b.first_record for b in batches]
    sizes = [b.data.num_rows for b in batches]
    assert firsts == [1 + sum(sizes[:k]) for k in range(len(sizes))]  # no gaps, no repeats
    rows = [r for b in batches for r in b.data.to_pylist()]
    assert len(rows) == 79_999 and reader.stats.records == 79_999
    assert reader.stats.skip_reasons == {"malformed JSON line": 1}
    assert [r["bsn"] for r in rows[69_999:70_003]] == ["000069999", "70000", "70001", "000070003"]
    assert rows[70_001].get("adres.postcode") == "1234 AB"
    assert rows[-1]["bsn"] == "000079999"
