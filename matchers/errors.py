"""The one exception tree of cohortwatch.

Every error a user can cause or fix is one of these; the CLI turns them into exit status 2
with the message on stderr, at a single place, so no traceback ever reaches a user::

    CohortwatchError
    ├── ConfigError                 a configuration file or option is wrong
    ├── KeyFileError                the secret key is missing, malformed or too readable
    │   └── KeyFilePermissionError
    ├── StateError                  the state directory or database is unusable
    │   └── StateFullError          its disk is full (retried later, not a failure of the work)
    ├── CohortError                 a cohort is unknown, or its enrollment file unusable
    │   ├── UnknownCohortError
    │   └── EnrollmentInputError
    └── DatasetError                a dataset cannot be read as a whole
        ├── UnreadableDatasetError
        └── NoUsableColumnsError

Messages never contain a personal value: they name files, columns, row numbers and counts.
"""

from __future__ import annotations

__all__ = [
    "CohortError",
    "CohortwatchError",
    "ConfigError",
    "DatasetError",
    "EnrollmentInputError",
    "KeyFileError",
    "KeyFilePermissionError",
    "NoUsableColumnsError",
    "StateError",
    "StateFullError",
    "UnknownCohortError",
    "UnreadableDatasetError",
]


class CohortwatchError(Exception):
    """Root of every error cohortwatch raises on purpose."""


class ConfigError(CohortwatchError):
    """A configuration file, key path or command-line option is invalid."""


class KeyFileError(CohortwatchError):
    """The secret key file is missing or not a 32-byte key."""


class KeyFilePermissionError(KeyFileError):
    """The secret key file can be read by group or others."""


class StateError(CohortwatchError):
    """The state directory or its database cannot be used."""


class StateFullError(StateError):
    """The state directory's disk (or quota) is full: nothing was recorded, and the work
    is to be tried again once there is space — not counted as the work's own failure."""


class CohortError(CohortwatchError):
    """A cohort operation cannot be carried out."""


class UnknownCohortError(CohortError):
    """The named cohort is not enrolled."""


class EnrollmentInputError(CohortError):
    """The enrollment file cannot be used (format, columns)."""


class DatasetError(CohortwatchError):
    """A dataset file cannot be scanned at all."""


class UnreadableDatasetError(DatasetError):
    """The file is not in a format we can read, or is broken beyond use."""


class NoUsableColumnsError(DatasetError):
    """No column holds BSNs, or names together with birth dates."""


class ArchiveError(DatasetError):
    """An archive walk cannot go on at all: the private temporary space cannot be made or
    has run out. What a hostile or damaged archive does is never this: its members are
    reported as skipped, with a reason, and the walk goes on."""


__all__ += ["ArchiveError"]


class DocumentError(DatasetError):
    """A document (PDF, DOCX, HTML, e-mail, plain text) cannot be read for people at all:
    not a document we read, broken, encrypted without a password, or without a text layer.
    Messages name the file and a fixed reason, never text from the document."""


__all__ += ["DocumentError"]
