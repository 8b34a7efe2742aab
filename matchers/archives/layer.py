"""The machinery every format shares: budgets, the private work directory, copying out.

A format module (:mod:`.zips`, :mod:`.tars`, :mod:`.sevenzip`, :mod:`.streams`) gets a
:class:`Layer` for the archive it reads and yields, for each entry, either a
:class:`~.model.Skipped` or the :class:`Extracted` file that :meth:`Layer.extract` wrote.
It never opens an output file by itself and never decides a limit: that is all here, so
the rules hold the same for every format.
"""

from __future__ import annotations

import itertools
import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matchers.archives.model import ArchiveLimits, Skipped, SkipReason, WalkStats
from matchers.archives.names import safe_name, shown_name
from matchers.errors import ArchiveError

__all__ = [
    "CHUNK",
    "READ_ERRORS",
    "Extracted",
    "Layer",
    "LimitHit",
    "Meter",
    "Session",
    "Stop",
    "Workspace",
    "is_truncation",
    "reason_for",
]

CHUNK = 1 << 20
Read = Callable[[int], bytes]


class Stop(BaseException):
    """Base of the signals that end part of a walk on purpose.

    A BaseException, so that the ``except Exception`` with which we (and the libraries we
    call) guard against hostile input can never swallow it.
    """


class LimitHit(Stop):
    """A limit was reached; the archive at budget index ``layer`` (0: the walked file,
    so the whole walk) ends, reported under ``shown`` with ``reason``."""

    def __init__(self, reason: SkipReason, layer: int, shown: str) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.layer = layer
        self.shown = shown


@dataclass
class _Budget:
    shown: str
    allowed: float
    used: int = 0


class Meter:
    """Counts entries and produced bytes against the limits, for every open archive.

    A byte produced inside a nested archive is charged to it and to every archive around
    it: each may produce at most ``max_ratio`` times its own size (plus the allowance).
    That is what stops a nested bomb whose every layer looks harmless on its own (42.zip).
    """

    def __init__(self, limits: ArchiveLimits, stats: WalkStats) -> None:
        self.limits = limits
        self.stats = stats
        self._budgets: list[_Budget] = []

    def open_layer(self, shown: str, size: int) -> int:
        """Start the budget of an archive of ``size`` bytes; returns its index."""
        allowed = self.limits.max_ratio * max(size, 1) + self.limits.ratio_allowance
        self._budgets.append(_Budget(shown, allowed))
        return len(self._budgets) - 1

    def allowed(self, index: int) -> float:
        """Bytes the archive at ``index`` may still produce, the budgets around it included."""
        return min(b.allowed - b.used for b in self._budgets[: index + 1])

    def close_layer(self) -> None:
        self._budgets.pop()

    def _innermost(self) -> str:
        return self._budgets[-1].shown if self._budgets else ""

    def count_entry(self) -> None:
        """One more entry listed by an archive.

        :raises LimitHit: ``max_members`` exceeded (ends the whole walk).
        """
        self.stats.entries += 1
        if self.stats.entries > self.limits.max_members:
            raise LimitHit(SkipReason.TOO_MANY_MEMBERS, 0, self._innermost())

    def charge(self, count: int) -> None:
        """``count`` more bytes produced; called *before* they are written anywhere.

        :raises LimitHit: the total or an archive's ratio budget is exceeded.
        """
        self.stats.bytes_out += count
        if self.stats.bytes_out > self.limits.max_total_bytes:
            raise LimitHit(SkipReason.TOTAL_BYTES, 0, self._innermost())
        for index, budget in enumerate(self._budgets):  # outermost first: widest stop
            budget.used += count
            if budget.used > budget.allowed:
                raise LimitHit(SkipReason.RATIO, index, budget.shown)


class Workspace:
    """The private directory (mode 0700) members are written into, one file each.

    Files get counter names, never member names: no name can point outside, collide,
    or put personal data in a directory listing. They are created 0600 with ``O_EXCL``
    and ``O_NOFOLLOW``, so nothing planted in the directory can be written through.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._counter = itertools.count(1)  # next() is atomic in CPython: 7z worker thread

    def new_file(self, shown: str) -> tuple[Path, int]:
        """A fresh file for the member shown as ``shown`` (its suffix is kept, as a hint
        for people and tools; readers go by content). Returns the path and a write fd.

        :raises ArchiveError: the file cannot be created.
        """
        suffix = "".join(c for c in Path(shown).suffix[:12] if c.isalnum() or c == ".")
        path = self.root / f"{next(self._counter):07d}{suffix}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return path, os.open(path, flags, 0o600)
        except OSError as exc:
            raise ArchiveError(
                f"cannot create a file in the temporary directory ({exc.strerror or 'I/O error'})"
            ) from exc

    @staticmethod
    def write(fd: int, data: bytes) -> None:
        """Write all of ``data``. :raises ArchiveError: e.g. the temporary disk is full."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            raise ArchiveError(
                f"cannot write to the temporary directory ({exc.strerror or 'I/O error'})"
            ) from exc


@dataclass
class Session:
    """What every layer of one walk shares."""

    limits: ArchiveLimits
    meter: Meter
    workspace: Workspace
    password: bytes | None
    stats: WalkStats


@dataclass(frozen=True)
class Extracted:
    """A member written out in full (or up to the damage, when ``partial``)."""

    shown: str
    path: Path
    size: int
    partial: bool = False


_TRUNCATION_TEXT = ("unexpected end of data", "truncated", "ended before", "end of stream")


def is_truncation(exc: BaseException) -> bool:
    """Whether a read error means "the data stops here" rather than "the data is wrong"."""
    if isinstance(exc, EOFError):
        return True
    if isinstance(exc, tarfile.ReadError | zlib.error | zipfile.BadZipFile):
        text = str(exc).lower()
        return any(t in text for t in _TRUNCATION_TEXT)
    return False


def reason_for(exc: BaseException) -> SkipReason:
    """The skip reason for a read error: truncation, a decoder's memory limit, or else
    corrupt data (the exception's message is looked at, never reported: it may quote a
    member name)."""
    if is_truncation(exc):
        return SkipReason.TRUNCATED
    text = str(exc).lower()
    if "memory" in text and not isinstance(exc, MemoryError | OSError):
        return SkipReason.DECODER_MEMORY  # xz memlimit, zstd window limit
    return SkipReason.CORRUPT


# What the libraries raise on hostile or damaged data (besides our own Stop signals).
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # gzip.BadGzipFile, truncated reads
    EOFError,
    ValueError,
    RuntimeError,  # zipfile: bad password
    NotImplementedError,  # zipfile: unknown method
    zlib.error,
    lzma.LZMAError,
    tarfile.TarError,
    zipfile.BadZipFile,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
    struct.error,
)


@dataclass
class Layer:
    """One archive being read: where it is, how it is shown, which budget it charges.

    ``depth`` is the depth its members get (1 for members of the walked file).
    """

    session: Session
    path: Path
    shown: str
    index: int
    depth: int

    @property
    def limits(self) -> ArchiveLimits:
        return self.session.limits

    @property
    def password(self) -> bytes | None:
        return self.session.password

    def child(self, name: str) -> str:
        """The shown path of a member with the (already cleaned) ``name``."""
        return f"{self.shown}/{name}"

    def count(self) -> None:
        """Count an entry of this archive. :raises LimitHit: too many members."""
        self.session.meter.count_entry()

    def charge(self, count: int) -> None:
        """:raises LimitHit: see :meth:`Meter.charge`."""
        self.session.meter.charge(count)

    def name(self, raw: str) -> str | Skipped:
        """The shown path of the entry named ``raw``, or its skip when the name is unsafe."""
        name = safe_name(raw)
        if name is None:
            return Skipped(self.child(shown_name(raw)), SkipReason.UNSAFE_PATH)
        return self.child(name)

    def skip(self, shown: str, reason: SkipReason, *, archive: bool = False) -> Skipped:
        return Skipped(shown, reason, archive)

    def skip_rest(self, reason: SkipReason) -> Skipped:
        """This archive could not be read (any further)."""
        return Skipped(self.shown, reason, archive=True)

    def extract(
        self,
        read: Read,
        shown: str,
        *,
        charged: bool = False,
        chunk: int = CHUNK,
        compressed: int | None = None,
    ) -> Extracted | Skipped:
        """Copy a member's stream into a new private file, under every limit.

        ``read(n)`` returns the next at most ``n`` bytes, ``b""`` at the end. Bytes are
        charged (unless the stream charges them itself: ``charged``) and size-checked
        before they are written, so nothing past a limit ever reaches the disk. A stream
        that breaks off (truncated archive) gives a partial member, when anything was
        read; one whose data is wrong (bad CRC, bad compressed data) is skipped: the file
        is removed either way. ``chunk``: bytes per read; a reader that drops what it had
        buffered when the data breaks off (tarfile does) loses at most this much.

        ``compressed``: the member's stored size, when the format gives one per member
        (zip): a member expanding past ``max_ratio`` times it (plus the allowance) is
        skipped on its own, before it can use up its archive's budget, so the members after
        a bomb are still read.

        :raises LimitHit: a total or ratio budget is exceeded (the partial file is removed).
        :raises ArchiveError: the temporary disk cannot be written.
        """
        max_size = self.limits.max_member_bytes
        ratio_size = (
            self.limits.max_ratio * max(compressed, 1) + self.limits.ratio_allowance
            if compressed is not None
            else float("inf")
        )
        path, fd = self.session.workspace.new_file(shown)
        size, partial, outcome = 0, False, None
        try:
            while True:
                try:
                    data = read(chunk)
                except READ_ERRORS as exc:
                    if is_truncation(exc) and size:
                        partial = True
                    else:
                        outcome = reason_for(exc)
                    break
                if not data:
                    break
                size += len(data)
                if size > max_size:
                    outcome = SkipReason.MEMBER_TOO_LARGE
                    break
                if size > ratio_size:
                    outcome = SkipReason.RATIO
                    break
                if not charged:
                    self.charge(len(data))
                Workspace.write(fd, data)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
        if outcome is not None:
            path.unlink(missing_ok=True)
            return Skipped(shown, outcome)
        return Extracted(shown, path, size, partial)

    def drain(self, read: Read) -> None:
        """Read a stream to its end without keeping anything, charging what it produces
        (a skipped member that must still be decoded to find the next one)."""
        while chunk := read(CHUNK):
            self.charge(len(chunk))
