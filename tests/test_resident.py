"""Cohorts kept loaded by the daemon: loaded once, reloaded when their members change."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from conftest import write_rows

from matchers.cohort import CohortStore
from matchers.encode import RecordEncoder
from matchers.errors import UnknownCohortError
from matchers.resident import ResidentCohorts
from matchers.scan import check_dataset
from matchers.store import open_db

KEY = hashlib.sha256(b"test_resident").digest()
HEADER = ("ref", "bsn", "voornaam", "achternaam", "geboortedatum")
MEMBERS = [
    ("M1", "111222333", "Anneke", "Vries", "1975-03-12"),
    ("M2", "123456782", "Pieter", "Bakker", "1982-11-04"),
]
LEAK = [("111222333", "x", "y", "2000-01-01"), ("", "Pieter", "Bakker", "04-11-1982")]


def _store(state: Path) -> CohortStore:
    return CohortStore(open_db(state), KEY, RecordEncoder(KEY))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    store = _store(state)
    store.enroll("c", write_rows(tmp_path / "members.csv", HEADER, MEMBERS), ref_column="ref")
    store.db.conn.close()
    return state


def _refs(state: Path, leak: Path, resident: ResidentCohorts) -> dict[str, str]:
    """One scan as the daemon's worker does it: a connection of its own, closed after."""
    store = _store(state)
    try:
        report = check_dataset([leak], store=store, cohort="c", resident=resident)
    finally:
        store.db.conn.close()
    return {m.ref: m.method for m in report.matches}


def test_a_cohort_is_loaded_once_and_serves_scans_on_other_connections(
    state: Path, tmp_path: Path
) -> None:
    resident = ResidentCohorts()
    loader = _store(state)
    assert resident.load_enrolled(loader) == ["c"]
    first = resident.get(loader, "c")
    loader.db.conn.close()  # the loaded index no longer needs the connection it came from
    leak = write_rows(tmp_path / "leak.csv", HEADER[1:], LEAK)
    results = []
    threads = [threading.Thread(target=lambda: results.append(_refs(state, leak, resident)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"M1": "bsn", "M2": "name_dob"}] * 3
    assert resident.get(_store(state), "c") is first


def test_reenrolment_while_loaded_is_seen_by_the_next_scan(state: Path, tmp_path: Path) -> None:
    resident = ResidentCohorts()
    resident.load_enrolled(_store(state))
    leak = write_rows(tmp_path / "leak.csv", HEADER[1:], LEAK)
    assert set(_refs(state, leak, resident)) == {"M1", "M2"}
    # The holder replaces M1's reference (same person, new ref) and adds nobody else.
    store = _store(state)
    store.remove("c")
    store.enroll("c", write_rows(tmp_path / "m2.csv", HEADER, [("N1", *MEMBERS[0][1:])]),
                 ref_column="ref")
    assert _refs(state, leak, resident) == {"N1": "bsn"}
    # An enrollment into the same cohort (same id) bumps its generation.
    store.enroll("c", write_rows(tmp_path / "m3.csv", HEADER, [MEMBERS[1]]), ref_column="ref")
    assert set(_refs(state, leak, resident)) == {"N1", "M2"}


def test_a_removed_cohort_is_forgotten(state: Path) -> None:
    resident = ResidentCohorts()
    store = _store(state)
    resident.load_enrolled(store)
    store.remove("c")
    with pytest.raises(UnknownCohortError):
        resident.get(store, "c")
    assert "c" not in resident
    assert resident.load_enrolled(store) == []
