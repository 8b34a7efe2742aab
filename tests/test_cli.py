"""The ``cohortwatch`` command line, black-box: every command run as a user runs it.

Each test looks only at what a user sees: exit status, stdout, stderr and the files in the
state directory. Starting the program dominates the time, so the command sequences of this
module are *scenarios* (see :class:`conftest.Scenarios`) that run side by side; each test
asserts on the outcome of one of them. All people are synthetic.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import re
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import (
    REPO,
    Outcomes,
    Result,
    Scenarios,
    assert_clean_error,
    run,
    run_many,
    start,
    write_rows,
)

from matchers.synthetic import (
    PEOPLE_COLUMNS,
    Person,
    display_name,
    format_date,
    make_people,
    reformat_bsn,
    typo_bsn,
    write_people_csv,
)

LEAK_HEADER = ["Patient BSN", "Naam", "Geboortedatum", "Postcode", "Uitslag"]
METHODS = {"bsn", "bsn_corrected", "name_dob"}
scenario = Scenarios()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcomes]:
    started = scenario.start(tmp_path_factory.mktemp("cli"))
    yield started
    started.wait()


def _counts(result: Result) -> dict[str, int]:
    """The numbers `cohort enroll` prints."""
    out = result.stdout
    m = re.search(r"(\d+) enrolled from (\d+) rows", out)
    assert m, result
    counts = {"enrolled": int(m[1]), "rows": int(m[2])}
    for key, label in (("invalid", "invalid BSN"), ("duplicates", "duplicates"),
                       ("missing", "missing fields"), ("members", "members now")):
        found = re.search(rf"{label}:\s+(\d+)", out)
        assert found, (label, result)
        counts[key] = int(found[1])
    return counts


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _ok(result: Result, code: int = 0) -> Result:
    """Fail the scenario early (with the output) when a set-up command did not work."""
    assert result.returncode == code, result
    return result


def _refs(result: Result) -> set[str]:
    return {m["ref"] for m in result.json()["matches"]}


# --------------------------------------------------------------------------- init and key


@scenario
def init_and_key_modes(tmp: Path) -> dict[str, Any]:
    state = tmp / "deep" / "er" / "state"
    key = state / "secret.key"
    out: dict[str, Any] = {"state": state, "key": key}
    out["first"] = run("init", state=state)
    out["key_mode"], out["state_mode"] = _mode(key), _mode(state)
    out["key_bytes"] = key.read_bytes()
    out["again"] = run("init", state=state)
    out["key_bytes_after"] = key.read_bytes()
    key.chmod(0o644)
    out["readable"] = run("cohort", "list", state=state)
    key.chmod(0o400)
    out["read_only"] = run("cohort", "list", state=state)
    return out


def test_init_creates_state_dir_and_private_key(outcomes: Outcomes) -> None:
    o = outcomes["init_and_key_modes"]
    assert o["first"].returncode == 0, o["first"]
    assert "created" in o["first"].stdout
    assert len(o["key_bytes"]) == 32
    assert o["key_mode"] == 0o600
    assert o["state_mode"] & 0o077 == 0, "state directory open to group/others"


def test_init_is_idempotent(outcomes: Outcomes) -> None:
    o = outcomes["init_and_key_modes"]
    assert o["again"].returncode == 0, o["again"]
    assert "kept existing" in o["again"].stdout, o["again"]
    assert o["key_bytes_after"] == o["key_bytes"], "init replaced an existing key"


def test_key_readable_by_others_is_refused(outcomes: Outcomes) -> None:
    r = outcomes["init_and_key_modes"]["readable"]
    assert_clean_error(r)
    assert "chmod 600" in r.stderr, r


def test_key_mode_0400_is_accepted(outcomes: Outcomes) -> None:
    r = outcomes["init_and_key_modes"]["read_only"]
    assert r.returncode == 0, r
    assert "no cohorts enrolled" in r.stdout, r


@scenario
def credential(tmp: Path) -> dict[str, Any]:
    creds = tmp / "credentials"
    creds.mkdir()
    key = creds / "cohortwatch.key"
    key.write_bytes(hashlib.sha256(b"a systemd credential").digest())
    key.chmod(0o400)
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    state = tmp / "state"
    people = make_people(20, seed=41)
    write_people_csv(tmp / "cohort.csv", people)
    write_rows(tmp / "leak.csv", ["bsn"], [[people[3].bsn]])
    return {
        "key": key,
        "state": state,
        "member": people[3].ref,
        "init": run("init", state=state, env=env),
        "enroll": run("cohort", "enroll", tmp / "cohort.csv", "--name", "c", state=state,
                      env=env),
        "check": run("check-dataset", tmp / "leak.csv", "--json", state=state, env=env),
    }


def test_systemd_credential_key_is_used(outcomes: Outcomes) -> None:
    o = outcomes["credential"]
    assert o["init"].returncode == 0, o["init"]
    assert str(o["key"]) in o["init"].stdout, o["init"]
    assert not (o["state"] / "secret.key").exists(), "init made a key beside the credential"
    assert o["enroll"].returncode == 0, o["enroll"]
    assert o["check"].returncode == 1, o["check"]
    assert _refs(o["check"]) == {o["member"]}


@scenario
def state_directory(tmp: Path) -> dict[str, Any]:
    work = tmp / "work"
    work.mkdir()
    first, second = tmp / "sd1", tmp / "sd2"
    return {
        "first": first, "second": second, "work": work,
        "init": run("init", env={"STATE_DIRECTORY": f"{first}:{second}"}, cwd=work),
    }


def test_state_directory_from_environment(outcomes: Outcomes) -> None:
    o = outcomes["state_directory"]
    assert o["init"].returncode == 0, o["init"]
    assert (o["first"] / "secret.key").is_file()
    assert not o["second"].exists()
    assert not (o["work"] / ".cohortwatch").exists()


# --------------------------------------------------------------------------- enroll


def _counts_file(tmp: Path) -> Path:
    """14 rows: 12 people (2 with an invalid BSN, still usable by names + birth date),
    1 repeated ref, 1 row with nothing but a ref."""
    rng = random.Random(3)
    people = make_people(13, seed=51, ref_prefix="N")
    good, other = people[:12], people[12]
    rows = [[p.ref, p.bsn, p.given_names, p.initials, p.prefix, p.surname,
             p.dob.strftime("%d-%m-%Y"), p.postcode] for p in good]
    rows[4][1] = typo_bsn(rows[4][1], rng)
    rows[9][1] = typo_bsn(rows[9][1], rng)
    rows.append([good[0].ref, other.bsn, other.given_names, other.initials, other.prefix,
                 other.surname, other.dob.strftime("%d-%m-%Y"), other.postcode])
    rows.append(["N9999999", "", "", "", "", "", "", ""])
    return write_rows(tmp / "members.csv", PEOPLE_COLUMNS, rows)


def _odd_headers_file(tmp: Path) -> tuple[Path, Path, set[str]]:
    """Members under headers nobody would guess, and a names-only leak of three of them."""
    people = make_people(25, seed=52, ref_prefix="M")
    header = ["Kolom A", "Kolom B", "Kolom C", "Kolom D", "Kolom E"]
    rows = [[p.bsn, p.first_name, f"{p.prefix} {p.surname}".strip(), p.dob.isoformat(),
             f"M-{p.ref}"] for p in people]
    path = write_rows(tmp / "odd.csv", header, rows, delimiter=",")
    leak = write_rows(tmp / "names.csv", ["naam", "geboortedatum"],
                      [[display_name(p, "first"), p.dob.isoformat()] for p in people[:3]])
    return path, leak, {f"M-{p.ref}" for p in people[:3]}


def _xlsx_file(tmp: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(PEOPLE_COLUMNS))
    for p in make_people(40, seed=53, ref_prefix="X"):
        ws.append([p.ref, p.bsn, p.given_names, p.initials, p.prefix, p.surname, p.dob,
                   p.postcode])
    wb.save(tmp / "members.xlsx")
    return tmp / "members.xlsx"


def _cp1252(p: Person) -> bool:
    try:
        (p.given_names + p.surname).encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _cp1252_files(tmp: Path) -> tuple[dict[str, Path], Path, set[str]]:
    """';', TAB and '|' member files in cp1252 (three people with diacritics in each), and
    a leak naming those nine without BSN: only right decoding lets them be found."""
    pool = [p for p in make_people(600, seed=54, ref_prefix="D") if _cp1252(p)]
    accented = [p for p in pool if not (p.given_names + p.surname).isascii()][:9]
    assert len(accented) == 9
    plain = [p for p in pool if (p.given_names + p.surname).isascii()]
    files = {}
    for i, delimiter in enumerate((";", "\t", "|")):
        path = tmp / f"members{i}.csv"
        write_people_csv(path, accented[3 * i : 3 * i + 3] + plain[20 * i : 20 * i + 20],
                         delimiter=delimiter, encoding="cp1252")
        assert not path.read_bytes().isascii()
        files[delimiter] = path
    leak = write_rows(tmp / "leak.csv", ["naam", "geboortedatum"],
                      [[display_name(p), p.dob.isoformat()] for p in accented])
    return files, leak, {p.ref for p in accented}


@scenario
def enrolments(tmp: Path) -> dict[str, Any]:
    """Enrollments of several kinds of member file, one cohort each, in one state dir."""
    state = tmp / "state"
    out: dict[str, Any] = {}
    _ok(run("init", state=state))
    counts = _counts_file(tmp)
    out["counts"] = run("cohort", "enroll", counts, "--name", "counts", state=state)
    out["counts_again"] = run("cohort", "enroll", counts, "--name", "counts", state=state)
    odd, odd_leak, out["mapped_refs"] = _odd_headers_file(tmp)
    out["mapped"] = run("cohort", "enroll", odd, "--name", "mapped",
                        "--map", "bsn=Kolom A", "--map", "given=Kolom B",
                        "--map", "surname=Kolom C", "--map", "dob=Kolom D",
                        "--ref-column", "Kolom E", state=state)
    out["xlsx"] = run("cohort", "enroll", _xlsx_file(tmp), "--name", "xlsx", state=state)
    files, cp_leak, out["cp1252_refs"] = _cp1252_files(tmp)
    out["cp1252"] = {
        delimiter: run("cohort", "enroll", path, "--name", "cp1252", state=state)
        for delimiter, path in files.items()
    }
    # one after the other: two first scans side by side trip a bug (see busy_database)
    out["mapped_check"] = run("check-dataset", odd_leak, "--cohort", "mapped", "--json",
                              state=state)
    out["cp1252_check"] = run("check-dataset", cp_leak, "--cohort", "cp1252", "--json",
                              state=state)
    # several cohorts side by side: list, remove, and the need to name one
    out["list"] = run("cohort", "list", state=state)
    out["removed"] = run("cohort", "remove", "xlsx", state=state)
    out["list_after"], out["removed_again"], out["unnamed"] = run_many(
        [["cohort", "list"], ["cohort", "remove", "xlsx"], ["check-dataset", cp_leak]],
        state=state)
    return out


def test_enroll_prints_counts(outcomes: Outcomes) -> None:
    first = outcomes["enrolments"]["counts"]
    assert first.returncode == 0, first
    assert _counts(first) == {"enrolled": 12, "rows": 14, "invalid": 2, "duplicates": 1,
                              "missing": 1, "members": 12}, first


def test_enroll_again_is_idempotent(outcomes: Outcomes) -> None:
    again = outcomes["enrolments"]["counts_again"]
    assert again.returncode == 0, again
    assert _counts(again)["members"] == 12, again


def test_enroll_with_map_for_odd_headers(outcomes: Outcomes) -> None:
    o = outcomes["enrolments"]
    enroll = o["mapped"]
    assert enroll.returncode == 0, enroll
    assert _counts(enroll)["enrolled"] == 25, enroll
    for part in ("bsn=Kolom A", "given=Kolom B", "surname=Kolom C", "dob=Kolom D",
                 "ref=Kolom E"):
        assert part in enroll.stdout, enroll
    # the mapped name columns were really encoded: found by name + birth date alone
    check = o["mapped_check"]
    assert check.returncode == 1, check
    assert {(m["ref"], m["method"]) for m in check.json()["matches"]} == {
        (ref, "name_dob") for ref in o["mapped_refs"]}


def test_enroll_xlsx(outcomes: Outcomes) -> None:
    enroll = outcomes["enrolments"]["xlsx"]
    assert enroll.returncode == 0, enroll
    assert _counts(enroll)["enrolled"] == 40, enroll
    assert "bsn=bsn" in enroll.stdout and "dob=geboortedatum" in enroll.stdout, enroll


def test_enroll_semicolon_tab_pipe_cp1252(outcomes: Outcomes) -> None:
    o = outcomes["enrolments"]
    for n, (delimiter, r) in enumerate(o["cp1252"].items(), start=1):
        assert r.returncode == 0, (repr(delimiter), r)
        assert _counts(r)["enrolled"] == 23, (repr(delimiter), r)
        assert _counts(r)["members"] == 23 * n, (repr(delimiter), r)
    check = o["cp1252_check"]
    assert check.returncode == 1, check
    assert {(m["ref"], m["method"]) for m in check.json()["matches"]} == {
        (ref, "name_dob") for ref in o["cp1252_refs"]}


# --------------------------------------------------------------------------- cohorts


def test_cohort_list(outcomes: Outcomes) -> None:
    listing = outcomes["enrolments"]["list"]
    assert listing.returncode == 0, listing
    for name, count in (("counts", 12), ("mapped", 25), ("xlsx", 40), ("cp1252", 69)):
        assert re.search(rf"^{name}\t{count} members\tupdated \S+$", listing.stdout,
                         re.M), listing


def test_cohort_remove(outcomes: Outcomes) -> None:
    o = outcomes["enrolments"]
    assert o["removed"].returncode == 0, o["removed"]
    assert "removed (40 members)" in o["removed"].stdout, o["removed"]
    assert o["list_after"].returncode == 0, o["list_after"]
    assert not re.search(r"^xlsx\t", o["list_after"].stdout, re.M), o["list_after"]
    assert re.search(r"^mapped\t25 members", o["list_after"].stdout, re.M), o["list_after"]
    assert_clean_error(o["removed_again"])  # it is gone: removing it again is an error
    assert "xlsx" in o["removed_again"].stderr


def test_several_cohorts_need_cohort_option(outcomes: Outcomes) -> None:
    o = outcomes["enrolments"]
    assert_clean_error(o["unnamed"])
    assert "--cohort" in o["unnamed"].stderr, o["unnamed"]
    # with --cohort each scan used the cohort named (see the map and cp1252 tests)
    assert o["mapped_check"].json()["cohort"] == "mapped"
    assert o["cp1252_check"].json()["cohort"] == "cp1252"


# --------------------------------------------------------------------------- check-dataset


def _date_swapped(d: datetime.date) -> str:
    """The birth date with day and month exchanged, written dd-mm-yyyy."""
    return f"{d.month:02d}-{d.day:02d}-{d.year}"


def _other_year(d: datetime.date, years: int) -> datetime.date:
    """Same day and month, another year."""
    return d.replace(year=d.year - years, day=min(d.day, 28))


def _other_date(d: datetime.date) -> datetime.date:
    """A birth date that differs in day, month and year, and is no day/month swap."""
    e = d - datetime.timedelta(days=3 * 365 + 45)
    while e.day in (d.day, d.month) or e.month in (d.month, d.day):
        e -= datetime.timedelta(days=1)
    return e


@dataclass
class Leak:
    """A leaked CSV built row by row, remembering whose each row is."""

    rows: list[list[str]] = field(default_factory=list)
    member_at: dict[int, str] = field(default_factory=dict)  # record (1-based) -> ref
    expect: dict[str, tuple[str, int]] = field(default_factory=dict)  # ref -> (method, record)
    absent: set[str] = field(default_factory=set)  # members that must not be reported

    def add(self, bsn: str, name: str, dob: str, postcode: str, ref: str | None = None) -> int:
        self.rows.append([bsn, name, dob, postcode, "negatief"])
        if ref is not None:
            self.member_at[len(self.rows)] = ref
        return len(self.rows)


def _build_leak(cohort: list[Person], outsiders: list[Person]) -> Leak:
    """Members in every variant the matcher promises to find, and some it must not."""
    rng = random.Random(2025)
    leak = Leak()
    used: set[str] = set()

    def pick(want: Callable[[Person], bool] = lambda p: True) -> Person:
        p = next(p for p in cohort if p.ref not in used and want(p))
        used.add(p.ref)
        return p

    def member(p: Person, method: str, bsn: str, name: str, dob: str) -> None:
        leak.expect[p.ref] = (method, leak.add(bsn, name, dob, p.postcode, p.ref))

    def prefixed(p: Person) -> bool:
        return bool(p.prefix)

    for o in outsiders[:40]:  # bystanders first: member records are not simply 1..n
        leak.add(o.bsn, display_name(o), format_date(o.dob, rng, "iso"), o.postcode)
    for _ in range(3):
        p = pick()
        member(p, "bsn", p.bsn, display_name(p), format_date(p.dob, rng, "dmy_dash"))
    for style in ("space", "dots"):  # '123 456 782', '1234.56.782'
        p = pick()
        member(p, "bsn", reformat_bsn(p.bsn, rng, style), display_name(p, "first"),
               format_date(p.dob, rng, "iso"))
    p = pick(lambda p: p.bsn.startswith("0"))  # 8 digits: the leading zero lost
    member(p, "bsn", reformat_bsn(p.bsn, rng, "eight"), display_name(p), p.dob.isoformat())
    for _ in range(3):
        p = pick()
        member(p, "bsn_corrected", typo_bsn(p.bsn, rng), display_name(p),
               format_date(p.dob, rng, "dmy_dash"))
    # names + birth date, no BSN: 'Vries, Jan de', 'J. de Vries', day/month swapped
    p = pick(prefixed)
    member(p, "name_dob", "", display_name(p, "inverted"), format_date(p.dob, rng, "dmy_dash"))
    p = pick(prefixed)
    member(p, "name_dob", "", display_name(p, "initials", given=p.first_name),
           format_date(p.dob, rng, "iso"))
    p = pick(prefixed)
    member(p, "name_dob", "", display_name(p, "full"), format_date(p.dob, rng, "dmy_slash"))
    p = pick(lambda p: p.dob.day <= 12 and p.dob.day != p.dob.month)
    member(p, "name_dob", "", display_name(p), _date_swapped(p.dob))
    # one member twice: a weaker name-only row first, the exact BSN row later
    p = pick(prefixed)
    leak.add("", display_name(p, "initials", given=p.first_name), p.dob.isoformat(), "", p.ref)
    for o in outsiders[40:50]:
        leak.add(o.bsn, display_name(o), format_date(o.dob, rng, "iso"), o.postcode)
    member(p, "bsn", p.bsn, display_name(p), p.dob.isoformat())
    # must NOT match: a BSN typo in a row whose birth date is another one ...
    p = pick()
    leak.add(typo_bsn(p.bsn, rng), display_name(p), _other_year(p.dob, 7).isoformat(), "")
    leak.absent.add(p.ref)
    p = pick()
    leak.add(typo_bsn(p.bsn, rng), display_name(p), _other_date(p.dob).isoformat(), "")
    leak.absent.add(p.ref)
    # ... and namesakes born on another day, elsewhere
    p = pick()
    leak.add("", display_name(p), _other_year(p.dob, 3).isoformat(), "")
    leak.absent.add(p.ref)
    p = pick()
    leak.add("", display_name(p), _other_date(p.dob).isoformat(), outsiders[-1].postcode)
    leak.absent.add(p.ref)
    # no birth date at all: the full name and the postcode carry it
    p = pick()
    member(p, "name_dob", "", display_name(p, "full"), "")
    for o in outsiders[50:80]:
        leak.add(o.bsn, display_name(o), format_date(o.dob, rng, "dmy_dash"), o.postcode)
    return leak


@scenario
def world(tmp: Path) -> dict[str, Any]:
    """One enrolled cohort, one leak with every variant, then scans of it side by side."""
    people = make_people(420, seed=11)
    cohort, outsiders = people[:300], people[300:]
    write_people_csv(tmp / "cohort.csv", cohort)
    state = tmp / "state"
    _ok(run("init", state=state))
    _ok(run("cohort", "enroll", tmp / "cohort.csv", "--name", "screening", "--ref-column",
            "ref", state=state))
    leak = _build_leak(cohort, outsiders)
    leak_path = write_rows(tmp / "leak.csv", LEAK_HEADER, leak.rows)
    first = run("check-dataset", leak_path, "--json", state=state)

    rng = random.Random(8)
    clean = write_rows(tmp / "clean.csv", LEAK_HEADER,
                       [[o.bsn, display_name(o), format_date(o.dob, rng), o.postcode, "x"]
                        for o in outsiders[80:]])
    pets = write_rows(tmp / "pets.csv", ["kleur", "dier"],
                      [["rood", "kat"], ["blauw", "hond"], ["groen", "vis"]])
    c, o = cohort, outsiders
    jsonl = tmp / "dump.jsonl"
    jsonl.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in [
        {"bsn": c[200].bsn, "naam": display_name(c[200]), "geboortedatum": str(c[200].dob)},
        {"bsn": o[0].bsn, "naam": display_name(o[0]), "geboortedatum": str(o[0].dob)},
        {"bsn": None, "naam": display_name(c[201], "inverted"),
         "geboortedatum": c[201].dob.strftime("%d-%m-%Y")},
    ]), encoding="utf-8")
    array = tmp / "dump.json"
    array.write_text(json.dumps([
        {"id": 1, "persoon": {"voornaam": o[1].first_name, "achternaam": o[1].surname,
                              "tussenvoegsel": o[1].prefix, "geboortedatum": str(o[1].dob)},
         "burgerservicenummer": o[1].bsn},
        {"id": 2, "persoon": {"voornaam": c[202].first_name, "achternaam": c[202].surname,
                              "tussenvoegsel": c[202].prefix, "geboortedatum": str(c[202].dob)},
         "burgerservicenummer": c[202].bsn},
    ], ensure_ascii=False, indent=1), encoding="utf-8")
    folder = tmp / "dump"
    (folder / "sub").mkdir(parents=True)
    write_rows(folder / "a.csv", ["bsn", "naam"], [[c[210].bsn, "x"], [c[211].bsn, "y"]])
    (folder / "sub" / "b.jsonl").write_text(json.dumps({"bsn": c[212].bsn}) + "\n")

    names = ["second", "human", "none", "missing", "unknown", "unusable", "jsonl", "array",
             "folder"]
    results = run_many([
        ["check-dataset", leak_path, "--json"],
        ["check-dataset", leak_path],
        ["check-dataset", clean, "--json"],
        ["check-dataset", tmp / "no-such.csv"],
        ["check-dataset", leak_path, "--cohort", "nope"],
        ["check-dataset", pets],
        ["check-dataset", jsonl, "--json"],
        ["check-dataset", array, "--json"],
        ["check-dataset", folder, "--json"],
    ], state=state)
    return {"cohort": cohort, "outsiders": outsiders, "leak": leak, "leak_path": leak_path,
            "first": first, **dict(zip(names, results, strict=True))}


def test_check_dataset_exit_0_when_no_member(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    r = o["none"]
    assert r.returncode == 0, r
    assert r.json()["matches"] == [] and r.json()["summary"]["members_matched"] == 0
    assert r.json()["dataset"]["records"] == len(o["outsiders"]) - 80


def test_check_dataset_exit_1_and_human_report(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    r = o["human"]
    assert r.returncode == 1, r
    assert r.stdout.startswith(f"FOUND {len(o['leak'].expect)} members"), r
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("case", ["missing", "unknown", "unusable"])
def test_check_dataset_errors_exit_2(outcomes: Outcomes, case: str) -> None:
    r = outcomes["world"][case]
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr + r.stdout, r
    assert r.stderr.strip().splitlines()[-1].startswith("cohortwatch: error:"), r
    assert r.stdout == "", r


@pytest.mark.parametrize("case", ["missing", "unknown"])
def test_check_dataset_error_is_one_line(outcomes: Outcomes, case: str) -> None:
    assert_clean_error(outcomes["world"][case])


def test_unusable_single_file_error_is_one_line(outcomes: Outcomes) -> None:
    assert_clean_error(outcomes["world"]["unusable"])


def test_json_report_shape(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    r, leak = o["first"], o["leak"]
    assert r.returncode == 1, r
    report = r.json()
    assert report["schema"] == "cohortwatch.report/1"
    assert report["cohort"] == "screening"
    data = o["leak_path"].read_bytes()
    ds = report["dataset"]
    assert ds["sha256"] == hashlib.sha256(data).hexdigest()
    assert ds["bytes"] == len(data)
    assert ds["records"] == len(leak.rows)
    assert isinstance(ds["fingerprint"], dict)
    assert ds["seen_before"] == []
    [f] = ds["files"]
    assert f["path"] == "leak.csv"
    assert f["sha256"] == ds["sha256"]
    assert f["format"] == "csv"
    assert f["records"] == len(leak.rows)

    summary, matches = report["summary"], report["matches"]
    assert summary["members_matched"] == len(matches)
    assert set(summary["by_method"]) == METHODS
    for method in METHODS:
        assert summary["by_method"][method] == sum(m["method"] == method for m in matches)
    for m in matches:
        assert {"ref", "method", "score", "file", "record"} <= set(m), m
        assert m["method"] in METHODS
        assert isinstance(m["score"], float) and 0 < m["score"] <= 1, m
        assert m["file"] == "leak.csv"
        assert isinstance(m["record"], int)
        # 1-based data row, header excluded, and that row is this member's
        assert leak.member_at.get(m["record"]) == m["ref"], m
    refs = [m["ref"] for m in matches]
    assert len(refs) == len(set(refs)), "a member is listed more than once"
    if "records_matched" in summary:  # an extra key: both rows of the member seen twice
        assert sum(summary["records_matched"].values()) == len(matches) + 1, summary


def test_each_method_finds_its_members(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    matches = {m["ref"]: m for m in o["first"].json()["matches"]}
    assert {ref: (m["method"], m["record"]) for ref, m in matches.items()} == o["leak"].expect
    assert all(m["score"] == 1.0 for m in matches.values() if m["method"] == "bsn")


def test_contradicted_typo_and_namesakes_are_not_matched(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    assert len(o["leak"].absent) == 4
    assert not o["leak"].absent & _refs(o["first"])


def test_seen_before_lists_the_first_scan(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    first, second = o["first"].json(), o["second"]
    assert second.returncode == 1, second
    assert second.json()["dataset"]["sha256"] == first["dataset"]["sha256"]
    seen = second.json()["dataset"]["seen_before"]
    assert seen, second
    assert seen[0]["id"] == first["dataset"]["id"]


def test_json_lines_and_json_array_dumps(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    c = o["cohort"]
    rl, ra = o["jsonl"], o["array"]
    assert rl.returncode == 1, rl
    assert ra.returncode == 1, ra
    assert rl.json()["dataset"]["files"][0]["format"] == "jsonl"
    assert ra.json()["dataset"]["files"][0]["format"] == "json"
    assert {(m["ref"], m["method"], m["record"]) for m in rl.json()["matches"]} == {
        (c[200].ref, "bsn", 1), (c[201].ref, "name_dob", 3)}
    assert [(m["ref"], m["record"]) for m in ra.json()["matches"]] == [(c[202].ref, 2)]


def test_folder_argument_scans_every_file(outcomes: Outcomes) -> None:
    o = outcomes["world"]
    c, r = o["cohort"], o["folder"]
    assert r.returncode == 1, r
    report = r.json()
    assert sorted(f["path"] for f in report["dataset"]["files"]) == [
        "dump/a.csv", "dump/sub/b.jsonl"]
    assert report["dataset"]["records"] == 3
    assert {(m["ref"], m["file"], m["record"]) for m in report["matches"]} == {
        (c[210].ref, "dump/a.csv", 1), (c[211].ref, "dump/a.csv", 2),
        (c[212].ref, "dump/sub/b.jsonl", 1)}


@scenario
def busy_database(tmp: Path) -> dict[str, Any]:
    """The first scan of a state directory while another process (the daemon, a second
    scan) holds the database's write lock for a few seconds."""
    people = make_people(20, seed=61)
    write_people_csv(tmp / "cohort.csv", people)
    leak = write_rows(tmp / "leak.csv", ["bsn"], [[people[4].bsn]])
    state = tmp / "state"
    _ok(run("init", state=state))
    _ok(run("cohort", "enroll", tmp / "cohort.csv", "--name", "c", state=state))
    other = sqlite3.connect(state / "cohortwatch.db", isolation_level=None, timeout=30)
    try:
        other.execute("BEGIN IMMEDIATE")
        scan = start("check-dataset", leak, "--json", state=state)
        deadline = time.monotonic() + 6
        while scan.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        other.execute("ROLLBACK")
    finally:
        other.close()
    return {"scan": scan.result(), "member": people[4].ref}


def test_first_scan_waits_for_a_busy_database(outcomes: Outcomes) -> None:
    o = outcomes["busy_database"]
    assert o["scan"].returncode == 1, o["scan"]
    assert _refs(o["scan"]) == {o["member"]}


# --------------------------------------------------------------------------- help, docs, demo


def _commands(help_text: str) -> list[str]:
    section = help_text.split("Commands:", 1)[1]
    return [m[1] for m in re.finditer(r"^  ([a-z][\w-]*)\s", section, re.M)]


@scenario
def helps(tmp: Path) -> dict[str, Any]:
    top, group = run_many([["--help"], ["cohort", "--help"]], cwd=tmp)
    paths = [[name] for name in _commands(top.stdout)]
    paths += [["cohort", name] for name in _commands(group.stdout)]
    results = run_many([[*p, "--help"] for p in paths if p != ["cohort"]], cwd=tmp)
    return {"top": top, "group": group, "paths": paths,
            "results": [top, group, *results]}


def test_every_command_has_help(outcomes: Outcomes) -> None:
    o = outcomes["helps"]
    assert {"init", "cohort", "check-dataset", "demo"} <= {p[0] for p in o["paths"]}, o["top"]
    assert {"enroll", "list", "remove"} <= {p[1] for p in o["paths"] if len(p) == 2}
    for result in o["results"]:
        assert result.returncode == 0, result
        assert "Usage:" in result.stdout, result
        assert result.stderr == "", result


def test_every_command_is_documented_in_readme(outcomes: Outcomes) -> None:
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.xfail("README.md is not written yet")
    text = readme.read_text(encoding="utf-8")
    paths = outcomes["helps"]["paths"]
    missing = [" ".join(p) for p in paths if f"cohortwatch {' '.join(p)}" not in text]
    assert not missing, f"commands not in README.md: {missing}"


@scenario
def demo(tmp: Path) -> dict[str, Any]:
    private = tmp / "tmpdir"
    private.mkdir()
    result = run("demo", cwd=tmp, env={"TMPDIR": str(private)}, timeout=300)
    return {"result": result, "left": sorted(p.name for p in tmp.iterdir()),
            "tmp_left": list(private.iterdir())}


def test_demo_runs_and_finds_members(outcomes: Outcomes) -> None:
    o = outcomes["demo"]
    assert o["result"].returncode == 0, o["result"]
    out = o["result"].stdout
    assert "FOUND" in out, o["result"]
    # The daemon part: post detected, dataset matched, both alerts signed and verified.
    assert "WITHOUT Tor" in out and "every signature verified (0 rejected)" in out
    assert "post.watchlist_matched  webhook-id msg_" in out
    assert "dataset.matched  webhook-id msg_" in out and "60 members" in out
    assert o["left"] == ["tmpdir"] and o["tmp_left"] == [], "the demo left files behind"
