"""The name + birth-date decision table, through the library as a scan uses it.

Each test enrolls a handful of synthetic members and checks one leaked row at a time, so a
failure names the rule that broke. The CLI tests cover the same engine end to end.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import write_rows

from matchers.cohort import CohortStore
from matchers.encode import RecordEncoder
from matchers.engine import MatchSettings
from matchers.errors import CohortError
from matchers.scan import ScanOptions, check_dataset
from matchers.snapshot import sort_blocks
from matchers.store import open_db

KEY = hashlib.sha256(b"test_matching").digest()
HEADER = ("ref", "voornaam", "tussenvoegsel", "achternaam", "geboortedatum", "postcode")
MEMBERS = [
    ("M1", "Anneke", "de", "Vries", "1975-03-12", "1234 AB"),
    ("M2", "Pieter", "", "Bakker", "1982-11-04", "5678 CD"),
    ("M3", "Sanne", "van", "Dijk", "1990-07-21", "9012 EF"),
    ("M4", "Willemijn", "", "Hoekstra", "1968-01-30", "3456 GH"),
]
LEAK_HEADER = HEADER[1:]


@pytest.fixture
def store(tmp_path: Path) -> CohortStore:
    state = tmp_path / "state"
    state.mkdir()
    store = CohortStore(open_db(state), KEY, RecordEncoder(KEY))
    store.enroll("c", write_rows(tmp_path / "members.csv", HEADER, MEMBERS), ref_column="ref")
    return store


def matched(store: CohortStore, tmp_path: Path, row: tuple[str, ...],
            **settings: object) -> dict[str, str]:
    """ref -> method for one leaked row checked with the given settings."""
    path = write_rows(tmp_path / "leak.csv", LEAK_HEADER, [row])
    opts = ScanOptions(settings=replace(MatchSettings(), **settings))
    report = check_dataset([path], store=store, cohort="c", options=opts)
    return {m.ref: m.method for m in report.matches}


def test_given_name_and_surname_swapped_match(store: CohortStore, tmp_path: Path) -> None:
    # Regression: the crossed comparison compared filters keyed for different fields, so
    # it never matched; FEBRL4 has hundreds of such records.
    row = ("Bakker", "", "Pieter", "04-11-1982", "")
    assert matched(store, tmp_path, row) == {"M2": "name_dob"}


def test_exact_date_and_postcode_need_no_name(store: CohortStore, tmp_path: Path) -> None:
    # Twins at one address look like this; so does a record whose given name was replaced.
    row = ("Margriet", "de", "Vries", "12-03-1975", "1234AB")
    assert matched(store, tmp_path, row) == {"M1": "name_dob"}
    assert matched(store, tmp_path, row, dob_postcode_min_name=0.5) == {}


def test_other_given_name_without_postcode_is_a_sibling(store: CohortStore,
                                                        tmp_path: Path) -> None:
    row = ("Margriet", "de", "Vries", "12-03-1975", "")
    assert matched(store, tmp_path, row) == {}


def test_missing_birth_date_needs_postcode_and_full_name(store: CohortStore,
                                                         tmp_path: Path) -> None:
    assert matched(store, tmp_path, ("Sanne", "van", "Dijk", "", "9012 EF")) == {"M3": "name_dob"}
    assert matched(store, tmp_path, ("Sanne", "van", "Dijk", "", "")) == {}
    assert matched(store, tmp_path, ("Sanne", "van", "Dijk", "", "9999 ZZ")) == {}
    assert matched(store, tmp_path, ("", "van", "Dijk", "", "9012 EF")) == {}


def test_conflicting_birth_date_with_postcode(store: CohortStore, tmp_path: Path) -> None:
    row = ("Willemijn", "", "Hoekstra", "1986-05-02", "3456 GH")
    assert matched(store, tmp_path, row) == {"M4": "name_dob"}
    assert matched(store, tmp_path, row, accept_conflicting_dob=False) == {}
    # another postcode: a namesake born on another day
    assert matched(store, tmp_path, ("Willemijn", "", "Hoekstra", "1986-05-02", "")) == {}


def test_surname_alone_with_exact_date(store: CohortStore, tmp_path: Path) -> None:
    # No given name on the leaked side: compared on the surname, as a human would.
    assert matched(store, tmp_path, ("", "", "Hoekstra", "30-01-1968", "")) == {"M4": "name_dob"}
    assert matched(store, tmp_path, ("", "", "Hoekstra", "30-01-1969", "")) == {}


def test_partial_date_needs_postcode(store: CohortStore, tmp_path: Path) -> None:
    row = ("Pieter", "", "Bakker", "1982-11-05", "5678 CD")
    assert matched(store, tmp_path, row, accept_conflicting_dob=False) == {"M2": "name_dob"}
    assert matched(store, tmp_path, ("Pieter", "", "Bakker", "1982-11-05", "")) == {}


def _store_in_earlier_layout(store: CohortStore, drop: str | None = None) -> None:
    """Rewrite cohort "c" as the previous release stored cohorts: Arrow IPC parts of its
    members in cohort_members, its sorted blocking keys in cohort_blocks."""
    row = store._cohort_row("c")
    table = store._load_table(row)
    if drop:
        table = table.drop_columns([drop])
    keys, members = sort_blocks(table.column("blocks"))
    for name, part in (("cohort_members", table),
                       ("cohort_blocks", pa.table({"key": keys, "member": members}))):
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, part.schema) as writer:
            writer.write_table(part)
        store.db.execute(f"INSERT INTO {name} (cohort_id, part, rows, data) VALUES (?,?,?,?)",  # noqa: S608 - fixed table names
                         [row["id"], 0, part.num_rows, sink.getvalue()])
    store.db.execute("DELETE FROM cohort_arrays WHERE cohort_id = ?", [row["id"]])


LEAK = [
    ("Bakker", "", "Pieter", "04-11-1982", ""),
    ("Margriet", "de", "Vries", "12-03-1975", "1234AB"),
    ("Sanne", "van", "Dijk", "", "9012 EF"),
    ("Pieter", "", "Bakker", "1982-11-05", "5678 CD"),
]


def test_cohort_in_the_earlier_layout_matches_alike_and_moves_on_reenrollment(
    store: CohortStore, tmp_path: Path
) -> None:
    path = write_rows(tmp_path / "leak.csv", LEAK_HEADER, LEAK)
    before = check_dataset([path], store=store, cohort="c").to_json()["matches"]
    assert len(before) == 3
    _store_in_earlier_layout(store)
    assert check_dataset([path], store=store, cohort="c").to_json()["matches"] == before
    store.enroll("c", write_rows(tmp_path / "members.csv", HEADER, MEMBERS), ref_column="ref")
    (legacy,) = store.db.execute("SELECT count(*) FROM cohort_members").fetchone()
    assert legacy == 0
    assert check_dataset([path], store=store, cohort="c").to_json()["matches"] == before


def test_old_snapshot_asks_for_reenrollment(store: CohortStore, tmp_path: Path) -> None:
    _store_in_earlier_layout(store, drop="gx")
    with pytest.raises(CohortError, match="cohort remove c"):
        store.load_index("c")


def test_other_array_layout_asks_for_reenrollment(store: CohortStore, tmp_path: Path) -> None:
    store.db.execute(
        "UPDATE cohort_arrays SET data = ? WHERE name = 'layout'",
        [json.dumps({"layout": 2, "words": 4, "blocking_keys": 10}).encode()],
    )
    with pytest.raises(CohortError, match="cohort remove c"):
        store.load_index("c")
    # A scan says so too, instead of listing the file as skipped.
    path = write_rows(tmp_path / "leak.csv", LEAK_HEADER, LEAK)
    with pytest.raises(CohortError, match="cohort remove c"):
        check_dataset([path], store=store, cohort="c")


def test_matching_thread_or_not_gives_the_same_report(store: CohortStore, tmp_path: Path) -> None:
    # check-dataset matches on a thread of its own only when a core is idle; the report
    # must not depend on it.
    path = write_rows(tmp_path / "leak.csv", LEAK_HEADER, LEAK * 3)
    reports = [
        check_dataset([path], store=store, cohort="c", options=ScanOptions(match_thread=t))
        for t in (True, False)
    ]
    assert reports[0].to_json()["matches"] == reports[1].to_json()["matches"]
    assert len(reports[0].matches) == 3
