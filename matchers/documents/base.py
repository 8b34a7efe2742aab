"""What every document reader hands out, whatever the format: text parts with a location.

Leaked lab files are often documents (reports, letters, e-mails, web pages) rather than
tables. A document reader turns one file into a stream of :class:`TextPart` objects — a PDF
page, a run of DOCX paragraphs, a slice of a plain-text file — each small enough to scan
at once, so memory stays bounded however large the file is. :mod:`.records` then finds the
people in the text.

Privacy: text exists in memory only. Nothing here logs it, puts it in a message, or shows
it in a ``repr``; errors and skip reasons are fixed phrases with counts.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, NamedTuple

from matchers.errors import ConfigError, DocumentError
from matchers.readers.base import ReadStats
from matchers.readers.sniff import FALLBACK_ERRORS, detect_encoding, read_head

__all__ = [
    "Attachment",
    "Document",
    "DocumentLimits",
    "Location",
    "TextPart",
    "cut_parts",
    "decoded_pieces",
    "part_location",
]

HEAD_BYTES = 64 * 1024
_READ_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a document something was found.

    ``unit`` is a fixed word: ``line`` (plain text, HTML text), ``page`` (PDF),
    ``paragraph`` (DOCX body; ``header``, ``footer``, ``footnote``, ``endnote``,
    ``comment`` for the other DOCX parts), ``part`` (e-mail: 0 is the headers, then MIME
    parts in order). ``number`` is 1-based (e-mail headers: 0). ``line`` is the line
    within that unit, 1-based, or 0 when the unit is itself a line or a paragraph.
    """

    unit: str
    number: int
    line: int = 0

    def __str__(self) -> str:
        return f"{self.unit} {self.number}" + (f", line {self.line}" if self.line else "")


class TextPart(NamedTuple):
    """A piece of a document's text, and where it starts: unpacks as ``(location, text)``.

    Line ``k`` (0-based) of ``text`` is at ``line_units[k]`` of the location's unit when
    ``line_units`` is given (DOCX: the paragraph of each line); else at line
    ``location.line + k`` of the unit, or, for the unit ``line``, at line
    ``location.number + k``. See :func:`part_location`.
    """

    location: Location
    text: str
    line_units: tuple[int, ...] | None = None

    def __repr__(self) -> str:  # never show document text
        return f"TextPart({self.location}, {len(self.text)} chars)"


def part_location(part: TextPart, k: int) -> Location:
    """The location of line ``k`` (0-based) of ``part.text``."""
    loc = part.location
    if part.line_units:
        return Location(loc.unit, part.line_units[min(k, len(part.line_units) - 1)])
    if loc.unit == "line":
        return Location("line", loc.number + k)
    return Location(loc.unit, loc.number, loc.line + k)


@dataclass(frozen=True)
class DocumentLimits:
    """Bounds that keep a hostile or broken document from exhausting memory or time.

    ``part_chars``: text handed out per :class:`TextPart` (cut at a blank line or a line
    end where possible); a record written across a cut is lost, so parts are large.
    ``xml_bytes``: decompressed bytes read of one DOCX part (a zip bomb stops there).
    ``docx_parts``: DOCX parts read (body, headers, footers, notes, comments).
    ``email_bytes``: the largest e-mail file parsed (the parser holds it in memory).
    ``attachments``: most attachments handed out per e-mail.
    ``pdf_pages``: most PDF pages read; ``page_chars``: text kept of one PDF page.
    """

    part_chars: int = 4 << 20
    xml_bytes: int = 64 << 20
    docx_parts: int = 64
    email_bytes: int = 64 << 20
    attachments: int = 256
    pdf_pages: int = 20_000
    page_chars: int = 4 << 20

    def __post_init__(self) -> None:
        """:raises ConfigError: a limit too small to read any real document with."""
        for name in ("part_chars", "xml_bytes", "email_bytes", "page_chars"):
            if getattr(self, name) < 4096:
                raise ConfigError(f"document limit {name} is {getattr(self, name)}; use >= 4096")
        for name in ("docx_parts", "attachments", "pdf_pages"):
            if getattr(self, name) < 1:
                raise ConfigError(f"document limit {name} is {getattr(self, name)}; use >= 1")


class Document(ABC):
    """A streaming reader of one document file.

    Construction checks that the file is of this kind (cheaply, where the format allows),
    so a file that is not fails early with :class:`DocumentError`. :meth:`parts` is a new
    pass over the file each time; ``parts_read`` counts the parts it handed out and
    ``stats.skip_reasons`` what it had to leave out (pages, parts, attachments). Pass
    ``stats`` on to :func:`matchers.documents.records.find_records`, which counts the
    records in ``stats.records``, so one object holds all a report needs.
    """

    kind: ClassVar[str]
    path: Path
    display_name: str
    limits: DocumentLimits
    stats: ReadStats
    parts_read: int

    def __init__(
        self,
        path: Path,
        *,
        display_name: str | None = None,
        limits: DocumentLimits | None = None,
    ) -> None:
        self.path = Path(path)
        self.display_name = display_name or self.path.name
        self.limits = limits or DocumentLimits()
        self.stats = ReadStats()
        self.parts_read = 0
        try:
            self._start()
        except OSError as exc:
            raise self.error(f"cannot be read ({exc.strerror or 'I/O error'})") from None

    def error(self, why: str) -> DocumentError:
        """Our error for this file; ``why`` must be a fixed phrase (no document text)."""
        return DocumentError(f"{self.display_name}: {why}")

    def _start(self) -> None:
        """Check the file is of this kind; the default checks nothing."""
        return

    @abstractmethod
    def _parts(self) -> Iterator[TextPart]:
        """The text of the document, part by part."""

    def parts(self) -> Iterator[TextPart]:
        """Stream the document's text as parts, in document order.

        :raises DocumentError: when the file breaks down as a whole (I/O error, nothing
            readable in it); a broken page or part is skipped and counted instead.
        """
        self.stats.reset()
        self.parts_read = 0
        try:
            for part in self._parts():
                self.parts_read += 1
                yield part
        except OSError as exc:
            raise self.error(
                f"cannot be read past part {self.parts_read} ({exc.strerror or 'I/O error'})"
            ) from None

    def attachments(self) -> Iterator[Attachment]:
        """Files carried inside the document (e-mail attachments, files embedded in a Word
        document) for the caller to scan as files of their own; none by default."""
        return iter(())


@dataclass(frozen=True)
class Attachment:
    """A file carried inside a document, for the caller to scan like any other file.

    ``filename`` is the name the sender gave it: it may itself be personal ("uitslag J de
    Vries.pdf"), so it stays in memory; ``display_name`` ("attachment-2.csv": a number and
    the extension only) is what reports and messages may show. ``part`` is the MIME part
    number (see :class:`Location`; 0 for a file embedded in a Word document).
    """

    number: int
    part: int
    display_name: str
    filename: str | None = field(repr=False)
    data: bytes = field(repr=False)

    @contextlib.contextmanager
    def temp_file(self) -> Iterator[Path]:
        """The attachment as a private temporary file (mode 0600), removed on exit.

        Readers in this project read paths; privacy rule 2 allows raw values in private
        temporary files that are always removed.
        """
        suffix = Path(self.display_name).suffix
        fd, name = tempfile.mkstemp(prefix="cohortwatch-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.data)
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)


def decoded_pieces(path: Path, read_bytes: int = _READ_BYTES) -> Iterator[str]:
    """The text of a file in pieces of about ``read_bytes``, decoded as
    :func:`matchers.readers.sniff.detect_encoding` guesses from its head (invalid UTF-8
    read as cp1252), with ``\\r\\n`` and ``\\r`` turned into ``\\n``."""
    encoding = detect_encoding(read_head(path, HEAD_BYTES))
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors=FALLBACK_ERRORS)
    held = ""
    with path.open("rb") as handle:
        handle.seek(encoding.bom)
        while True:
            data = handle.read(read_bytes)
            text = held + decoder.decode(data, final=not data)
            held = ""
            if text.endswith("\r") and data:
                text, held = text[:-1], "\r"  # a \r\n may straddle two reads
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text:
                yield text
            if not data:
                return


def _cut_point(text: str) -> int:
    """Where to end a part: a blank line, else a line end, else a space, in the last part
    of ``text``; the whole text when it has none (one enormous word)."""
    n = len(text)
    for sep, start in (("\n\n", n * 3 // 4), ("\n", n // 2), (" ", n // 2)):
        at = text.rfind(sep, start)
        if at >= 0:
            return at + len(sep)
    return n


def cut_parts(pieces: Iterable[str], max_chars: int) -> Iterator[tuple[int, str]]:
    """Join text pieces into parts of about ``max_chars``, cut at a blank line or line end
    where possible (so a record is rarely split), as ``(first line number, text)``."""
    buffer: list[str] = []
    size, line = 0, 1
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        while size >= max_chars:
            text = "".join(buffer)
            cut = _cut_point(text[: max_chars * 2])
            out, rest = text[:cut], text[cut:]
            yield line, out
            line += out.count("\n")
            buffer, size = [rest], len(rest)
    text = "".join(buffer)
    if text.strip():
        yield line, text
