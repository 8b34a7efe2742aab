"""What every command needs, opened lazily: state dir, config, key, database, encoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import sqlite_utils

from matchers.cohort import CohortStore
from matchers.encode import RecordEncoder
from matchers.secretkey import load_key, resolve_key_path
from matchers.store import open_db
from monitor.config import Config

__all__ = ["Context"]


@dataclass
class Context:
    state_dir: Path
    config: Config
    _closers: list = field(default_factory=list)

    @property
    def key_path(self) -> Path:
        return resolve_key_path(self.state_dir, self.config.key_file)

    @cached_property
    def key(self) -> bytes:
        return load_key(self.key_path)

    @cached_property
    def db(self) -> sqlite_utils.Database:
        db = open_db(self.state_dir)
        self._closers.append(db.conn.close)
        return db

    @cached_property
    def store(self) -> CohortStore:
        return self._cohort_store(self.db)

    def open_cohort_store(self) -> CohortStore:
        """A cohort store on a connection of its own, for a worker thread; the caller
        closes ``store.db.conn``."""
        return self._cohort_store(open_db(self.state_dir))

    def _cohort_store(self, db: sqlite_utils.Database) -> CohortStore:
        key = self.key
        encoder = RecordEncoder(key, bloom_bits=self.config.bloom.bits, bloom_k=self.config.bloom.k)
        return CohortStore(db, key, encoder)

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()
