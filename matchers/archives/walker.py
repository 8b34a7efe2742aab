"""The walk: from a posted file to its leaf files, one at a time, nested archives included."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from matchers.archives import sevenzip, streams, tars, zips
from matchers.archives.cleanup import make_private_dir, remove_private_dir
from matchers.archives.layer import Extracted, Layer, LimitHit, Meter, Session, Workspace
from matchers.archives.model import ArchiveLimits, Member, Skipped, SkipReason, WalkStats
from matchers.archives.sniff import COMPRESSED, UNSUPPORTED, Kind, kind_of_head, read_head
from matchers.errors import ArchiveError, UnreadableDatasetError

__all__ = ["Walk", "walk"]

Formats = Callable[[Layer], Iterator[Extracted | Skipped]]
_FORMATS: dict[Kind, Formats] = {
    Kind.ZIP: zips.entries,
    Kind.TAR: tars.file_entries,
    Kind.SEVENZIP: sevenzip.entries,
}


class Walk:
    """One walk over a posted file: iterate it for its :class:`Member` s, then read
    :attr:`skipped` and :attr:`stats`. Use it as a context manager::

        with walk(path, display_name="dump.zip", password=pw) as members:
            for member in members:
                reader = open_table(member.path, display_name=member.shown)
                ...
        report(members.skipped)

    The private work directory exists only while iterating, and is removed when the
    iteration ends, fails, or is closed early (leaving the ``with`` block closes it, so
    a ``break`` or an exception in the loop body cleans up at once). Each member's file is
    removed when the next one is asked for. A walk can be iterated once.
    """

    def __init__(
        self,
        path: Path,
        *,
        display_name: str | None = None,
        limits: ArchiveLimits | None = None,
        password: str | bytes | None = None,
        temp_parent: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.display_name = display_name or self.path.name
        self.limits = limits or ArchiveLimits()
        if isinstance(password, str):
            password = password.encode("utf-8")
        self._password = password
        self.temp_parent = temp_parent
        self.skipped: list[Skipped] = []
        self.stats = WalkStats()
        self.workdir: Path | None = None
        self._iterator: Iterator[Member] | None = None

    def __repr__(self) -> str:  # no password, no member names
        return f"Walk({self.display_name!r}, members={self.stats.members})"

    def __iter__(self) -> Iterator[Member]:
        if self._iterator is not None:
            raise RuntimeError("a Walk can be iterated only once")
        self._iterator = self._members()
        return self._iterator

    def __enter__(self) -> Walk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the walk and remove everything it wrote (idempotent)."""
        iterator = self._iterator
        if iterator is not None and hasattr(iterator, "close"):
            iterator.close()
        if self.workdir is not None:
            remove_private_dir(self.workdir)
            self.workdir = None

    def _members(self) -> Iterator[Member]:
        try:
            info = self.path.stat()
        except OSError as exc:
            raise UnreadableDatasetError(
                f"{self.display_name}: cannot be read ({exc.strerror or 'I/O error'})"
            ) from exc
        if not self.path.is_file():
            raise UnreadableDatasetError(f"{self.display_name}: not a regular file")
        self.workdir = make_private_dir(self.temp_parent)
        session = Session(
            limits=self.limits,
            meter=Meter(self.limits, self.stats),
            workspace=Workspace(self.workdir),
            password=self._password,
            stats=self.stats,
        )
        try:
            yield from self._file(session, self.path, self.display_name, info.st_size, 0, 0)
        finally:
            remove_private_dir(self.workdir)
            self.workdir = None

    def _kind(self, session: Session, path: Path, depth: int) -> Kind:
        try:
            kind = kind_of_head(read_head(path))
            if kind is Kind.ZIP and zips.is_document(path, session.limits):
                return Kind.PLAIN  # xlsx, docx, odt: a document for the readers
        except OSError as exc:
            if depth == 0:
                raise UnreadableDatasetError(
                    f"{self.display_name}: cannot be read ({exc.strerror or 'I/O error'})"
                ) from exc
            raise ArchiveError(
                f"{self.display_name}: cannot read back an unpacked member "
                f"({exc.strerror or 'I/O error'})"
            ) from exc
        return kind

    def _file(
        self,
        session: Session,
        path: Path,
        shown: str,
        size: int,
        depth: int,
        layers: int,
        *,
        partial: bool = False,
    ) -> Iterator[Member]:
        """The members of one file: itself when it is a leaf, else its archive's."""
        kind = self._kind(session, path, depth)
        if kind is Kind.PLAIN:
            self.stats.members += 1
            yield Member(shown, path, size, depth, partial)
            return
        if kind in UNSUPPORTED:
            self.skipped.append(Skipped(shown, SkipReason.UNSUPPORTED_FORMAT, archive=True))
            return
        if layers >= self.limits.max_depth:
            self.skipped.append(Skipped(shown, SkipReason.TOO_DEEP, archive=True))
            return
        meter = session.meter
        index = meter.open_layer(shown, size)
        self.stats.archives += 1
        layer = Layer(session, path, shown, index, depth + 1)
        try:
            found = streams.entries(layer, kind) if kind in COMPRESSED else _FORMATS[kind](layer)
            with contextlib.closing(found):
                for item in found:
                    if isinstance(item, Skipped):
                        self.skipped.append(item)
                        continue
                    try:
                        yield from self._file(
                            session,
                            item.path,
                            item.shown,
                            item.size,
                            depth + 1,
                            layers + 1,
                            partial=item.partial,
                        )
                    finally:
                        item.path.unlink(missing_ok=True)
        except LimitHit as hit:
            if hit.layer != index:
                raise
            self.skipped.append(Skipped(hit.shown, hit.reason, archive=True))
        finally:
            meter.close_layer()


def walk(
    path: Path,
    *,
    display_name: str | None = None,
    limits: ArchiveLimits | None = None,
    password: str | bytes | None = None,
    temp_parent: Path | None = None,
) -> Walk:
    """Walk a posted file: every leaf file inside it, however deeply nested, as
    :class:`Member` s; see :class:`Walk`. A file that is not an archive is its own only
    member. ``password`` opens encrypted zip (ZipCrypto, AES) and 7z members; leakers
    often publish it with the post. ``temp_parent``: where the private work directory is
    made (default: the system's temporary directory).

    :raises UnreadableDatasetError: ``path`` cannot be read (when iterated).
    :raises ArchiveError: the temporary directory cannot be made or written (when iterated).
    """
    return Walk(
        path, display_name=display_name, limits=limits, password=password, temp_parent=temp_parent
    )
