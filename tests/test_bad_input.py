"""Bad input through ``check-dataset`` and ``cohort enroll``, black-box.

Files that lie about what they are, are empty, have no usable columns, mix encodings,
have ragged rows, one 50 MB line, are cut off mid-JSON, or sit next to a good file in a
folder. For each: the right exit status (0/1 when something could be scanned, 2 when
nothing could), no traceback, broken records counted in the report, and no raw value from
the file in anything the program printed. All values are synthetic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ResidueScanner,
    Result,
    assert_clean_error,
    person_values,
    run,
    run_many,
    write_rows,
)

from matchers.synthetic import Person, display_name, make_people, write_people_csv

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
LINE_BYTES = 50 * 1024 * 1024


@dataclass
class Case:
    """A bad file, who is in it, and what the commands said about it."""

    path: Path
    people: list[Person]
    check: Result | None = None
    enroll: Result | None = None


def _rows(people: Sequence[Person]) -> list[list[str]]:
    return [[p.bsn, display_name(p), p.dob.isoformat()] for p in people]


HEADER = ["bsn", "naam", "geboortedatum"]


def _make_cases(d: Path, cohort: list[Person], others: list[Person]) -> dict[str, Case]:
    """Each bad file with the people whose values it holds (members first, then others)."""
    cases: dict[str, Case] = {}
    c = iter(cohort)

    def take(n: int) -> list[Person]:
        return [next(c) for _ in range(n)]

    people = take(3) + others[:3]
    (d / "image.csv").write_bytes(PNG + "\n".join(map(";".join, _rows(people))).encode())
    cases["png"] = Case(d / "image.csv", people)

    (d / "empty.csv").write_bytes(b"")
    cases["empty"] = Case(d / "empty.csv", [])

    people = take(5) + others[3:8]
    write_rows(d / "nocols.csv", ["omschrijving", "opmerking"],
               [[display_name(p), p.given_names] for p in people])
    cases["no_columns"] = Case(d / "nocols.csv", people)

    people = take(4) + others[8:12]
    write_rows(d / "noheader.csv", [display_name(people[0]), people[0].postcode],
               [[display_name(p), p.postcode] for p in people[1:]])
    cases["no_header"] = Case(d / "noheader.csv", people)

    # every other line in cp1252, the rest UTF-8, names with diacritics and no BSN
    accented = [p for p in cohort[100:] if not (p.given_names + p.surname).isascii()
                and _encodes(p, "cp1252")][:6]
    lines = [";".join(HEADER).encode()]
    for i, p in enumerate(accented + others[12:18]):
        text = ";".join(["", display_name(p), p.dob.strftime("%d-%m-%Y")])
        lines.append(text.encode("cp1252" if i % 2 else "utf-8", errors="replace"))
    (d / "mixed.csv").write_bytes(b"\n".join(lines) + b"\n")
    cases["mixed"] = Case(d / "mixed.csv", accented + others[12:18])

    people = take(8) + others[18:20]
    rows = _rows(people)
    rows[2] = [*rows[2], "extra", "cells"]
    rows[5] = rows[5][:1]
    write_rows(d / "ragged.csv", HEADER, rows)
    cases["ragged"] = Case(d / "ragged.csv", people)

    # one 50 MB line between good rows, made of personal values a message might quote
    people = take(6)
    big = (";".join(_rows(others[20:21])[0]) + " ").encode()
    with (d / "longline.csv").open("wb") as fh:
        fh.write((";".join(HEADER) + "\n").encode())
        fh.write(("\n".join(map(";".join, _rows(people[:3]))) + "\n").encode())
        fh.write(big * (LINE_BYTES // len(big) + 1) + b"\n")
        fh.write(("\n".join(map(";".join, _rows(people[3:]))) + "\n").encode())
    cases["long_line"] = Case(d / "longline.csv", [*people, others[20]])

    people = take(1)
    one = (";".join(_rows(people)[0]) + ";").encode()
    (d / "oneline.csv").write_bytes(one * (LINE_BYTES // len(one) + 1))
    cases["one_line"] = Case(d / "oneline.csv", people)

    folder = d / "folder"
    folder.mkdir()
    people = take(3)
    write_rows(folder / "good.csv", HEADER, _rows(people))
    (folder / "broken.csv").write_bytes(PNG + ";".join(_rows(others[21:22])[0]).encode())
    cases["folder"] = Case(folder, [*people, others[21]])

    people = take(4)
    text = json.dumps([dict(zip(HEADER, r, strict=True)) for r in _rows(people)])
    (d / "truncated.json").write_text(text[: text.rindex("{") + 25])
    cases["truncated_json"] = Case(d / "truncated.json", people)

    people = take(4)
    text = "".join(json.dumps(dict(zip(HEADER, r, strict=True))) + "\n" for r in _rows(people))
    (d / "truncated.jsonl").write_text(text[:-30])
    cases["truncated_jsonl"] = Case(d / "truncated.jsonl", people)

    # JSON whose object keys are personal values (a dump keyed by BSN or by name)
    people = take(3)
    (d / "keyed.jsonl").write_text("".join(
        json.dumps({p.bsn: {"bsn": p.bsn, "naam": display_name(p),
                            "geboortedatum": p.dob.isoformat()}}) + "\n" for p in people))
    cases["keyed_by_bsn"] = Case(d / "keyed.jsonl", people)
    people = others[22:26]
    (d / "keyed.json").write_text(json.dumps([{display_name(p): p.postcode} for p in people]))
    cases["keyed_by_name"] = Case(d / "keyed.json", people)
    return cases


def _encodes(p: Person, codec: str) -> bool:
    try:
        (p.given_names + p.surname).encode(codec)
    except UnicodeEncodeError:
        return False
    return True


ENROLLED = ("no_columns", "ragged")


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Case]]:
    base = tmp_path_factory.mktemp("bad")
    people = make_people(400, seed=7)
    cohort, others = people[:300], people[300:]
    write_people_csv(base / "cohort.csv", cohort)
    state = base / "state"
    assert run("init", state=state).returncode == 0
    r = run("cohort", "enroll", base / "cohort.csv", "--name", "screening", state=state)
    assert r.returncode == 0, r
    files = base / "files"
    files.mkdir()
    made = _make_cases(files, cohort, others)
    calls: list[tuple[str, str, list[Any]]] = [
        (name, "check", ["check-dataset", case.path, "--cohort", "screening", "--json"])
        for name, case in made.items()
    ]
    calls += [(name, "enroll", ["cohort", "enroll", made[name].path, "--name", f"bad-{name}"])
              for name in ENROLLED]
    # enrollments write to the database: one after the other, the scans side by side
    for name, kind, args in calls:
        if kind == "enroll":
            made[name].enroll = run(*args, state=state)
    # the first scan alone: first scans side by side trip a bug (see test_cli.py)
    made["mixed"].check = run(*next(c[2] for c in calls if c[:2] == ("mixed", "check")),
                              state=state)
    checks = [c for c in calls if c[1] == "check" and c[0] != "mixed"]
    for (name, _, _), result in zip(checks, run_many([c[2] for c in checks], state=state,
                                                     timeout=200), strict=True):
        made[name].check = result
    yield made
    for name in ("long_line", "one_line"):  # 100 MB that nobody needs to keep
        made[name].path.unlink()


def _report(result: Result | None) -> dict[str, Any]:
    assert result is not None
    return result.json()


def _quiet_about_values(result: Result | None, people: Sequence[Person]) -> None:
    """No traceback, and no raw value of anyone in the file in anything printed."""
    assert result is not None
    assert "Traceback" not in result.stderr + result.stdout, result
    scanner = ResidueScanner()
    for p in people:
        scanner.add(*person_values(p))
    hits = scanner.scan({"stdout": result.stdout.encode(), "stderr": result.stderr.encode()})
    assert not hits, f"{result}\nraw values printed: {[str(h) for h in hits]}"


@pytest.mark.parametrize("name", ["png", "empty", "no_columns", "no_header"])
def test_unreadable_file_is_a_clean_error(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    r = case.check
    assert r is not None
    assert r.returncode == 2, r
    assert r.stdout == "", r
    assert r.stderr.strip().splitlines()[-1].startswith("cohortwatch: error:"), r
    assert case.path.name in r.stderr, r
    _quiet_about_values(r, case.people)


def test_messages_say_why(cases: dict[str, Case]) -> None:
    assert "image" in cases["png"].check.stderr  # type: ignore[union-attr]
    assert "empty" in cases["empty"].check.stderr  # type: ignore[union-attr]
    assert "--map" in cases["no_columns"].check.stderr  # type: ignore[union-attr]


def test_one_50_mb_line_is_read_as_text(cases: dict[str, Case]) -> None:
    # No table can be delimited in it, so it is scanned as a document: the BSN in it is
    # found (once per member), in bounded time and memory, without a traceback.
    case = cases["one_line"]
    report = _report(case.check)
    assert case.check is not None and case.check.returncode == 1, case.check
    assert report["dataset"]["files"][0]["format"] == "text"
    assert [m["ref"] for m in report["matches"]] == [p.ref for p in case.people]
    _quiet_about_values(case.check, case.people)


@pytest.mark.parametrize("name", ["no_columns"])
def test_enroll_refuses_unusable_file(cases: dict[str, Case], name: str) -> None:
    r = cases[name].enroll
    assert r is not None
    assert_clean_error(r)
    _quiet_about_values(r, cases[name].people)


def test_mixed_encodings_are_read(cases: dict[str, Case]) -> None:
    case = cases["mixed"]
    r = case.check
    assert r is not None and r.returncode == 1, r
    report = _report(r)
    found = {(m["ref"], m["method"]) for m in report["matches"]}
    # members on UTF-8 lines and on cp1252 lines, found by names with diacritics
    assert found == {(p.ref, "name_dob") for p in case.people[:6]}
    _quiet_about_values(r, case.people)


def test_ragged_rows_are_counted_and_skipped(cases: dict[str, Case]) -> None:
    case = cases["ragged"]
    r = case.check
    assert r is not None and r.returncode == 1, r
    report = _report(r)
    assert report["summary"]["skipped_records"] == 2
    [f] = report["dataset"]["files"]
    assert f["skipped_records"] == 2 and f["records"] == len(case.people) - 2
    assert {m["ref"] for m in report["matches"]} == {
        p.ref for i, p in enumerate(case.people[:8]) if i not in (2, 5)}
    _quiet_about_values(r, case.people)


def test_enroll_counts_unreadable_rows(cases: dict[str, Case]) -> None:
    r = cases["ragged"].enroll
    assert r is not None and r.returncode == 0, r
    assert "unreadable rows: 2" in r.stdout, r
    assert "8 enrolled from 8 rows" in r.stdout, r
    _quiet_about_values(r, cases["ragged"].people)


def test_50_mb_line_is_skipped_and_the_rest_scanned(cases: dict[str, Case]) -> None:
    case = cases["long_line"]
    r = case.check
    assert r is not None and r.returncode == 1, r
    report = _report(r)
    assert report["summary"]["skipped_records"] >= 1
    assert {m["ref"] for m in report["matches"]} == {p.ref for p in case.people[:6]}
    _quiet_about_values(r, case.people)


def test_folder_with_a_broken_file(cases: dict[str, Case]) -> None:
    case = cases["folder"]
    r = case.check
    assert r is not None and r.returncode == 1, r
    report = _report(r)
    files = {f["path"]: f for f in report["dataset"]["files"]}
    assert set(files) == {"folder/good.csv", "folder/broken.csv"}
    assert files["folder/good.csv"]["status"] == "scanned"
    assert files["folder/good.csv"]["records"] == 3
    assert files["folder/broken.csv"]["status"] == "skipped"
    assert files["folder/broken.csv"]["reason"]
    assert report["summary"]["files_skipped"] == 1
    assert {m["ref"] for m in report["matches"]} == {p.ref for p in case.people[:3]}
    _quiet_about_values(r, case.people)


@pytest.mark.parametrize("name", ["truncated_json", "truncated_jsonl"])
def test_truncated_json_keeps_what_is_whole(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    r = case.check
    assert r is not None and r.returncode == 1, r
    report = _report(r)
    assert report["summary"]["skipped_records"] >= 1
    assert {m["ref"] for m in report["matches"]} == {p.ref for p in case.people[:3]}
    _quiet_about_values(r, case.people)


def test_json_keyed_by_name_error_shows_no_names(cases: dict[str, Case]) -> None:
    case = cases["keyed_by_name"]
    assert case.check is not None and case.check.returncode == 2, case.check
    _quiet_about_values(case.check, case.people)


def test_json_keyed_by_bsn_report_shows_no_bsn(cases: dict[str, Case]) -> None:
    case = cases["keyed_by_bsn"]
    assert case.check is not None and case.check.returncode in (0, 1), case.check
    _quiet_about_values(case.check, case.people)


def test_cases_cover_every_file(cases: dict[str, Case]) -> None:
    """Every bad file was run, and its people do appear in it (the value checks bite)."""
    for name, case in cases.items():
        assert case.check is not None, name
        if case.path.is_file() and case.people and name != "png":
            scanner = ResidueScanner()
            for p in case.people:
                scanner.add(*person_values(p))
            head = case.path.read_bytes()[:200_000]
            assert scanner.scan({name: head}), f"{name}: its people are not in the file"
