"""check-dataset: files, folders → readers → encodings → matches → report.

Each file is handled on its own: one that cannot be read or has no usable columns is listed
in the report as skipped, with the reason, and the scan goes on. Only when nothing at all
could be scanned is that an error (exit status 2 at the CLI).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

from matchers.archives import ArchiveLimits, SkipReason, walk
from matchers.cohort import CohortStore
from matchers.columns import ColumnRoles, detect_columns, no_usable_columns_error, safe_roles
from matchers.encode import EncodedRecords
from matchers.engine import MatchCollector, Matcher, MatchSettings
from matchers.errors import (
    CohortwatchError,
    DatasetError,
    DocumentError,
    NoUsableColumnsError,
    UnreadableDatasetError,
)
from matchers.fingerprint import FileFingerprint, RecordFingerprinter, fingerprint_file
from matchers.history import record_dataset, seen_before
from matchers.index import CohortIndex
from matchers.readers import open_table
from matchers.readers.base import ReaderLimits, TableBatch
from matchers.report import FileReport, MatchRow, Report
from matchers.resident import ResidentCohorts

__all__ = ["ScanOptions", "check_dataset"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Progress = Callable[[str, int, int, int], None]  # file, records, bytes read, file bytes
TLSH_SCAN_BYTES = 16 << 20  # TLSH over each file's first 16 MiB (it runs at ~100 MB/s)


@dataclass(frozen=True)
class ScanOptions:
    mapping: Mapping[str, str] = field(default_factory=dict)
    limits: ReaderLimits = field(default_factory=ReaderLimits)
    settings: MatchSettings = field(default_factory=MatchSettings)
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    password: str | None = field(default=None, repr=False)  # for encrypted archives
    # Match on a thread of its own (True), on the calling thread (False), or on a thread
    # only when a core is idle (None; see _matching_thread).
    match_thread: bool | None = None


class _Inline:
    """An executor that runs each task when it is submitted (on the calling thread)."""

    def submit(self, fn: Callable[..., T], /, *args: object) -> Future[T]:
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed back through the future, as a pool does
            done.set_exception(exc)
        return done

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _matching_thread(opts: ScanOptions) -> bool:
    """Whether to match on a thread of its own.

    Encoding and matching are both numpy and Arrow work between short stretches of Python,
    so two threads overlap only where a second core is free: on a loaded machine they
    take turns at the GIL and one core, and measured slower than one thread (the 500k-row
    name scan 10-25%, the 2M-row BSN scan ~10%, at load average 3-6 on 2 cores), while at
    load average 1.3 the thread was 10-20% faster. So the thread is used while the load
    average (which counts this process too once it has run a while) is below the number
    of cores it may run on.
    """
    if opts.match_thread is not None:
        return opts.match_thread
    try:
        return os.getloadavg()[0] < len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return True


_IDENTITY = ("given", "initials", "prefix", "surname", "full_name", "dob")
# What find_records hands out, under the names records_to_batch gives them.
_DOCUMENT_ROLES = ColumnRoles(bsn="bsn", full_name="naam", dob="geboortedatum")


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


class _CohortUnavailable(Exception):
    """The cohort could not be loaded: ends the whole check (a file's own problems only
    skip that file), so it is deliberately no CohortwatchError."""


@dataclass
class _Scan:
    """What every file of one check needs; ``fingerprints`` gathers the dataset's keyed
    record sketch as batches pass (in the matching thread, beside the encoding).

    ``pool`` is the matching thread (or runs tasks at once, see :func:`_matching_thread`).
    The cohort is loaded there, as its first task, while the first file is hashed, read
    and encoded on the calling thread.
    """

    store: CohortStore
    loading: Future[CohortIndex]
    pool: ThreadPoolExecutor | _Inline
    opts: ScanOptions
    progress: Progress | None
    fingerprints: RecordFingerprinter
    posted: list[FileFingerprint] = field(default_factory=list)
    _matcher: Matcher | None = None
    _collector: MatchCollector | None = None
    _prepared: set[str] = field(default_factory=set)

    def prepare(self, roles: ColumnRoles) -> None:
        """Have the matching thread read the parts of the cohort these columns need, ahead
        of the first batch (in the order tasks run there: before it is matched)."""
        names = any(getattr(roles, r) for r in ("given", "initials", "surname", "full_name"))
        want = {"bsn"} if roles.bsn else set()
        if names and (roles.dob or roles.postcode):
            want.add("names")
        if want - self._prepared:
            self._prepared |= want
            self.pool.submit(self._read_ahead, "bsn" in want, "names" in want)

    def _read_ahead(self, bsn: bool, names: bool) -> None:
        with contextlib.suppress(_CohortUnavailable):  # the first match says so
            self.index.prepare(bsn=bsn, names=names)

    @property
    def index(self) -> CohortIndex:
        try:
            return self.loading.result()
        except CohortwatchError as exc:
            raise _CohortUnavailable from exc

    @property
    def collector(self) -> MatchCollector:
        if self._collector is None:
            self._collector = MatchCollector(self.index.size)
        return self._collector

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._matcher = Matcher(self.index, self.store.encoder.prf, self.opts.settings)
        return self._matcher

    def match(
        self, batch: pa.RecordBatch, roles: ColumnRoles, enc: EncodedRecords, where: str,
        first: int,
    ) -> None:
        # Records are fingerprinted on what says who someone is — the BSN where there is
        # one, else names and birth date: a re-post that adds a row id, drops the results
        # or reorders columns holds the same people. (One column also keeps the sketch
        # cheap beside a 400k rows/s scan.)
        names = batch.schema.names
        fields = ("bsn",) if roles.bsn in names else _IDENTITY
        who = [c for c in dict.fromkeys(getattr(roles, r) for r in fields) if c in names]
        self.fingerprints.update(batch.select(who) if who else batch)
        self.matcher.match(enc, where, first, self.collector)


def _scan_file(
    path: Path, shown: str, scan: _Scan, known: FileFingerprint | None = None
) -> FileReport:
    """Scan one file; a file that cannot be scanned comes back marked skipped."""
    ff = known if known is not None else fingerprint_file(path, tlsh_bytes=TLSH_SCAN_BYTES)
    fr = FileReport(path=shown, sha256=ff.sha256, bytes=ff.size, format="unknown", tlsh=ff.tlsh)
    try:
        _scan_table(path, shown, scan, fr)
    except (UnreadableDatasetError, NoUsableColumnsError) as not_a_table:
        # Not a table we can use: maybe a document (report, letter, e-mail, web page).
        try:
            _scan_document(path, shown, scan, fr)
        except DocumentError as exc:
            fr.status, fr.reason = "skipped", _why_skipped(not_a_table, exc)
            fr.error = not_a_table if fr.reason == str(not_a_table) else exc
            log.info("file skipped", extra={"file": shown, "reason": type(exc).__name__})
    except CohortwatchError as exc:
        fr.status, fr.reason, fr.error = "skipped", str(exc), exc
        log.info("file skipped", extra={"file": shown, "reason": type(exc).__name__})
    return fr


def _why_skipped(table: CohortwatchError, document: DocumentError) -> str:
    """The more useful of the two reasons: a file that is some kind of table but has
    nothing to match on says so; a file that is neither says what the document reader
    made of it (encrypted PDF, no text layer, an image, ...)."""
    if isinstance(table, NoUsableColumnsError) or "no people found" in str(document):
        return str(table)
    return str(document)


def _scan_table(
    path: Path,
    shown: str,
    scan: _Scan,
    fr: FileReport,
) -> None:
    """Read ``path`` as a table (or several) and match its rows.

    :raises UnreadableDatasetError: not a table.
    :raises NoUsableColumnsError: a table without anything to match on.
    """
    opts, store = scan.opts, scan.store
    reader = open_table(path, display_name=shown, limits=opts.limits)
    fr.format = reader.format
    multi = getattr(reader, "multi_table", False)
    roles_of: dict[str | None, ColumnRoles | None] = {}
    if not multi:
        roles = detect_columns(reader.columns, reader.sample(), overrides=opts.mapping)
        fr.columns = safe_roles(roles, reader.columns, opts.mapping.values())
        if not roles.usable_for_matching():
            raise no_usable_columns_error(shown, reader.columns, roles)
        roles_of[None] = roles
        scan.prepare(roles)
    # Two stages on two threads: encoding the next batch (Arrow string kernels, numpy and
    # some Python) overlaps with matching this one (numpy gathers and popcounts), both
    # mostly without the GIL. Batches are matched one at a time and in order, so results
    # do not depend on timing.
    pending: Future[None] | None = None
    try:
        for batch in reader.batches():
            if batch.table not in roles_of:
                roles_of[batch.table] = _table_roles(batch, fr, opts)
                if roles_of[batch.table] is not None:
                    scan.prepare(roles_of[batch.table])  # type: ignore[arg-type]
            roles = roles_of[batch.table]
            if multi:
                fr.tables[batch.table or ""]["records"] += batch.data.num_rows
            if roles is None:
                continue
            where = shown if batch.table is None else f"{shown}#{batch.table}"
            enc = store.encoder.encode(batch.data, roles, only_bsn_invalid=True)
            if pending is not None:
                pending.result()
            pending = scan.pool.submit(
                scan.match, batch.data, roles, enc, where, batch.first_record
            )
            if scan.progress:
                scan.progress(shown, reader.stats.records, reader.stats.bytes_read, fr.bytes)
    finally:
        if pending is not None:
            pending.result()
    fr.records = reader.stats.records
    fr.skipped_records = reader.stats.skipped
    fr.skip_reasons = dict(reader.stats.skip_reasons)
    if multi and not any(r is not None for r in roles_of.values()):
        raise NoUsableColumnsError(
            f"{shown}: no table in this file has BSNs, or names with birth dates "
            f"({len(roles_of)} table(s) read)"
        )


def _scan_document(
    path: Path,
    shown: str,
    scan: _Scan,
    fr: FileReport,
) -> None:
    """Find people in a document and match them like table rows; record N is the N-th
    person found in document order. E-mail attachments are scanned as files of their own
    (``mail.eml/attachment-2.csv``).

    :raises DocumentError: not a document we read, or no person found in it.
    """
    opts, store = scan.opts, scan.store
    # Imported here: most scans are tables, and the document readers take a tenth of a
    # second to import.
    from matchers.documents import find_records, open_document, records_to_batch

    doc = open_document(path, display_name=shown)
    fr.format = doc.kind
    records = list(find_records(doc.parts(), doc.stats))
    fr.records = len(records)
    fr.skip_reasons = dict(doc.stats.skip_reasons)
    fr.skipped_records = doc.stats.skipped
    for lo in range(0, len(records), opts.limits.batch_rows):
        chunk = records[lo : lo + opts.limits.batch_rows]
        batch = records_to_batch(chunk)
        enc = store.encoder.encode(batch, _DOCUMENT_ROLES, only_bsn_invalid=True)
        scan.match(batch, _DOCUMENT_ROLES, enc, shown, chunk[0].number)
    if scan.progress:
        scan.progress(shown, len(records), fr.bytes, fr.bytes)
    for attachment in doc.attachments():
        inner = f"{shown}/{attachment.display_name}"
        with attachment.temp_file() as tmp:
            fr.attachments.extend(_scan_path(tmp, inner, scan, posted=False))
    if not records and not fr.attachments:
        raise DocumentError(f"{shown}: no people found in this {doc.kind} document")


def _table_roles(batch: TableBatch, fr: FileReport, opts: ScanOptions) -> ColumnRoles | None:
    """Column roles of one table of a multi-table file, from its first batch; ``None``
    when it holds nothing to match on (a dump's settings and log tables)."""
    columns = batch.data.schema.names
    # --map names columns of the table(s) that have them.
    mapping = {role: col for role, col in opts.mapping.items() if col in columns}
    roles = detect_columns(columns, batch.data.slice(0, 1000), overrides=mapping)
    entry: dict[str, object] = {"records": 0}
    if roles.usable_for_matching():
        entry["columns"] = safe_roles(roles, columns, mapping.values())
        if not fr.columns:
            fr.columns = dict(entry["columns"])  # type: ignore[arg-type]
    else:
        entry["columns"] = {}
        entry["reason"] = "no BSN, or names with birth dates"
    fr.tables[batch.table or ""] = entry
    return roles if roles.usable_for_matching() else None


def _scan_path(path: Path, shown: str, scan: _Scan, *, posted: bool = True) -> Iterator[FileReport]:
    """Every leaf file of one posted file (itself, or what its archives hold), scanned;
    what an archive would not hand out is listed as skipped, with the reason. A posted
    file's own fingerprint is kept for the dataset's."""
    opts = scan.opts
    own = fingerprint_file(path, tlsh_bytes=TLSH_SCAN_BYTES)
    if posted:
        scan.posted.append(own)
    with walk(
        path, display_name=shown, limits=opts.archive_limits, password=opts.password
    ) as members:
        for member in members:
            known = own if member.path == path else None
            fr = _scan_file(member.path, member.shown, scan, known)
            fr.partial = member.partial
            yield fr
            yield from fr.attachments
        for skipped in members.skipped:
            reason = str(skipped.reason)
            if skipped.reason in (SkipReason.NO_PASSWORD, SkipReason.WRONG_PASSWORD):
                reason += " (give the published one with --password)"
            yield FileReport(
                path=skipped.shown, sha256="", bytes=0,
                format="archive" if skipped.archive else "archive member",
                status="skipped", reason=reason,
                error=DatasetError(f"{skipped.shown}: {reason}"),
            )


def _scan_all(
    paths: Sequence[Path], scan: _Scan
) -> tuple[list[FileReport], CohortwatchError | None]:
    reports: list[FileReport] = []
    first_error: CohortwatchError | None = None
    for path, shown in _files(paths):
        for fr in _scan_path(path, shown, scan):
            reports.append(fr)
            if fr.error is not None:
                first_error = first_error or fr.error
    return reports, first_error


def check_dataset(
    paths: Sequence[Path],
    *,
    store: CohortStore,
    cohort: str,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
    resident: ResidentCohorts | None = None,
) -> Report:
    """Scan files/folders for members of ``cohort``; a long-running process passes the
    cohorts it keeps loaded as ``resident``.

    :raises UnknownCohortError: no such cohort.
    :raises KeyFileError: the cohort was enrolled with another key.
    :raises CohortError: the cohort was enrolled by a version whose encodings this one
        cannot use.
    :raises DatasetError: a path does not exist, or no file could be scanned at all.
    """
    opts = options or ScanOptions()
    started = time.monotonic()
    if resident is not None:
        load = partial(resident.get, store, cohort)
    else:
        load = store.index_loader(cohort)
    pool: ThreadPoolExecutor | _Inline = (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="match")
        if _matching_thread(opts)
        else _Inline()
    )
    with pool:
        scan = _Scan(
            store=store,
            loading=pool.submit(load),
            pool=pool,
            opts=opts,
            progress=progress,
            fingerprints=RecordFingerprinter(store.key),
        )
        try:
            reports, first_error = _scan_all(paths, scan)
            index, collector = scan.index, scan.collector
        except _CohortUnavailable as exc:
            raise exc.__cause__ from None  # type: ignore[misc]
    if not reports:
        raise DatasetError("no files found in " + ", ".join(str(p) for p in paths))
    if first_error is not None and all(f.status == "skipped" for f in reports):
        raise first_error
    # The dataset is what was posted: one file's own hash, or a hash over the posted
    # files' hashes (archive members are listed per file).
    if len(scan.posted) == 1:
        sha = scan.posted[0].sha256
    else:
        h = hashlib.sha256()
        for ff in sorted(scan.posted, key=lambda f: f.sha256):
            h.update(f"{ff.sha256}\n".encode())
        sha = h.hexdigest()
    matches = collector.best()
    refs = index.refs(np.fromiter((m.member for m in matches), dtype=np.int64, count=len(matches)))
    rows = [
        MatchRow(ref, m.method, m.score, m.file, m.record)
        for ref, m in zip(refs, matches, strict=True)
    ]
    sketch = scan.fingerprints.sketch
    tlsh_files = sorted({f.tlsh for f in [*scan.posted, *reports] if f.tlsh})
    fingerprint = {
        "sha256_files": sorted({f.sha256 for f in reports if f.sha256}),
        "tlsh_files": tlsh_files,
        "records": {
            "hashed": sketch.records,
            "distinct": sketch.distinct,
            "distinct_exact": sketch.distinct_is_exact,
            "sketch_values": int(sketch.values.size),
            "sketch_k": sketch.k,
        },
    }
    total_bytes = sum(f.size for f in scan.posted)
    earlier = seen_before(store.db, sha, file_tlsh=tlsh_files, sketch=sketch)
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
        sketch=sketch,
    )
    report.seconds = time.monotonic() - started
    return report
