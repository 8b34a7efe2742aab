"""Logging set-up for the entry point: one line per event, ``key=value`` fields.

Library code only calls ``logging.getLogger(__name__)``; this module decides the format.
Lines start with a journald/syslog level prefix (``<4>``) when running under systemd, so
journald keeps the level. Fields are cohort names, counts and file names — never values.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["setup_logging"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class KeyValueFormatter(logging.Formatter):
    def __init__(self, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        extra = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        prefix = f"<{_PRIORITY.get(record.levelname, 6)}>" if self.journald else ""
        line = f"{prefix}{record.levelname.lower()} {record.name}: {record.getMessage()}"
        return f"{line} {extra}".rstrip()


def setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter(journald="JOURNAL_STREAM" in os.environ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
