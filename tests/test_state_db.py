"""The state database as several processes open it at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from matchers.store import open_db

OPENERS = 6


def _open(state_dir: str, barrier: object) -> str:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        open_db(Path(state_dir)).conn.close()
    except Exception as exc:  # noqa: BLE001 - reported back to the test
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_commands_started_together_on_a_fresh_state_dir_all_open_it(tmp_path: Path) -> None:
    """A daemon and an operator's command starting at the same moment on a new state dir
    once got "database is locked" (the switch to WAL) or "table already exists"."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(8):
        state = tmp_path / f"state{attempt}"
        state.mkdir()
        with ctx.Manager() as manager:
            barrier = manager.Barrier(OPENERS)
            with ctx.Pool(OPENERS) as pool:
                results = pool.starmap(_open, [(str(state), barrier)] * OPENERS)
        assert results == ["ok"] * OPENERS
        db = open_db(state)
        assert {"meta", "cohorts", "cohort_arrays"} <= set(db.table_names())
        assert "generation" in db["cohorts"].columns_dict
        db.conn.close()
