"""What leakers post, through ``check-dataset`` as an investigator runs it, black-box.

Archives nested in archives, a password-protected zip, a zip bomb next to a real file, a
member that tries to escape the work directory, and SQL dumps with several tables. Every
file is built here from synthetic people; each check names the member or table where the
members were found, lists what could not be read with the reason, and prints no value.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import pyzipper
from conftest import ResidueScanner, Result, person_values, run, run_many, start

from matchers.synthetic import Person, display_name, make_people, write_people_csv

PASSWORD = "leak-2025-proof"  # noqa: S105 - the test archive's published password


@dataclass
class Posted:
    path: Path
    members: list[Person]
    args: tuple[str, ...] = ()
    result: Result | None = None

    def report(self) -> dict[str, Any]:
        assert self.result is not None
        return self.result.json()


def _csv(people: list[Person]) -> bytes:
    lines = ["bsn;naam;geboortedatum"] + [
        f"{p.bsn};{display_name(p)};{p.dob.isoformat()}" for p in people
    ]
    return ("\n".join(lines) + "\n").encode()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def _mysql(patients: list[Person]) -> str:
    rows = ",".join(
        "({}, '{}', '{}', '{}')".format(
            i, p.bsn, display_name(p).replace("'", "\\'"), p.dob.isoformat()
        )
        for i, p in enumerate(patients, start=1)
    )
    return (
        "-- MySQL dump 10.13  Distrib 8.0.36\n"
        "/*!40101 SET NAMES utf8mb4 */;\n"
        "CREATE TABLE `settings` (`k` varchar(20), `v` text);\n"
        "INSERT INTO `settings` VALUES ('theme','dark; really'),('lang','nl');\n"
        "CREATE TABLE `patienten` (\n  `id` int NOT NULL,\n  `bsn` char(9),\n"
        "  `naam` varchar(200),\n  `geboortedatum` date,\n  PRIMARY KEY (`id`)\n"
        ") ENGINE=InnoDB;\n"
        f"INSERT INTO `patienten` VALUES {rows};\n"
    )


def _postgres(patients: list[Person]) -> str:
    body = "".join(
        f"{i}\t{p.bsn}\t{display_name(p)}\t{p.dob.isoformat()}\n"
        for i, p in enumerate(patients, start=1)
    )
    return (
        "--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n"
        "CREATE TABLE public.uitslagen (id integer, bsn text, naam text, geboortedatum date);\n"
        "COPY public.uitslagen (id, bsn, naam, geboortedatum) FROM stdin;\n"
        f"{body}\\.\n"
    )


@pytest.fixture(scope="module")
def posted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Posted]]:
    base = tmp_path_factory.mktemp("posted")
    people = make_people(330, seed=11)
    cohort, others = people[:300], people[300:]
    write_people_csv(base / "cohort.csv", cohort)
    state = base / "state"
    assert run("init", state=state).returncode == 0
    assert run("cohort", "enroll", base / "cohort.csv", "--name", "s", state=state).returncode == 0
    c = iter(cohort)

    def take(n: int) -> list[Person]:
        return [next(c) for _ in range(n)]

    cases: dict[str, Posted] = {}
    # a zip holding a tar.gz holding the table, next to a note
    nested = take(3)
    inner = _tar_gz({"export/patients.csv": _csv(nested + others[:3])})
    (base / "proof.zip").write_bytes(
        _zip({"export.tar.gz": inner, "LEESMIJ.txt": b"Betaal binnen 14 dagen.\n"})
    )
    cases["nested"] = Posted(base / "proof.zip", nested)
    # AES-encrypted, password published with the post
    secret = take(2)
    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(PASSWORD.encode())
        zf.writestr("patients.csv", _csv(secret))
    (base / "aes.zip").write_bytes(out.getvalue())
    cases["aes_with_password"] = Posted(base / "aes.zip", secret, ("--password", PASSWORD))
    cases["aes_without_password"] = Posted(base / "aes.zip", [])
    # a bomb member (zeros, ratio far over the limit) next to a real file
    real = take(2)
    (base / "bomb.zip").write_bytes(
        _zip({"zeros.csv": bytes(64 * 1024 * 1024), "real.csv": _csv(real)})
    )
    cases["bomb"] = Posted(base / "bomb.zip", real)
    # a member that tries to leave the work directory
    escape = take(1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escaped.csv", _csv(take(1)))
        zf.writestr("ok.csv", _csv(escape))
    (base / "escape.zip").write_bytes(buf.getvalue())
    cases["escape"] = Posted(base / "escape.zip", escape)
    # SQL dumps
    mysql_people = take(4)
    (base / "dump.sql").write_text(_mysql(mysql_people + others[3:5]), encoding="utf-8")
    cases["mysql"] = Posted(base / "dump.sql", mysql_people)
    pg_people = take(3)
    (base / "pg.sql.gz").write_bytes(_gzip(_postgres(pg_people).encode()))
    cases["postgres_gz"] = Posted(base / "pg.sql.gz", pg_people)

    # a workbook: a cover sheet, then the data under a title and a blank row
    xlsx_people = take(3)
    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "Voorblad"
    cover.append(["Export laboratorium", "2025-06-30"])
    sheet = wb.create_sheet("Uitslagen")
    sheet.append(["Uitslagen bevolkingsonderzoek baarmoederhalskanker"])
    sheet.append([])
    sheet.append(["BSN", "Naam patiënt", "Geb. datum", "Uitslag"])
    for p in xlsx_people + others[5:7]:
        sheet.append([int(p.bsn), display_name(p), p.dob, "hrHPV negatief"])
    wb.save(base / "export.xlsx")
    cases["xlsx"] = Posted(base / "export.xlsx", xlsx_people)

    # a lab report as PDF, and an e-mail with a CSV attachment
    pdf_people = take(2)
    from fpdf import FPDF

    pdf = FPDF()
    for p in pdf_people:
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        pdf.multi_cell(0, 6, "Laboratoriumuitslag\n"
                       f"Patient: {display_name(p)}\nGeboortedatum: {p.dob:%d-%m-%Y}\n"
                       "Uitslag: hrHPV negatief")
    pdf.output(str(base / "uitslag.pdf"))
    cases["pdf"] = Posted(base / "uitslag.pdf", pdf_people)
    mail_people = take(2)
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "proof", "x@example.invalid", "y@example.invalid"
    msg.set_content("Hierbij een deel van de data.")
    msg.add_attachment(_csv(mail_people), maintype="text", subtype="csv", filename="deel1.csv")
    (base / "proof.eml").write_bytes(msg.as_bytes())
    cases["eml"] = Posted(base / "proof.eml", mail_people)

    names = list(cases)
    results = run_many(
        [["check-dataset", cases[n].path, "--cohort", "s", "--json", *cases[n].args]
         for n in names],
        state=state,
    )
    for n, r in zip(names, results, strict=True):
        cases[n].result = r
    scanner = ResidueScanner()
    for p in people:
        scanner.add(*person_values(p))
    for n in names:
        r = cases[n].result
        assert r is not None and "Traceback" not in r.stderr, r
        hits = scanner.scan({"stdout": r.stdout.encode(), "stderr": r.stderr.encode()})
        assert not hits, (n, [str(h) for h in hits])
    yield cases
    assert not (base / "escaped.csv").exists() and not (base.parent / "escaped.csv").exists()


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


def _found(case: Posted) -> dict[str, str]:
    """ref -> file where it was found."""
    return {m["ref"]: m["file"] for m in case.report()["matches"]}


def _files(case: Posted) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in case.report()["dataset"]["files"]}


def test_nested_archive_members_are_scanned(posted: dict[str, Posted]) -> None:
    case = posted["nested"]
    assert case.result is not None and case.result.returncode == 1, case.result
    where = "proof.zip/export.tar.gz/export/patients.csv"
    assert _found(case) == {p.ref: where for p in case.members}
    files = _files(case)
    assert files[where]["records"] == 6
    assert files["proof.zip/LEESMIJ.txt"]["status"] == "skipped"
    assert case.report()["dataset"]["sha256"] != files[where]["sha256"]


def test_published_password_opens_an_encrypted_zip(posted: dict[str, Posted]) -> None:
    case = posted["aes_with_password"]
    assert case.result is not None and case.result.returncode == 1, case.result
    assert set(_found(case)) == {p.ref for p in case.members}
    assert PASSWORD not in case.result.stdout + case.result.stderr


def test_encrypted_zip_without_password_is_a_clear_error(posted: dict[str, Posted]) -> None:
    r = posted["aes_without_password"].result
    assert r is not None and r.returncode == 2, r
    assert "password" in r.stderr.lower(), r
    assert len(r.stderr.strip().splitlines()) == 1, r


def test_bomb_member_is_skipped_and_the_rest_scanned(posted: dict[str, Posted]) -> None:
    case = posted["bomb"]
    assert case.result is not None and case.result.returncode == 1, case.result
    assert _found(case) == {p.ref: "bomb.zip/real.csv" for p in case.members}
    skipped = [f for f in case.report()["dataset"]["files"] if f["status"] == "skipped"]
    assert any("ratio" in f["reason"] or "limit" in f["reason"] for f in skipped), skipped


def test_member_escaping_the_work_directory_is_refused(posted: dict[str, Posted]) -> None:
    case = posted["escape"]
    assert case.result is not None and case.result.returncode == 1, case.result
    assert _found(case) == {p.ref: "escape.zip/ok.csv" for p in case.members}
    refused = [f for f in case.report()["dataset"]["files"] if f["status"] == "skipped"]
    assert len(refused) == 1 and refused[0]["format"] == "archive member", refused


def test_mysql_dump_tables_are_recognised_one_by_one(posted: dict[str, Posted]) -> None:
    case = posted["mysql"]
    assert case.result is not None and case.result.returncode == 1, case.result
    assert _found(case) == {p.ref: "dump.sql#patienten" for p in case.members}
    f = _files(case)["dump.sql"]
    assert f["format"] == "sql"
    assert f["tables"]["patienten"]["records"] == 6
    assert f["tables"]["patienten"]["columns"]["bsn"] == "bsn"
    assert f["tables"]["settings"]["columns"] == {}
    records = {m["ref"]: m["record"] for m in case.report()["matches"]}
    assert sorted(records.values()) == [1, 2, 3, 4]


def test_compressed_postgres_dump(posted: dict[str, Posted]) -> None:
    case = posted["postgres_gz"]
    assert case.result is not None and case.result.returncode == 1, case.result
    assert _found(case) == {p.ref: "pg.sql.gz/pg.sql#public.uitslagen" for p in case.members}


def test_workbook_sheets_and_a_header_below_a_title(posted: dict[str, Posted]) -> None:
    case = posted["xlsx"]
    assert case.result is not None and case.result.returncode == 1, case.result
    assert _found(case) == {p.ref: "export.xlsx#Uitslagen" for p in case.members}
    f = _files(case)["export.xlsx"]
    assert f["tables"]["Uitslagen"]["records"] == 5
    assert f["tables"]["Uitslagen"]["columns"]["bsn"] == "BSN"
    records = sorted(m["record"] for m in case.report()["matches"])
    assert records == [1, 2, 3]  # numbered from the row under the header


def test_sigterm_mid_scan_removes_unpacked_members(tmp_path: Path) -> None:
    """An operator (or systemd) stopping a scan leaves no plaintext behind."""
    import signal
    import time


    people = make_people(200, seed=13)
    write_people_csv(tmp_path / "cohort.csv", people[:100])
    state = tmp_path / "state"
    assert run("init", state=state).returncode == 0
    assert run("cohort", "enroll", tmp_path / "cohort.csv", "--name", "s",
               state=state).returncode == 0
    body = _csv(people)
    rows = body.split(b"\n", 1)[1]
    big = body + rows * 6000  # ~ 1.2M rows: seconds of work after unpacking
    (tmp_path / "big.tar.gz").write_bytes(_tar_gz({"export/big.csv": big}))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    running = start("check-dataset", tmp_path / "big.tar.gz", "--json", state=state,
                    env={"TMPDIR": str(tmp)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(tmp.rglob("*")):
        time.sleep(0.02)
    assert any(tmp.rglob("*")), "the member was never unpacked"
    time.sleep(0.3)
    running.proc.send_signal(signal.SIGTERM)
    result = running.result(60)
    assert result.returncode == 143, result
    assert "Traceback" not in result.stderr, result
    assert list(tmp.iterdir()) == [], list(tmp.rglob("*"))


def test_pdf_report_people_are_matched_on_name_and_birth_date(posted: dict[str, Posted]) -> None:
    case = posted["pdf"]
    assert case.result is not None and case.result.returncode == 1, case.result
    assert {m["ref"]: (m["method"], m["record"]) for m in case.report()["matches"]} == {
        p.ref: ("name_dob", i) for i, p in enumerate(case.members, start=1)
    }
    assert _files(case)["uitslag.pdf"]["format"] == "pdf"


def test_email_attachment_is_scanned_as_a_file(posted: dict[str, Posted]) -> None:
    case = posted["eml"]
    assert case.result is not None and case.result.returncode == 1, case.result
    found = _found(case)
    assert set(found) == {p.ref for p in case.members}
    assert set(found.values()) == {"proof.eml/attachment-1.csv"}, found


def test_reposts_are_recognised_by_their_records(tmp_path: Path) -> None:
    """A sample posted first, the full dump later as SQL with columns reordered, then the
    same dump again: each scan names the earlier ones and how they relate."""
    people = make_people(900, seed=17)
    write_people_csv(tmp_path / "cohort.csv", people[:100])
    state = tmp_path / "state"
    assert run("init", state=state).returncode == 0
    assert run("cohort", "enroll", tmp_path / "cohort.csv", "--name", "s",
               state=state).returncode == 0
    dump = people[50:850]
    (tmp_path / "sample.csv").write_bytes(_csv(dump[:80]))
    reordered = [
        "({}, '{}', '{}', '{}')".format(
            i, display_name(p).replace("'", "''"), p.dob.isoformat(), p.bsn
        )
        for i, p in enumerate(dump, start=1)
    ]
    (tmp_path / "full.sql").write_text(
        "-- MySQL dump 10.13\nCREATE TABLE `t` (`nr` int, `name` text, `born` date, "
        "`sofinummer` text);\nINSERT INTO `t` (`nr`, `name`, `born`, `sofinummer`) VALUES "
        + ",".join(reordered) + ";\n",
        encoding="utf-8",
    )
    first = run("check-dataset", tmp_path / "sample.csv", "--json", state=state)
    second = run("check-dataset", tmp_path / "full.sql", "--json", state=state)
    third = run("check-dataset", tmp_path / "full.sql", "--json", state=state)
    assert first.json()["dataset"]["seen_before"] == []
    (earlier,) = second.json()["dataset"]["seen_before"]
    # The full dump adds a row number and orders the columns otherwise: the people are
    # the same, and the sample (80 of 800) is a part of it.
    assert earlier["id"] == first.json()["dataset"]["id"]
    assert earlier["relation"] == "contains", earlier
    assert earlier["contained"] >= 0.9 and earlier["similarity"] < 0.2, earlier
    relations = {e["id"]: e["relation"] for e in third.json()["dataset"]["seen_before"]}
    assert relations[second.json()["dataset"]["id"]] == "identical"
    listing = run("datasets", "list", "--json", state=state).json()
    assert [d["id"] for d in listing] == [
        r.json()["dataset"]["id"] for r in (first, second, third)
    ]
    shown = run("datasets", "show", str(third.json()["dataset"]["id"]), state=state)
    assert shown.returncode == 0 and "identical" in shown.stdout, shown
    missing = run("datasets", "show", "999", state=state)
    assert missing.returncode == 2 and "datasets list" in missing.stderr
