"""Reports: the JSON contract (``cohortwatch.report/1``) and the human summary.

A report carries counts, cohort refs, scores, locations and fingerprints — never a raw
value — so it may be stored, mailed and attached to an alert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from matchers.engine import METHODS

__all__ = ["SCHEMA", "FileReport", "Report"]

SCHEMA = "cohortwatch.report/1"


@dataclass
class FileReport:
    path: str
    sha256: str
    bytes: int
    format: str
    records: int = 0
    skipped_records: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    status: str = "scanned"  # scanned | skipped
    reason: str | None = None
    error: Exception | None = field(default=None, repr=False)  # why skipped, not reported
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # SQL dumps: per table
    partial: bool = False  # an archive member cut short by damage to its archive
    tlsh: str | None = None  # fuzzy hash of the file's first 16 MiB
    attachments: list[FileReport] = field(default_factory=list, repr=False)  # e-mail files

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "sha256": self.sha256,
            "format": self.format,
            "records": self.records,
            "bytes": self.bytes,
            "status": self.status,
            "columns": self.columns,
            "skipped_records": self.skipped_records,
        }
        if self.skip_reasons:
            out["skip_reasons"] = self.skip_reasons
        if self.reason:
            out["reason"] = self.reason
        if self.tlsh:
            out["tlsh"] = self.tlsh
        if self.tables:
            out["tables"] = self.tables
        if self.partial:
            out["partial"] = True
        return out


@dataclass
class MatchRow:
    ref: str
    method: str
    score: float
    file: str
    record: int


@dataclass
class Report:
    cohort: str
    cohort_size: int
    sha256: str
    bytes: int
    files: list[FileReport]
    fingerprint: dict[str, Any]
    seen_before: list[dict[str, Any]]
    matches: list[MatchRow]
    records_matched: dict[str, int]
    seconds: float
    dataset_id: int | None = None

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    def by_method(self) -> dict[str, int]:
        counts = dict.fromkeys(METHODS, 0)
        for m in self.matches:
            counts[m.method] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "cohort": self.cohort,
            "dataset": {
                "id": self.dataset_id,
                "sha256": self.sha256,
                "bytes": self.bytes,
                "records": self.records,
                "files": [f.to_json() for f in self.files],
                "fingerprint": self.fingerprint,
                "seen_before": self.seen_before,
            },
            "summary": {
                "members_matched": len(self.matches),
                "by_method": self.by_method(),
                "records_matched": self.records_matched,
                "cohort_members": self.cohort_size,
                "skipped_records": sum(f.skipped_records for f in self.files),
                "files_skipped": sum(1 for f in self.files if f.status == "skipped"),
                "seconds": round(self.seconds, 3),
            },
            "matches": [
                {
                    "ref": m.ref,
                    "method": m.method,
                    "score": m.score,
                    "file": m.file,
                    "record": m.record,
                }
                for m in self.matches
            ],
        }

    def render_json(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)

    def render_text(self, *, limit: int = 20) -> str:
        """A summary for a person at a terminal: the verdict first, then where to look."""
        lines = []
        n = len(self.matches)
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        verdict = (
            f"FOUND {n} member{'s' if n != 1 else ''} of cohort '{self.cohort}' "
            f"({self.cohort_size} enrolled)"
            if n
            else f"No member of cohort '{self.cohort}' found ({self.cohort_size} enrolled)"
        )
        lines.append(verdict)
        bm = self.by_method()
        lines.append("  by method:  " + ", ".join(f"{k} {v}" for k, v in bm.items()))
        lines.append(
            f"  dataset:    {len(self.files)} file(s), {self.records} records, {self.bytes} bytes,"
            f" sha256 {self.sha256[:16]}…"
        )
        skipped = sum(f.skipped_records for f in self.files)
        if skipped:
            lines.append(f"  skipped:    {skipped} malformed record(s) (see --json for reasons)")
        for f in self.files:
            cols = ", ".join(f"{k}={v}" for k, v in f.columns.items()) or "-"
            state = f.status if f.status == "scanned" else f"skipped: {f.reason}"
            lines.append(f"  file:       {f.path} [{f.format}, {f.records} records, {state}]")
            if f.status == "scanned":
                lines.append(f"              columns {cols}")
        for e in self.seen_before[:5]:
            how = {"identical": "the same file", "same_records": "the same records",
                   "contained_in": "a part of it", "contains": "it is a part of this",
                   "similar_file": "a near-identical file"}.get(e["relation"], e["relation"])
            lines.append(f"  seen before: dataset #{e['id']} ({how}), first seen "
                         f"{e['first_seen']}")
        lines.append(f"  time:       {self.seconds:.2f} s ({rate:,.0f} records/s)")
        if n:
            lines.append("")
            lines.append(f"  {'ref':<16} {'method':<14} {'score':>6}  where")
            for m in sorted(self.matches, key=lambda m: (-m.score, m.ref))[:limit]:
                lines.append(
                    f"  {m.ref:<16} {m.method:<14} {m.score:>6.3f}  {m.file} record {m.record}"
                )
            if n > limit:
                lines.append(f"  … and {n - limit} more: use --json for the full list")
        return "\n".join(lines)
