"""What a walk hands out (members, skips, counts) and the limits that bound it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from matchers.errors import ConfigError

__all__ = ["ArchiveLimits", "GiB", "Member", "MiB", "SkipReason", "Skipped", "WalkStats"]

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what one posted file may cost us, whatever its headers claim.

    Every byte counted here is a byte actually produced (decompressed, decrypted or written
    out), at any nesting level: headers are only used to skip a member early, never to
    let one through.

    ``max_total_bytes``: all bytes produced by the whole walk, nested levels included.
    ``max_ratio`` / ``ratio_allowance``: an archive (and everything nested in it) may
    produce at most ``max_ratio`` times its own size plus ``ratio_allowance`` bytes; the
    allowance keeps small, very compressible archives (a 2 KB zip of a 1 MB CSV) readable.
    ``max_member_bytes``: one member; temporary disk use is bounded by this times the
    nesting depth. ``max_members``: entries listed by all archives together (directories,
    links and skipped ones count too). ``max_depth``: archive layers opened one inside the
    other (a ``.tar.gz`` is one layer). ``max_decoder_memory``: the window/dictionary a
    decoder may allocate (xz, zstd, 7z LZMA), so a header cannot make us allocate GBs.
    """

    max_total_bytes: int = 50 * GiB
    max_ratio: float = 200.0
    ratio_allowance: int = 16 * MiB
    max_member_bytes: int = 16 * GiB
    max_members: int = 100_000
    max_depth: int = 8
    max_decoder_memory: int = 256 * MiB

    def __post_init__(self) -> None:
        """:raises ConfigError: a limit that is not positive, or a ratio below 1."""
        for name in (
            "max_total_bytes",
            "max_member_bytes",
            "max_members",
            "max_depth",
            "max_decoder_memory",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"archive limit {name} is {value!r}; it must be an integer >= 1")
        if self.ratio_allowance < 0:
            raise ConfigError(
                f"archive limit ratio_allowance is {self.ratio_allowance}; it must be >= 0"
            )
        if not self.max_ratio >= 1:
            raise ConfigError(f"archive limit max_ratio is {self.max_ratio}; it must be >= 1")


class SkipReason(enum.StrEnum):
    """Why something was not handed out: fixed phrases, safe to log and report.

    They never hold a member name or any content; the name is in :attr:`Skipped.shown`.
    """

    UNSAFE_PATH = "unsafe member path (absolute, drive letter or '..')"
    LINK = "symbolic or hard link, not followed"
    SPECIAL_FILE = "device, FIFO or other special file"
    NO_PASSWORD = "encrypted, and no password was given"  # noqa: S105 - a phrase
    WRONG_PASSWORD = "encrypted, and the password is wrong"  # noqa: S105 - a phrase
    ENCRYPTED_IN_DAMAGED = "encrypted member of a damaged archive"
    MEMBER_TOO_LARGE = "member size limit reached"
    RATIO = "expansion ratio limit reached"
    TOTAL_BYTES = "total expanded size limit reached"
    TOO_MANY_MEMBERS = "member count limit reached"
    TOO_DEEP = "archive nesting limit reached"
    DECODER_MEMORY = "decoder would need more memory than allowed"
    CORRUPT = "corrupt or unreadable data"
    TRUNCATED = "archive ends early"
    UNSUPPORTED_METHOD = "unsupported compression or encryption method"
    UNSUPPORTED_FORMAT = "unsupported archive format"
    MISSING_SUPPORT = "support for this archive format is not installed"


@dataclass(frozen=True)
class Member:
    """A leaf file of the walk, ready for a table reader.

    ``shown`` is the path to show ("dump.zip/inner/dir/patients.csv"); it is made of member
    names, which may themselves be personal data, so the caller decides where it may go.
    ``path`` is a private temporary copy (or the walked file itself, for a file that is not
    an archive); it is deleted as soon as the consumer asks for the next member. ``depth``
    is 0 for the walked file itself, 1 for a member of it, and so on. ``partial``: the
    archive ended inside this member; ``path`` holds what could be read before the damage.
    """

    shown: str
    path: Path
    size: int
    depth: int
    partial: bool = False


@dataclass(frozen=True)
class Skipped:
    """Something not handed out. ``archive`` is True when ``shown`` is an archive whose
    (remaining) content was not read, False when it is a single member."""

    shown: str
    reason: SkipReason
    archive: bool = False


@dataclass
class WalkStats:
    """Counts of one walk (no names): entries listed, archives opened, bytes produced,
    members handed out."""

    entries: int = 0
    archives: int = 0
    bytes_out: int = 0
    members: int = 0
