"""Posted files to dataset reports: download over Tor into a private directory, match
against every enrolled cohort off the event loop, remove the file.

Downloaded bytes are raw leaked data (privacy rule 2): they live in a 0700 temporary
directory only while one file is matched, and that directory is removed on success,
failure and cancellation alike. A download is resumed inside one attempt (``Range``),
not across daemon restarts — keeping a half-downloaded leak on disk between runs would
break the rule that raw values are only ever in files we are about to remove.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from matchers.cohort import CohortStore
from matchers.errors import CohortwatchError
from matchers.report import Report
from matchers.resident import ResidentCohorts
from matchers.scan import Progress, ScanOptions, check_dataset

__all__ = [
    "DatasetMatcher", "MatchedFile", "archive_password", "file_name_for", "sweep_stale",
]

log = logging.getLogger(__name__)


@dataclass
class MatchedFile:
    """One downloaded file's outcome across cohorts (first report carries the fingerprint)."""

    reports: list[Report]

    @property
    def members_matched(self) -> int:
        return sum(len(r.matches) for r in self.reports)


_PASSWORD = re.compile(
    r"(?:pass(?:word|wd)?|pwd|wachtwoord|key)\s*(?:is|:|=|-)\s*[\"'`]?([^\s\"'`<>]{3,128})",
    re.IGNORECASE)


def archive_password(text: str | None) -> str | None:
    """The archive password a post states ("Password: 3xf1ltr4t3d!"), if it states one."""
    m = _PASSWORD.search(text or "")
    return m.group(1) if m else None


_PREFIX = "cohortwatch-dl-"


def sweep_stale(temp_root: Path) -> int:
    """Remove download directories whose process is gone (``kill -9``, power loss): they
    hold raw leaked data. A live process's directories — a ``cohortwatch crawl`` run by
    hand next to the daemon — are left alone. Returns how many were removed."""
    removed = 0
    for entry in temp_root.glob(f"{_PREFIX}*"):
        pid = entry.name[len(_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and Path(f"/proc/{pid}").exists():
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    if removed:
        log.warning("removed download directories left by a process that died",
                    extra={"count": removed})
    return removed


def file_name_for(url: str, index: int) -> str:
    """A safe local name that keeps the extension (readers sniff content anyway)."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    keep = "".join(c for c in name if c.isalnum() or c in "._-")[-80:].lstrip(".")
    return keep or f"file-{index}"


class DatasetMatcher:
    """Matches downloaded files against the enrolled cohorts, one file at a time.

    ``check_dataset`` is CPU-bound and uses its own threads; running it through
    ``asyncio.to_thread`` behind a semaphore keeps the event loop (crawls, heartbeats)
    responsive and bounds the memory of concurrent scans.
    """

    def __init__(self, open_store: Callable[[], CohortStore],
                 options: ScanOptions | None = None, *,
                 cohorts: Sequence[str] = (), concurrency: int = 1,
                 temp_root: Path | None = None, progress: Progress | None = None,
                 resident: ResidentCohorts | None = None) -> None:
        self.open_store = open_store
        # The daemon's cohorts, loaded once; without them each file loads its cohorts.
        self.resident = resident
        self.options = options or ScanOptions()
        self.cohorts = tuple(cohorts)
        self.temp_root = temp_root
        # Called at every batch of a scan: the daemon's raises to stop a scan at shutdown.
        self.progress = progress
        self._gate = asyncio.Semaphore(max(1, concurrency))

    def private_dir(self) -> Path:
        """A fresh 0700 directory for one download (``mkdtemp`` creates it so), named with
        our pid so that :func:`sweep_stale` knows when its owner is gone."""
        return Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=self.temp_root))

    async def match(self, path: Path, *, password: str | None = None) -> MatchedFile:
        """Scan ``path`` for members of each cohort; ``password`` opens encrypted archives
        (leakers print it in the post).

        :raises CohortwatchError: no cohort enrolled, or the file is unreadable as a whole.
        """
        async with self._gate:
            return await asyncio.to_thread(self._match_sync, path, password)

    def _match_sync(self, path: Path, password: str | None) -> MatchedFile:
        # A connection of its own: the event loop's thread keeps writing crawl state
        # meanwhile, and one sqlite3 connection shared by two threads shares transactions.
        store = self.open_store()
        try:
            names = list(self.cohorts) or [c.name for c in store.list()]
            if not names:
                raise CohortwatchError("no cohort is enrolled: posted files cannot be "
                                       "matched (run `cohortwatch cohort enroll`)")
            options = replace(self.options, password=password or self.options.password)
            return MatchedFile([check_dataset([path], store=store, cohort=name,
                                              options=options, progress=self.progress,
                                              resident=self.resident)
                                for name in names])
        finally:
            store.db.conn.close()

    @staticmethod
    def remove(directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
