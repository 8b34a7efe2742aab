"""Tar archives: plain on disk, or streamed out of a decoder (.tar.gz, .tar.zst, ...).

Only regular files are copied out, by :meth:`Layer.extract`; ``tarfile.extract*`` is never
called, so no link, device, FIFO, owner or mode from the archive is ever created. Links
and special files are reported and skipped. Extended headers (pax, GNU long names) are
refused above :data:`MAX_EXTENDED_HEADER` bytes: tarfile reads them into memory whole,
and a compressed tar could otherwise declare one of many gigabytes.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import Any

from matchers.archives.layer import READ_ERRORS, Extracted, Layer, reason_for
from matchers.archives.model import Skipped, SkipReason

__all__ = ["MAX_EXTENDED_HEADER", "file_entries", "stream_entries"]

MAX_EXTENDED_HEADER = 1 << 20
# tarfile drops a whole read when the archive breaks off inside it: small reads keep
# most of a member cut by a truncation.
_CHUNK = 64 << 10
_EXTENDED = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
_END = "_cohortwatch_end_reason"


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized extended headers before tarfile reads them.

    ``_proc_member`` is tarfile's (private, long-stable) dispatch on the header type; it is
    the only place to step in before the header's content is read into memory.
    """

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        """Note why the archive ended: tarfile treats a truncated or garbled header after
        the first one as a normal end of the archive, and we want to report it."""
        try:
            return super().fromtarfile(tarfile_)
        except (tarfile.TruncatedHeaderError, tarfile.EmptyHeaderError):
            setattr(tarfile_, _END, SkipReason.TRUNCATED)  # no end-of-archive marker
            raise
        except tarfile.EOFHeaderError:
            raise  # the end-of-archive marker: a proper end
        except tarfile.HeaderError:
            setattr(tarfile_, _END, SkipReason.CORRUPT)
            raise

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise tarfile.ReadError("extended header larger than allowed")
        return super()._proc_member(tarfile_)  # type: ignore[misc,no-any-return]


def file_entries(layer: Layer) -> Iterator[Extracted | Skipped]:
    """Members of an uncompressed tar on disk: random access, so a skipped member's data
    is seeked over, not read; only what is copied out is charged."""
    with layer.path.open("rb") as raw:
        yield from _entries(layer, raw, mode="r:", charged=False)


def stream_entries(layer: Layer, stream: Any) -> Iterator[Extracted | Skipped]:
    """Members of a tar read from a decoder stream that charges every byte it produces
    (headers and the data of skipped members too)."""
    yield from _entries(layer, stream, mode="r|", charged=True)


def _entries(
    layer: Layer, fileobj: Any, *, mode: str, charged: bool
) -> Iterator[Extracted | Skipped]:
    try:
        archive = tarfile.open(  # noqa: SIM115 - closed below
            fileobj=fileobj, mode=mode, tarinfo=_BoundedTarInfo, bufsize=_CHUNK
        )
    except READ_ERRORS as exc:
        yield layer.skip_rest(reason_for(exc))
        return
    with archive:
        while True:
            try:
                info = archive.next()
            except READ_ERRORS as exc:
                yield layer.skip_rest(reason_for(exc))
                return
            if info is None:
                end = getattr(archive, _END, None)
                if end is not None:
                    yield layer.skip_rest(end)
                return
            archive.members.clear()  # tarfile keeps every header otherwise: memory
            layer.count()
            if info.isdir():
                continue
            shown = layer.name(info.name)
            if isinstance(shown, Skipped):
                yield shown
            elif info.issym() or info.islnk():
                yield layer.skip(shown, SkipReason.LINK)
            elif not info.isreg():
                yield layer.skip(shown, SkipReason.SPECIAL_FILE)
            elif info.size > layer.limits.max_member_bytes:
                yield layer.skip(shown, SkipReason.MEMBER_TOO_LARGE)
            else:
                try:
                    member = archive.extractfile(info)
                except READ_ERRORS as exc:
                    yield layer.skip(shown, reason_for(exc))
                    continue
                if member is None:  # not a regular file after all
                    yield layer.skip(shown, SkipReason.SPECIAL_FILE)
                    continue
                with member:
                    result = layer.extract(member.read, shown, charged=charged, chunk=_CHUNK)
                yield result
