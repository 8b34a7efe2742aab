"""A second core for name-heavy scans: worker processes that each hold the cohort.

Name + birth-date matching is CPU-bound Python (normalising names) and numpy (scoring
pairs); threads would fight over the GIL, so a scan that is mostly name matching hands its
batches to worker processes. Each worker loads the cohort itself from the state database
and receives the key through its start-up arguments (a pipe, never a file); batches travel
as Arrow record batches, results come back as member indices, scores and locations only.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from matchers.columns import ColumnRoles
from matchers.engine import MatchCollector, Matcher, MatchSettings, MemberMatch
from matchers.store import open_db

__all__ = ["BatchPool", "WorkerSpec", "workers_available"]

_worker: dict[str, object] = {}


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to rebuild the scan's matcher."""

    state_dir: str
    key: bytes
    cohort: str
    bloom_bits: int
    bloom_k: int
    settings: MatchSettings


def workers_available() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start(spec: WorkerSpec) -> None:
    from matchers.cohort import CohortStore
    from matchers.encode import RecordEncoder

    encoder = RecordEncoder(spec.key, bloom_bits=spec.bloom_bits, bloom_k=spec.bloom_k)
    store = CohortStore(open_db(Path(spec.state_dir)), spec.key, encoder)
    index = store.load_index(spec.cohort)
    _worker["encoder"] = encoder
    _worker["matcher"] = Matcher(index, encoder.prf, spec.settings)


def _match(
    batch: pa.RecordBatch, roles: ColumnRoles, file: str, first_record: int
) -> tuple[list[MemberMatch], dict[str, int]]:
    encoder = _worker["encoder"]
    matcher = _worker["matcher"]
    out = MatchCollector()
    enc = encoder.encode(batch, roles, only_bsn_invalid=True)  # type: ignore[attr-defined]
    matcher.match(enc, file, first_record, out)  # type: ignore[attr-defined]
    return list(out.best.values()), out.records_matched


class BatchPool:
    """Worker processes matching batches; results are merged into one collector."""

    def __init__(self, spec: WorkerSpec, workers: int, collector: MatchCollector) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(spec,),
        )
        self._collector = collector
        self._pending: list[Future] = []
        self._limit = 2 * workers

    def submit(self, batch: pa.RecordBatch, roles: ColumnRoles, file: str, first: int) -> None:
        """Queue a batch; waits when enough are in flight to keep memory bounded."""
        while len(self._pending) >= self._limit:
            self._collect(self._pending.pop(0))
        self._pending.append(self._pool.submit(_match, batch, roles, file, first))

    def _collect(self, future: Future) -> None:
        best, counts = future.result()
        self._collector.merge(best, counts)

    def drain(self) -> None:
        """Wait for every queued batch."""
        while self._pending:
            self._collect(self._pending.pop(0))

    def close(self) -> None:
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
