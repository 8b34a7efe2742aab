"""Documents: finding synthetic people in text, HTML, PDF, DOCX and e-mail, and surviving
broken or hostile files with our error or a counted skip — never a traceback.

Every format is generated here from the same planted lines (:func:`_layout`): BSNs in each
written form, a labelled typo BSN, unlabelled 9-digit numbers that fail the 11-proof (must
not be found), and name + birth-date pairs in each layout the finder knows. People are
synthetic (:func:`matchers.synthetic.make_people`). PDFs are made with fpdf2 (a test
dependency), DOCX files by hand as zips.
"""

from __future__ import annotations

import random
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchers.bsn import is_valid
from matchers.columns import detect_columns
from matchers.dates import parse_date
from matchers.documents import (
    Document,
    DocumentLimits,
    Location,
    Record,
    TextPart,
    detect_document,
    find_records,
    open_document,
    records_in_text,
    records_to_batch,
)
from matchers.documents.html import html_text
from matchers.errors import DatasetError, DocumentError
from matchers.synthetic import Person, display_name, format_date, make_people, typo_bsn

# --------------------------------------------------------------------------- planted data

Line = str | tuple[str, ...]  # a line of text, or a table row of cells


def _latin1(p: Person) -> bool:  # fpdf2's core fonts write Latin-1 only
    try:
        (p.given_names + p.prefix + p.surname).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


PEOPLE = [p for p in make_people(60, seed=20250701) if _latin1(p)][:12]


def _check_digit_bsn(prefix8: str) -> str | None:
    """A 9-digit 11-proof-valid number from 8 digits, or None (no digit fits)."""
    for last in "0123456789":
        if is_valid(prefix8 + last):
            return prefix8 + last
    return None


def _failing(n: int, rng: random.Random) -> list[str]:
    """``n`` 9-digit numbers that fail the 11-proof (phone, order, account numbers)."""
    out: list[str] = []
    while len(out) < n:
        value = f"{rng.randrange(100_000_000, 999_999_999)}"
        if not is_valid(value):
            out.append(value)
    return out


@dataclass
class Planted:
    """What :func:`_layout` wrote and where: the finder must find exactly this."""

    lines: list[Line]
    bsn: dict[str, int] = field(default_factory=dict)  # digits -> line (1-based)
    pairs: dict[tuple[str, tuple[int, int, int]], int] = field(default_factory=dict)
    full: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # bsn -> name, dob
    typo: str = ""
    lone_typo: str = ""
    not_bsn: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # values hidden in script/comments


def _layout() -> Planted:
    """The planted lines, one layout per person; the table comes last so that earlier line
    numbers equal paragraph numbers in DOCX."""
    rng = random.Random(3)
    p = PEOPLE
    lines: list[Line] = []
    planted = Planted(lines)

    def add(line: Line) -> int:
        lines.append(line)
        return len(lines)

    def pair(person: Person, name: str, dob: str, at: int) -> None:
        ymd = parse_date(dob)
        assert ymd is not None
        planted.pairs[(name, ymd)] = at

    filler = "Het onderzoek is afgerond; de uitslag is met de huisarts besproken."
    add("Uitslag bevolkingsonderzoek baarmoederhalskanker")
    # 0: "Patiënt: J. de Vries, geb. 12-03-1975" + a labelled BSN on the next line
    name, dob = display_name(p[0], "initials"), format_date(p[0].dob, rng, "dmy_dash")
    at = add(f"Patiënt: {name}, geb. {dob}")
    add(f"BSN: {p[0].bsn}")
    pair(p[0], name, dob, at)
    planted.bsn[p[0].bsn] = at
    planted.full[p[0].bsn] = (name, dob)
    add(filler)
    # 1: "Naam: Jan de Vries" / "Geboortedatum: 12 maart 1975"
    name, dob = display_name(p[1]), format_date(p[1].dob, rng, "text_nl")
    pair(p[1], name, dob, add(f"Naam: {name}"))
    add(f"Geboortedatum: {dob}")
    add(filler)
    # 2: label and value on consecutive lines (a two-column table flattened)
    name, dob = display_name(p[2], "first"), format_date(p[2].dob, rng, "dmy_slash")
    pair(p[2], name, dob, add("Naam patiënt"))
    add(name)
    add("Geboortedatum")
    add(dob)
    add(filler)
    # 3: "Mevr. A.B. Jansen-de Boer (12-03-1975)"
    name, dob = display_name(p[3], "initials"), format_date(p[3].dob, rng, "dmy_dash")
    pair(p[3], name, dob, add(f"Betreft: Mevr. {name} ({dob})"))
    add(filler)
    # 4-7: unlabelled BSNs in every written form, amid numbers that are no BSN
    bad = _failing(6, rng)
    planted.not_bsn = bad
    b = p[4].bsn
    planted.bsn[b] = add(f"Referentie {b} verwerkt; ordernummer {bad[0]}, tel. 0612345678.")
    b = p[5].bsn
    planted.bsn[b] = add(f"Dossier {b[:4]}.{b[4:6]}.{b[6:]} en factuur {bad[1]}")
    b = p[6].bsn
    planted.bsn[b] = add(f"Kenmerk {b[:3]} {b[3:6]} {b[6:]} (rekening {bad[2]})")
    b = p[7].bsn
    planted.bsn[b] = add(f"Nummer {b[:4]} {b[4:6]} {b[6:]}, klantnummer {bad[3]}")
    add(f"Onze order {bad[4]} en {bad[5][:3]} {bad[5][3:6]} {bad[5][6:]} zijn verstuurd.")
    add(filler)
    # 8: a labelled typo BSN beside the person's name and birth date (correctable)
    planted.typo = typo_bsn(p[8].bsn, rng)
    name, dob = display_name(p[8], "full"), format_date(p[8].dob, rng, "iso")
    at = add(f"Naam: {name}   Geboortedatum: {dob}   BSN: {planted.typo}")
    pair(p[8], name, dob, at)
    planted.full[planted.typo] = (name, dob)
    # 9: a lone labelled typo BSN, far from any name
    for _ in range(5):
        add(filler)
    planted.lone_typo = typo_bsn(p[9].bsn, rng)
    add(f"Burgerservicenummer: {planted.lone_typo}")
    add(filler)
    # 10-11: a table with a header row
    add(("Naam", "Geboortedatum", "BSN"))
    for person in p[10:12]:
        name, dob = display_name(person), format_date(person.dob, rng, "dmy_dash")
        at = add((name, dob, person.bsn))
        pair(person, name, dob, at)
        planted.bsn[person.bsn] = at
        planted.full[person.bsn] = (name, dob)
    planted.secrets = [PEOPLE[9].bsn, display_name(PEOPLE[9])]
    return planted


PLANTED = _layout()


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _check(
    records: Sequence[Record],
    planted: Planted,
    *,
    lines: bool = True,
    shift: int = 0,
    numbered: bool = True,
) -> None:
    """Every planted value found, nothing that is no BSN, and where it was written
    (``shift`` lines further down: an HTML page's title is a line of its text)."""
    bsn_at: dict[str, list[Record]] = {}
    for r in records:
        if "bsn" in r.values:
            bsn_at.setdefault(_digits(r.values["bsn"]), []).append(r)
    for bsn, line in planted.bsn.items():
        assert bsn in bsn_at, f"planted BSN on line {line} not found"
        if lines:
            assert any(_line_of(r.location) == line + shift for r in bsn_at[bsn]), line
    for bad in planted.not_bsn:
        assert bad not in bsn_at, "a number failing the 11-proof was taken for a BSN"
    assert planted.typo in bsn_at and planted.lone_typo in bsn_at
    pairs = {
        (r.values["naam"], parse_date(r.values["geboortedatum"])): r
        for r in records
        if "naam" in r.values and "geboortedatum" in r.values
    }
    for key, line in planted.pairs.items():
        assert key in pairs, f"name + birth date of line {line} not found"
        if lines:
            assert _line_of(pairs[key].location) == line + shift, (pairs[key].location, line)
    for bsn, (name, dob) in planted.full.items():
        together = [r for r in bsn_at[bsn] if r.values.get("naam") == name]
        assert together and together[0].values.get("geboortedatum") == dob, "not grouped"
    lone = bsn_at[planted.lone_typo][0]
    assert set(lone.values) == {"bsn"}, "a lone BSN took a name from elsewhere"
    if numbered:
        assert [r.number for r in records] == list(range(1, len(records) + 1))


def _line_of(location: Location) -> int:
    """The planted line number a location stands for, in every format used here."""
    return location.line or location.number


# --------------------------------------------------------------------------- writers


def _text(lines: Sequence[Line]) -> str:
    return "\n".join(x if isinstance(x, str) else "\t".join(x) for x in lines) + "\n"


def write_text(path: Path, lines: Sequence[Line], encoding: str = "utf-8") -> Path:
    path.write_bytes(_text(lines).encode(encoding))
    return path


def _html(lines: Sequence[Line], secrets: Sequence[str] = ()) -> str:
    hidden = " ".join(secrets)
    out = [
        "<!DOCTYPE html><html><head><title>Uitslagen</title>",
        f"<style>p {{ color: red }} /* BSN: {hidden} */</style>",
        f"<script>var patient = 'Naam: {hidden}'; if (a < b) {{ x = '</p>'; }}</script>",
        "</head><body>",
    ]
    table = False
    for line in lines:
        if isinstance(line, str):
            if table:
                out.append("</table>")
                table = False
            out.append(f"<p>{line.replace('&', '&amp;')}</p>")
        else:
            if not table:
                out.append("<table>")
                table = True
            out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in line) + "</tr>")
    if table:
        out.append("</table>")
    out.append(f"<!-- BSN: {hidden} --></body></html>")
    return "\n".join(out)


def write_html(path: Path, lines: Sequence[Line], secrets: Sequence[str] = ()) -> Path:
    path.write_text(_html(lines, secrets), encoding="utf-8")
    return path


def pdf_bytes(pages: Sequence[Sequence[Line]], *, password: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    pdf.set_auto_page_break(False)
    for page in pages:
        pdf.add_page()
        for line in page:
            if isinstance(line, str):
                pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
            else:
                for i, cell in enumerate(line):
                    last = i == len(line) - 1
                    pdf.cell(
                        60, 6, text=cell, new_x="LMARGIN" if last else "RIGHT",
                        new_y="NEXT" if last else "TOP",
                    )  # fmt: skip
    if password is not None:
        pdf.set_encryption(owner_password="owner", user_password=password)  # noqa: S106
    return bytes(pdf.output())


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _para(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return f'<w:p><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def docx_xml(lines: Sequence[Line]) -> str:
    body, table = [], False
    for line in lines:
        if isinstance(line, str):
            if table:
                body.append("</w:tbl>")
                table = False
            body.append(_para(line))
        else:
            if not table:
                body.append("<w:tbl>")
                table = True
            cells = "".join(f"<w:tc>{_para(c)}</w:tc>" for c in line)
            body.append(f"<w:tr>{cells}</w:tr>")
    if table:
        body.append("</w:tbl>")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<w:document {_W}><w:body>{''.join(body)}</w:body></w:document>"
    )


def write_docx(path: Path, document_xml: str | bytes, extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


CSV_ATTACHMENT = b"naam;geboortedatum;bsn\nPiet Bakker;01-02-1960;111222333\n"


def write_eml(path: Path, lines: Sequence[Line], secrets: Sequence[str] = ()) -> Path:
    msg = EmailMessage()
    msg["Subject"] = "Uitslagen week 27"
    msg["From"] = "Laboratorium <lab@example.org>"
    msg["To"] = "Huisarts <arts@example.org>"
    msg.set_content(_text(lines))
    msg.add_alternative(_html(lines, secrets), subtype="html")
    msg.add_attachment(
        CSV_ATTACHMENT, maintype="text", subtype="csv", filename=f"lijst {PEOPLE[0].surname}.csv"
    )
    path.write_bytes(bytes(msg))
    return path


def scan(path: Path, **kw: object) -> tuple[Document, list[Record]]:
    doc = open_document(path, **kw)  # type: ignore[arg-type]
    return doc, list(find_records(doc.parts(), doc.stats))


# --------------------------------------------------------------------------- each format


def test_plain_text_finds_every_layout(tmp_path: Path) -> None:
    doc, records = scan(write_text(tmp_path / "dump", PLANTED.lines))
    assert doc.kind == "text"
    _check(records, PLANTED)


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_plain_text_in_other_encodings(tmp_path: Path, encoding: str) -> None:
    _, records = scan(write_text(tmp_path / "dump.txt", PLANTED.lines, encoding))
    _check(records, PLANTED)


def test_html_ignores_script_style_and_comments(tmp_path: Path) -> None:
    path = write_html(tmp_path / "page.bin", PLANTED.lines, PLANTED.secrets)
    doc, records = scan(path)
    assert doc.kind == "html"
    _check(records, PLANTED, shift=1)
    text = "".join(part.text for part in doc.parts())
    for secret in PLANTED.secrets:  # only in the script, the style and a comment
        assert secret not in _text(PLANTED.lines) and secret not in text


def test_pdf_pages_and_lines(tmp_path: Path) -> None:
    split = PLANTED.lines.index(("Naam", "Geboortedatum", "BSN"))
    path = tmp_path / "rapport.pdf"
    path.write_bytes(pdf_bytes([PLANTED.lines[:split], PLANTED.lines[split:]]))
    doc, records = scan(path)
    assert doc.kind == "pdf"
    _check(records, PLANTED, lines=False)  # lines count per page; checked below
    by_bsn = {_digits(r.values.get("bsn", "")): r.location for r in records}
    assert by_bsn[PEOPLE[0].bsn] == Location("page", 1, PLANTED.bsn[PEOPLE[0].bsn])
    assert by_bsn[PEOPLE[10].bsn] == Location("page", 2, 2)  # row under the header
    assert by_bsn[PEOPLE[11].bsn] == Location("page", 2, 3)


def test_docx_paragraphs_tables_and_header(tmp_path: Path) -> None:
    header = f"<w:hdr {_W}>{_para('Patiënt: K. Visser, geb. 01-01-1970')}</w:hdr>"
    path = write_docx(
        tmp_path / "brief.docx", docx_xml(PLANTED.lines), {"word/header1.xml": header}
    )
    doc, records = scan(path)
    assert doc.kind == "docx"
    table_at = PLANTED.lines.index(("Naam", "Geboortedatum", "BSN")) + 1
    body = [r for r in records if r.location.unit == "paragraph"]
    # a table row's paragraph number is that of its first cell: 3 per row before it
    rows = {PEOPLE[10].bsn: table_at + 3, PEOPLE[11].bsn: table_at + 6}
    planted = Planted(PLANTED.lines, {**PLANTED.bsn, **rows}, dict(PLANTED.pairs))
    planted.full, planted.typo, planted.lone_typo = PLANTED.full, PLANTED.typo, PLANTED.lone_typo
    planted.not_bsn = PLANTED.not_bsn
    for (name, ymd), line in PLANTED.pairs.items():
        for bsn, row in rows.items():
            if PLANTED.bsn[bsn] == line:
                planted.pairs[(name, ymd)] = row
    _check(body, planted)
    head = [r for r in records if r.location.unit == "header"]
    assert [(r.location, r.values["naam"]) for r in head] == [(Location("header", 1), "K. Visser")]


def test_docx_embedded_files_are_attachments(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "brief.docx",
        docx_xml(["Zie de bijlage."]),
        {"word/embeddings/Lijst Jansen.xlsx": CSV_ATTACHMENT.decode(), "word/media/a.png": "x"},
    )
    doc = open_document(path)
    assert list(find_records(doc.parts())) == []
    (attachment,) = doc.attachments()
    assert (attachment.display_name, attachment.data) == ("embedded-1.xlsx", CSV_ATTACHMENT)


def test_eml_headers_bodies_and_attachment(tmp_path: Path) -> None:
    path = write_eml(tmp_path / "bericht", PLANTED.lines, PLANTED.secrets)
    doc, records = scan(path)
    assert doc.kind == "eml"
    parts = {r.location.number for r in records}
    assert len(parts) == 2  # the plain and the HTML body, each in full
    for number in parts:
        mine = [r for r in records if r.location.number == number]
        _check(mine, PLANTED, lines=False, numbered=False)
    assert [r.number for r in records] == list(range(1, len(records) + 1))
    plain = min(parts)
    first = next(r for r in records if r.location.number == plain)
    assert first.location == Location("part", plain, PLANTED.bsn[PEOPLE[0].bsn])
    headers = next(p for p in doc.parts() if p.location.number == 0).text
    assert "Subject: Uitslagen week 27" in headers and "lab@example.org" in headers

    attachments = list(doc.attachments())
    assert [a.display_name for a in attachments] == ["attachment-1.csv"]
    (attachment,) = attachments
    assert attachment.data == CSV_ATTACHMENT
    assert PEOPLE[0].surname not in repr(attachment)  # the sender's file name stays private
    with attachment.temp_file() as inner:
        assert inner.read_bytes() == CSV_ATTACHMENT
        assert stat.S_IMODE(inner.stat().st_mode) == 0o600
        assert detect_document(inner) == "text"
    assert not inner.exists()


def test_records_become_a_table_the_matcher_reads() -> None:
    records = records_in_text(_text(PLANTED.lines))
    batch = records_to_batch(records)
    assert batch.schema.names == ["bsn", "naam", "geboortedatum"]
    assert batch.num_rows == len(records)
    roles = detect_columns(batch.schema.names, batch)
    assert (roles.bsn, roles.full_name, roles.dob) == ("bsn", "naam", "geboortedatum")


# --------------------------------------------------------------------------- the finder


BSN = PEOPLE[0].bsn


@pytest.mark.parametrize(
    "written",
    [
        BSN,
        f"{BSN[:4]}.{BSN[4:6]}.{BSN[6:]}",
        f"{BSN[:3]} {BSN[3:6]} {BSN[6:]}",
        f"{BSN[:4]} {BSN[4:6]} {BSN[6:]}",
        f"{BSN[:3]}.{BSN[3:6]}.{BSN[6:]}",
        f"{BSN[:2]}-{BSN[2:4]}-{BSN[4:6]}-{BSN[6:]}",
    ],
)
@pytest.mark.parametrize(
    "around", ["{}", "x {} y", "({})", "a: {}.", "{},", "12-03-1975 {} 0612345678"]
)
def test_bsn_forms(written: str, around: str) -> None:
    records = records_in_text(around.format(written))
    assert [r.values for r in records] == [{"bsn": written}]


@pytest.mark.parametrize(
    "text",
    [
        f"NL{BSN}B01",  # VAT number
        f"{BSN}0",  # ten digits
        f"0{BSN}",
        f"{BSN}.5",  # a decimal
        f"1.{BSN[:3]}.{BSN[3:6]}.{BSN[6:]}",  # a longer number with thousands dots
        f"12 {BSN[:3]} {BSN[3:6]} {BSN[6:]}",
        f"{BSN[:3]} {BSN[3:6]} {BSN[6:]} 123",
        f"{BSN[:3]} {BSN[3:6]}.{BSN[6:]}",  # mixed separators
        f"x{BSN}",
        f"{BSN}-01",
    ],
)
def test_numbers_that_are_not_a_bsn(text: str) -> None:
    assert records_in_text(text) == []


def test_labelled_typo_and_eight_digit_bsns() -> None:
    zero = next(b for b in (_check_digit_bsn(f"0{n:07d}") for n in range(1234567, 1234667)) if b)
    typo = typo_bsn(BSN, random.Random(1))
    text = (
        f"BSN: {typo}\n\n\n\n\n\nBSN-nummer {zero[1:]}\n\n\n\n\n\nsofinummer:\n{typo}\n\n\n\n\n\n"
        f"burgerservicenummer {zero}\n\n\n\n\n\nklantnummer {typo}\n"
    )
    found = [r.values["bsn"] for r in records_in_text(text)]
    assert found == [typo, zero[1:], typo, zero]  # not the unlabelled typo


@pytest.mark.parametrize(
    ("text", "naam", "dob"),
    [
        ("Patiënt: J. de Vries, geb. 12-03-1975", "J. de Vries", "12-03-1975"),
        ("Patient: J. de Vries, DOB 1975-03-12", "J. de Vries", "1975-03-12"),
        ("Naam: Jan de Vries\nGeboortedatum: 12 maart 1975", "Jan de Vries", "12 maart 1975"),
        ("Naam patiënt:\tVries, Jan de\nGeb. datum:\t12.03.1975", "Vries, Jan de", "12.03.1975"),
        ("Mevr. A.B. Jansen-de Boer (12-03-1975)", "A.B. Jansen-de Boer", "12-03-1975"),
        ("MEVR. A.B. JANSEN-DE BOER (12-03-1975)", "A.B. JANSEN-DE BOER", "12-03-1975"),
        ("NAAM: JAN DE VRIES\nGEBOORTEDATUM: 12-03-1975", "JAN DE VRIES", "12-03-1975"),
        ("Dhr. P. van 't Hof, geboren op 3 okt. 1980", "P. van 't Hof", "3 okt. 1980"),
        ("Name: Jane Doe\nDate of birth: March 12, 1975", "Jane Doe", "March 12, 1975"),
        ("Naam\nJan de Vries\nGeboortedatum\n12-03-1975", "Jan de Vries", "12-03-1975"),
        ("Cliënt: Zoë Bakker 12/03/1975", "Zoë Bakker", "12/03/1975"),
        ('{"naam": "Jan de Vries", "geboortedatum": "1975-03-12"}', "Jan de Vries", "1975-03-12"),
        ("<naam>Jan de Vries</naam><geb>12-03-1975</geb>", "Jan de Vries", "12-03-1975"),
        (
            "Voornaam: Jan\nTussenvoegsel: de\nAchternaam: Vries\nGeboortedatum: 12-03-1975",
            "Jan de Vries",
            "12-03-1975",
        ),
        ("Naam  Geboortedatum  BSN\nJan de Vries  12-03-1975  x", "Jan de Vries", "12-03-1975"),
        ("Naam Geboortedatum\nJan de Vries 12-03-1975", "Jan de Vries", "12-03-1975"),
    ],
)
def test_name_and_birth_date_layouts(text: str, naam: str, dob: str) -> None:
    records = records_in_text(text)
    assert [r.values for r in records] == [{"naam": naam, "geboortedatum": dob}]
    row = 2 if text.startswith(("Naam  Geb", "Naam Geb")) else 1  # a row under its header
    assert records[0].location == Location("line", row)


@pytest.mark.parametrize(
    "text",
    [
        "De patiënt is op 12-03-2024 gezien door de huisarts.",  # a label word in prose
        "Naam: onbekend, geb. 12-03-1975",
        "Datum onderzoek: 12-03-2024\nNaam: Jansen",  # surname only, no birth date
        "Geboortedatum: 31-02-1975",  # no such date
        "Naam: Jan de Vries",  # nothing to match a name on without a birth date
    ],
)
def test_no_record(text: str) -> None:
    assert records_in_text(text) == []


def test_fields_far_apart_are_different_people() -> None:
    text = "Naam: Jan de Vries\n" + "tekst\n" * 10 + "Geboortedatum: 12-03-1975\n"
    assert records_in_text(text) == []


def test_record_repr_hides_values() -> None:
    (record,) = records_in_text(f"Patiënt: J. de Vries, geb. 12-03-1975, BSN {BSN}")
    assert record.values["bsn"] == BSN
    shown = repr(record) + repr(TextPart(Location("line", 1), f"BSN {BSN}"))
    assert BSN not in shown and "Vries" not in shown


# --------------------------------------------------------------------------- properties

_WORDS = st.sampled_from(["Uitslag", "de", "is", "verwerkt", "ordernr", "tel.", "(", ")", ","])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text_gives_records_made_of_its_own_substrings(text: str) -> None:
    for record in records_in_text(text):
        for key, value in record.values.items():
            # a name may be joined from voornaam/tussenvoegsel/achternaam fields
            assert all(word in text for word in value.split()) if key == "naam" else value in text


@settings(max_examples=60, deadline=None)
@given(
    st.integers(10_000_000, 99_999_999),
    st.sampled_from(["{}", "{:.3} {:.3} {:.3}", "{:.4}.{:.2}.{:.3}", "{:.4} {:.2} {:.3}"]),
    st.lists(_WORDS, max_size=6),
    st.lists(_WORDS, max_size=6),
)
def test_valid_bsns_are_found_and_failing_numbers_are_not(
    n: int, form: str, before: list[str], after: list[str]
) -> None:
    digits = str(n) + "0"
    valid = _check_digit_bsn(str(n))
    for value in filter(None, [valid, digits if not is_valid(digits) else None]):
        written = _write(value, form)
        text = " ".join([*before, written, *after])
        found = [_digits(r.values["bsn"]) for r in records_in_text(text)]
        assert found == ([value] if is_valid(value) else [])


def _write(value: str, form: str) -> str:
    if form == "{}":
        return value
    if form.startswith("{:.3} "):
        return f"{value[:3]} {value[3:6]} {value[6:]}"
    if "." in form[4:6]:
        return f"{value[:4]}.{value[4:6]}.{value[6:]}"
    return f"{value[:4]} {value[4:6]} {value[6:]}"


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/!-&;a pscrity\n\"'=td"), max_size=300))
def test_html_text_never_raises_or_shows_scripts(markup: str) -> None:
    marker = "ZQXJ"
    page = markup + f"<script>{marker}</script>" + markup
    text = "".join(html_text([page[: len(page) // 2], page[len(page) // 2 :]]))
    assert marker not in text or marker in markup


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from([b"", b"%PDF-1.4\n", b"PK\x03\x04", b"From: a\nTo: b\n\n", b"<html>"]),
    st.binary(max_size=3000),
)
def test_random_bytes_give_our_error_or_a_result(tmp_path: Path, head: bytes, body: bytes) -> None:
    path = tmp_path / "random.pdf"
    path.write_bytes(head + body)
    _scan_safely(path)


def _scan_safely(path: Path, limits: DocumentLimits | None = None) -> Document | DocumentError:
    """Everything a caller does with a document; only our error may come out."""
    try:
        doc = open_document(path, limits=limits)
        list(find_records(doc.parts(), doc.stats))
        for attachment in doc.attachments():
            with attachment.temp_file():
                pass
    except DocumentError as exc:
        assert isinstance(exc, DatasetError)
        return exc
    return doc


# --------------------------------------------------------------------------- hostile files

_SKIP_PHRASES = {
    "HTML left unclosed", "page beyond the page limit", "page could not be read",
    "page text cut at the size limit", "page without a text layer",
    "document part beyond the part limit", "document part over the size limit",
    "document part declares a DTD (refused)", "document part is not well-formed XML",
    "document part is broken", "header could not be decoded", "e-mail nested too deeply",
    "body part could not be decoded", "attachment could not be decoded", "empty attachment",
    "attachment beyond the attachment limit", "attachment over the size limit",
    "name without birth date",
    "birth date without name", "text part too dense with labels to be a document",
}  # fmt: skip

SECRET = f"Patiënt: {display_name(PEOPLE[1])}, geb. 12-03-1975, BSN {PEOPLE[1].bsn}"


def _corrupt_pdf() -> bytes:
    data = pdf_bytes([[SECRET]])
    rng = random.Random(5)
    return data[:120] + rng.randbytes(400) + data[120:300] + rng.randbytes(200)


def _bomb() -> bytes:
    para = _para("aaaaaaaaaa " * 20).encode()
    return b"<w:document " + _W.encode() + b"><w:body>" + para * 60_000 + b"</w:body></w:document>"


_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    f"<w:document {_W}><w:body>{_para('&c;')}</w:body></w:document>"
)


def _make_hostile(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    if name == "garbage.pdf":
        path.write_bytes(random.Random(1).randbytes(20_000))
    elif name == "corrupt.pdf":
        path.write_bytes(_corrupt_pdf())
    elif name == "truncated.pdf":
        path.write_bytes(pdf_bytes([[SECRET]])[:700])
    elif name == "scanned.pdf":
        pdf = FPDF()
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
        path.write_bytes(bytes(pdf.output()))
    elif name == "locked.pdf":
        path.write_bytes(pdf_bytes([[SECRET]], password="geheim"))  # noqa: S106
    elif name == "bomb.docx":
        write_docx(path, _bomb())
    elif name == "laughs.docx":
        write_docx(path, _LAUGHS)
    elif name == "broken_xml.docx":
        write_docx(path, docx_xml([SECRET])[:-40] + "<w:p><<<")
    elif name == "not_word.docx":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("inhoud.txt", SECRET)
    elif name == "cut.docx":
        data = write_docx(path, docx_xml([SECRET] * 200)).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif name == "garbled.docx":
        data = bytearray(write_docx(path, docx_xml([SECRET] * 200)).read_bytes())
        start = data.index(b"word/document.xml") + len("word/document.xml")
        data[start + 20 : start + 120] = b"\xff" * 100  # inside the compressed stream
        path.write_bytes(bytes(data))
    elif name == "huge_line.html":
        path.write_text("<html><body><table>" + "<tr><td>x</td><td>1</td></tr>" * 250_000)
    elif name == "unclosed.html":
        path.write_text(f"<html><p>{SECRET}</p><!-- " + "<div>" * 100_000)
    elif name == "lt.html":
        path.write_text("<html><p>" + "<" * 2_000_000)
    elif name == "deep.eml":
        head = b"From: a@example.org\nTo: b@example.org\nSubject: x\nMIME-Version: 1.0\n"
        level = b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n'
        nest = b"".join(level % (i, i) for i in range(3000))
        path.write_bytes(head + nest + b"Content-Type: text/plain\n\n" + SECRET.encode())
    elif name == "bad_charset.eml":
        path.write_bytes(
            b"From: a@example.org\nTo: b@example.org\nSubject: =?x-nope?Q?abc?=\n"
            b"Content-Type: text/plain; charset=x-unknown\n\n" + SECRET.encode("utf-8")
        )
    elif name == "empty.txt":
        path.write_bytes(b"")
    elif name == "image.png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(500))
    elif name == "labels.txt":
        path.write_text("naam: bsn geb. " * 100_000)
    return path


HOSTILE = {
    "garbage.pdf": "not a document we can read (binary data)",
    "corrupt.pdf": None,  # our error or a skip, whichever pypdf's recovery allows
    "truncated.pdf": None,
    "scanned.pdf": "no text layer (scanned image?)",
    "locked.pdf": "encrypted PDF (a password is needed; none was given)",
    "bomb.docx": "document part over the size limit",
    "laughs.docx": "document part declares a DTD (refused)",
    "broken_xml.docx": "document part is not well-formed XML",
    "not_word.docx": "not a document we can read (a zip archive that is not a Word document)",
    "cut.docx": "not a document we can read (a zip archive that is not a Word document)",
    "garbled.docx": "document part is broken",
    "huge_line.html": None,
    "unclosed.html": "HTML left unclosed",
    "lt.html": None,
    "deep.eml": None,
    "bad_charset.eml": None,
    "empty.txt": "not a document we can read (empty file)",
    "image.png": "not a document we can read (an image)",
    "labels.txt": "text part too dense with labels to be a document",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_give_our_error_or_a_skip_reason(tmp_path: Path, name: str) -> None:
    path = _make_hostile(tmp_path, name)
    outcome = _scan_safely(path, DocumentLimits(xml_bytes=1 << 20))
    if isinstance(outcome, DocumentError):
        message = str(outcome)
        assert message.startswith(f"{name}: ")
        reasons: set[str] = {message.split(": ", 1)[1]}
    else:
        reasons = set(outcome.stats.skip_reasons)
        assert reasons <= _SKIP_PHRASES, reasons
    expected = HOSTILE[name]
    if expected is not None:
        assert expected in reasons
    for value in (PEOPLE[1].bsn, PEOPLE[1].surname, "12-03-1975"):
        assert all(value not in reason for reason in reasons)


def test_owner_password_only_pdf_is_read(tmp_path: Path) -> None:
    path = tmp_path / "protected.pdf"
    path.write_bytes(pdf_bytes([[f"BSN: {BSN}"]], password=""))
    _, records = scan(path)
    assert [r.values for r in records] == [{"bsn": BSN}]


def test_parts_stay_bounded_for_a_long_text(tmp_path: Path) -> None:
    line = f"Referentie {BSN} verwerkt.\n"
    path = tmp_path / "long.txt"
    path.write_text(line * 40_000)
    doc = open_document(path, limits=DocumentLimits(part_chars=64 * 1024))
    sizes, count, last = [], 0, 0
    for part in doc.parts():
        sizes.append(len(part.text))
        assert part.location.number == last + 1  # parts continue the line count
        last += part.text.count("\n")
        count += sum(1 for _ in find_records([part]))
    assert count == 40_000 and max(sizes) <= 2 * 64 * 1024 and len(sizes) >= 8


def test_open_document_names_only_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.7\n" + SECRET.encode() + b"\n%%EOF")
    with pytest.raises(DocumentError) as caught:
        list(open_document(path, display_name="dump/x.pdf").parts())
    assert str(caught.value).startswith("dump/x.pdf: ")
    assert PEOPLE[1].bsn not in str(caught.value) and PEOPLE[1].surname not in str(caught.value)


def test_detect_by_content_not_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(pdf_bytes([["x"]]))
    (tmp_path / "b.pdf").write_text(_html(["x"]))
    (tmp_path / "c.html").write_bytes(b"From: a@example.org\nTo: b@example.org\n\nhallo\n")
    write_docx(tmp_path / "d.zip", docx_xml(["x"]))
    (tmp_path / "e.pdf").write_text("Naam: Jan de Vries\n")
    names = ("a.txt", "b.pdf", "c.html", "d.zip", "e.pdf")
    assert [detect_document(tmp_path / n) for n in names] == ["pdf", "html", "eml", "docx", "text"]
    assert detect_document(tmp_path / "missing") is None
