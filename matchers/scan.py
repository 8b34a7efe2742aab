"""check-dataset: files, folders → readers → encodings → matches → report.

Each file is handled on its own: one that cannot be read or has no usable columns is listed
in the report as skipped, with the reason, and the scan goes on. Only when nothing at all
could be scanned is that an error (exit status 2 at the CLI).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from matchers.cohort import CohortStore
from matchers.columns import detect_columns, no_usable_columns_error, safe_roles
from matchers.engine import MatchCollector, Matcher, MatchSettings
from matchers.errors import CohortwatchError, DatasetError
from matchers.history import record_dataset, seen_before
from matchers.readers import open_table
from matchers.readers.base import ReaderLimits
from matchers.report import FileReport, MatchRow, Report

__all__ = ["ScanOptions", "check_dataset"]

log = logging.getLogger(__name__)
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class ScanOptions:
    mapping: Mapping[str, str] = field(default_factory=dict)
    limits: ReaderLimits = field(default_factory=ReaderLimits)
    settings: MatchSettings = field(default_factory=MatchSettings)


def _files(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    yield p, str(p.relative_to(path.parent))
        elif path.is_file():
            yield path, path.name
        else:
            raise DatasetError(f"{path}: no such file or folder")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _scan_file(
    path: Path,
    shown: str,
    store: CohortStore,
    matcher: Matcher,
    collector: MatchCollector,
    opts: ScanOptions,
    progress: Progress | None,
) -> FileReport:
    """Scan one file; a file that cannot be scanned comes back marked skipped."""
    fr = FileReport(path=shown, sha256=_sha256(path), bytes=path.stat().st_size, format="unknown")
    try:
        reader = open_table(path, display_name=shown, limits=opts.limits)
        fr.format = reader.format
        roles = detect_columns(reader.columns, reader.sample(), overrides=opts.mapping)
        fr.columns = safe_roles(roles, reader.columns, opts.mapping.values())
        if not roles.usable_for_matching():
            raise no_usable_columns_error(shown, reader.columns, roles)
        # Two stages on two threads: encoding the next batch (mostly Python: names are
        # normalised per distinct value, holding the GIL) overlaps with matching this one
        # (numpy gathers, sorts and popcounts, which release it). Batches are matched one
        # at a time and in order, so results do not depend on timing.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="match") as pool:
            pending: Future[None] | None = None
            for batch in reader.batches():
                enc = store.encoder.encode(batch.data, roles, only_bsn_invalid=True)
                if pending is not None:
                    pending.result()
                pending = pool.submit(matcher.match, enc, shown, batch.first_record, collector)
                if progress:
                    progress(shown, reader.stats.records)
            if pending is not None:
                pending.result()
        fr.records = reader.stats.records
        fr.skipped_records = reader.stats.skipped
        fr.skip_reasons = dict(reader.stats.skip_reasons)
    except CohortwatchError as exc:
        fr.status, fr.reason, fr.error = "skipped", str(exc), exc
        log.info("file skipped", extra={"file": shown, "reason": type(exc).__name__})
    return fr


def check_dataset(
    paths: Sequence[Path],
    *,
    store: CohortStore,
    cohort: str,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> Report:
    """Scan files/folders for members of ``cohort``.

    :raises UnknownCohortError: no such cohort.
    :raises DatasetError: a path does not exist, or no file could be scanned at all.
    """
    opts = options or ScanOptions()
    started = time.monotonic()
    index = store.load_index(cohort)
    matcher = Matcher(index, store.encoder.prf, opts.settings)
    collector = MatchCollector()
    reports: list[FileReport] = []
    first_error: CohortwatchError | None = None
    for path, shown in _files(paths):
        fr = _scan_file(path, shown, store, matcher, collector, opts, progress)
        reports.append(fr)
        if fr.error is not None:
            first_error = first_error or fr.error
    if not reports:
        raise DatasetError("no files found in " + ", ".join(str(p) for p in paths))
    if first_error is not None and all(f.status == "skipped" for f in reports):
        raise first_error
    if len(reports) == 1:
        sha = reports[0].sha256
    else:
        h = hashlib.sha256()
        for f in sorted(reports, key=lambda f: f.path):
            h.update(f"{f.path}\0{f.sha256}\n".encode())
        sha = h.hexdigest()
    matches = sorted(collector.best.values(), key=lambda m: (m.file, m.record, m.member))
    refs = index.refs(np.asarray([m.member for m in matches], dtype=np.int64))
    rows = [
        MatchRow(ref, m.method, m.score, m.file, m.record)
        for ref, m in zip(refs, matches, strict=True)
    ]
    fingerprint = {"sha256_files": sorted(f.sha256 for f in reports)}
    total_bytes = sum(f.bytes for f in reports)
    earlier = seen_before(store.db, sha)
    report = Report(
        cohort=cohort,
        cohort_size=index.size,
        sha256=sha,
        bytes=total_bytes,
        files=reports,
        fingerprint=fingerprint,
        seen_before=earlier,
        matches=rows,
        records_matched=collector.records_matched,
        seconds=0.0,
    )
    report.dataset_id = record_dataset(
        store.db,
        sha256=sha,
        size=total_bytes,
        records=report.records,
        files=len(reports),
        cohort=cohort,
        members_matched=len(rows),
        fingerprint=fingerprint,
    )
    report.seconds = time.monotonic() - started
    return report
