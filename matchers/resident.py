"""Cohort indexes kept loaded by a long-running process (the daemon).

``check-dataset`` loads a cohort's arrays for one scan and lets them go. The daemon scans
file after file for months: reading a million-member cohort from the database for every
posted file would cost seconds and a burst of memory each time, and a cohort that no
longer loads (another key, an outdated layout) would surface only at the first leak. So
the daemon loads every cohort once, before it tells systemd it is ready, and keeps them.

An enrollment while the daemon runs bumps the cohort's generation; the next scan sees it
(one indexed row read) and loads the cohort again, so the daemon never matches against
members that were replaced or removed.
"""

from __future__ import annotations

import logging
import threading
import time

from matchers.cohort import CohortStore
from matchers.index import CohortIndex

__all__ = ["ResidentCohorts"]

log = logging.getLogger(__name__)


class ResidentCohorts:
    """Loaded cohort indexes by name, safe to share between scan threads.

    A loaded index holds no database connection (:meth:`CohortIndex.load_all`), so the
    store a caller passes — each scan thread opens its own — is only used to read the
    cohort's version and, when that changed, to load it.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[tuple[int, int], CohortIndex]] = {}
        self._lock = threading.Lock()

    def __contains__(self, name: str) -> bool:
        return name in self._loaded

    @property
    def names(self) -> list[str]:
        return sorted(self._loaded)

    def load_enrolled(self, store: CohortStore) -> list[str]:
        """Load every enrolled cohort now and forget removed ones; their names.

        :raises KeyFileError: a cohort was enrolled with another key.
        :raises CohortError: a cohort was enrolled by a version whose encodings this one
            cannot use.
        """
        names = [info.name for info in store.list()]
        for name in names:
            self.get(store, name)
        with self._lock:
            for gone in set(self._loaded) - set(names):
                del self._loaded[gone]
        return names

    def get(self, store: CohortStore, name: str) -> CohortIndex:
        """Cohort ``name``'s index, loaded again only when its members changed.

        :raises UnknownCohortError: no such cohort (removed since it was loaded).
        :raises KeyFileError: enrolled with another key.
        :raises CohortError: enrolled by a version whose encodings this one cannot use.
        """
        with self._lock:
            try:
                version = store.version(name)
            except Exception:
                self._loaded.pop(name, None)
                raise
            held = self._loaded.get(name)
            if held is not None and held[0] == version:
                return held[1]
            # Loading under the lock: two scans that both find a cohort changed load it
            # once, and memory holds at most one new copy beside the old.
            started = time.monotonic()
            index = store.load_index(name).load_all()
            self._loaded[name] = (version, index)
        log.info("cohort loaded", extra={
            "cohort": name, "members": index.size, "generation": version[1],
            "seconds": round(time.monotonic() - started, 2)})
        return index
