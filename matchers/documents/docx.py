"""Word documents (.docx): paragraphs and table rows, read straight from the zip.

Why not python-docx: it builds an lxml tree of the whole document, so a 60 MB
``document.xml`` (or a zip bomb) costs gigabytes. Here each XML part is streamed through
expat in 256 KB pieces with handlers that keep only the current paragraph and table row:

* decompressed bytes read per part are capped (``DocumentLimits.xml_bytes``): a zip bomb
  stops there, counted as ``'document part over the size limit'``;
* a DTD is refused (DOCX never has one), which rules out entity expansion ("billion
  laughs") and external entities;
* a part that is not well-formed stops at the error; what came before is kept.

Text is what Word shows: ``w:t`` (and ``w:delText``, deleted tracked changes, which a
leak still contains); ``w:br``/``w:cr`` end a line, ``w:tab`` is a space. A table row
becomes one line with its cells joined by tabs (several paragraphs in a cell are joined
with spaces), so a row "Naam | Jan de Vries" reads like "Naam<TAB>Jan de Vries" and a
table with a header row can be read column by column. The body comes first, then
headers, footers, footnotes, endnotes and comments (a letter's patient line is often in
its header). Locations are paragraph numbers within each of those parts. Files embedded
in the document (an Excel sheet pasted into a letter) are handed out by
:meth:`DocxDocument.attachments` to be scanned as files of their own.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from xml.parsers import expat

from matchers.documents.base import Attachment, Document, Location, TextPart

__all__ = ["DocxDocument", "is_docx"]

_BODY = "word/document.xml"
_OTHER = re.compile(r"word/(header|footer|footnotes|endnotes|comments)\d*\.xml")
_UNITS = {"header": "header", "footer": "footer", "footnotes": "footnote",
          "endnotes": "endnote", "comments": "comment"}  # fmt: skip
_W = ("http://schemas.openxmlformats.org/wordprocessingml/2006/main",
      "http://purl.oclc.org/ooxml/wordprocessingml/main")  # fmt: skip
_READ = 256 * 1024
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError,
               ValueError, OSError)  # fmt: skip


def is_docx(path: Path) -> bool:
    """A zip holding ``word/document.xml``; False for any other file, however broken."""
    try:
        with zipfile.ZipFile(path) as archive:
            archive.getinfo(_BODY)
    except (KeyError, *_ZIP_ERRORS):
        return False
    return True


class _DtdRefused(Exception):
    """A DOCX part declared a DTD."""


class _Paragraphs:
    """expat handlers that collect ``(paragraph number, line text)`` as they complete.

    State is the open paragraphs (a text box nests one inside another), the open table
    rows and cells (tables nest too) and whether we are inside a run or a text element.
    """

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.paragraph = 0
        self._paras: list[tuple[int, list[str]]] = []
        self._rows: list[tuple[int, list[str]]] = []
        self._cells: list[list[str]] = []
        self._text = 0
        self._run = 0

    def parser(self) -> expat.XMLParserType:
        parser = expat.ParserCreate(namespace_separator="}")
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.data
        parser.StartDoctypeDeclHandler = self.refuse
        parser.EntityDeclHandler = self.refuse
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.buffer_text = True
        return parser

    @staticmethod
    def refuse(*_args: object) -> None:
        raise _DtdRefused

    @staticmethod
    def _local(name: str) -> str | None:
        uri, _, local = name.rpartition("}")
        return local if uri in _W else None

    def start(self, name: str, _attrs: object) -> None:
        local = self._local(name)
        if local == "p":
            self.paragraph += 1
            self._paras.append((self.paragraph, []))
        elif local in ("t", "delText"):
            self._text += 1
        elif local == "r":
            self._run += 1
        elif local in ("br", "cr", "tab") and self._run and self._paras:
            inline = local == "tab" or bool(self._cells)
            self._paras[-1][1].append(" " if inline else "\n")
        elif local == "tr":
            self._rows.append((self.paragraph + 1, []))
        elif local == "tc":
            self._cells.append([])

    def end(self, name: str) -> None:
        local = self._local(name)
        if local == "p" and self._paras:
            number, pieces = self._paras.pop()
            text = "".join(pieces).strip()
            if self._cells:
                if text:
                    self._cells[-1].append(text)
            elif text or not self._paras:
                self._emit(number, text)
        elif local in ("t", "delText"):
            self._text = max(0, self._text - 1)
        elif local == "r":
            self._run = max(0, self._run - 1)
        elif local == "tc" and self._cells:
            cell = " ".join(self._cells.pop())
            if self._rows:
                self._rows[-1][1].append(cell)
        elif local == "tr" and self._rows:
            number, cells = self._rows.pop()
            if self._cells:  # a table inside a cell: its row is text of that cell
                self._cells[-1].append(" ".join(c for c in cells if c))
            elif any(cells):
                self._emit(number, "\t".join(cells))

    def data(self, text: str) -> None:
        if self._text and self._paras:
            self._paras[-1][1].append(text)

    def _emit(self, number: int, text: str) -> None:
        for line in text.split("\n"):
            self.lines.append((number, line))


class DocxDocument(Document):
    """A Word document; see the module docstring for what is read and how."""

    kind = "docx"

    def _start(self) -> None:
        """:raises DocumentError: not a zip, not a Word document, or encrypted."""
        try:
            with zipfile.ZipFile(self.path) as archive:
                names = [
                    info.filename for info in archive.infolist()
                    if info.filename == _BODY or _OTHER.fullmatch(info.filename)
                ]  # fmt: skip
                if _BODY not in names:
                    raise self.error("not a Word document (no word/document.xml)")
                if archive.getinfo(_BODY).flag_bits & 0x1:
                    raise self.error("encrypted Word document")
        except _ZIP_ERRORS:
            raise self.error("broken Word document (not a readable zip)") from None
        others = sorted(n for n in names if n != _BODY)
        self._members = [_BODY, *others]

    def _parts(self) -> Iterator[TextPart]:
        members = self._members[: self.limits.docx_parts]
        if len(self._members) > len(members):
            left_out = len(self._members) - len(members)
            self.stats.skip("document part beyond the part limit", left_out)
        try:
            with zipfile.ZipFile(self.path) as archive:
                for member in members:
                    yield from self._member(archive, member)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError):
            raise self.error("broken Word document (not a readable zip)") from None

    def _member(self, archive: zipfile.ZipFile, member: str) -> Iterator[TextPart]:
        match = _OTHER.fullmatch(member)
        unit = _UNITS[match.group(1)] if match else "paragraph"
        limit = self.limits.xml_bytes
        collector = _Paragraphs()
        parser = collector.parser()
        pending: list[tuple[int, str]] = []
        size = 0
        read = 0
        try:
            with archive.open(member) as stream:
                while True:
                    data = stream.read(min(_READ, limit + 1 - read))
                    read += len(data)
                    if read > limit:
                        self.stats.skip("document part over the size limit")
                        break
                    parser.Parse(data, not data)
                    if collector.lines:
                        pending.extend(collector.lines)
                        size += sum(len(text) + 1 for _, text in collector.lines)
                        collector.lines.clear()
                        if size >= self.limits.part_chars:
                            yield self._part(unit, pending)
                            pending, size = [], 0
                    if not data:
                        break
        except _DtdRefused:
            self.stats.skip("document part declares a DTD (refused)")
        except expat.ExpatError:
            self.stats.skip("document part is not well-formed XML")
        except _ZIP_ERRORS:
            self.stats.skip("document part is broken")
        pending.extend(collector.lines)
        if any(text.strip() for _, text in pending):
            yield self._part(unit, pending)

    def attachments(self) -> Iterator[Attachment]:
        """Files embedded in the document (``word/embeddings/``: a spreadsheet pasted into
        a letter is a patient list too), up to ``DocumentLimits.attachments``, each read
        up to ``DocumentLimits.xml_bytes``; images are not handed out."""
        count = 0
        try:
            with zipfile.ZipFile(self.path) as archive:
                for info in archive.infolist():
                    if not info.filename.startswith("word/embeddings/") or info.is_dir():
                        continue
                    if count >= self.limits.attachments:
                        self.stats.skip("attachment beyond the attachment limit")
                        continue
                    try:
                        with archive.open(info) as stream:
                            data = stream.read(self.limits.xml_bytes + 1)
                    except _ZIP_ERRORS:
                        self.stats.skip("attachment could not be decoded")
                        continue
                    if len(data) > self.limits.xml_bytes:
                        self.stats.skip("attachment over the size limit")
                        continue
                    if not data:
                        self.stats.skip("empty attachment")
                        continue
                    count += 1
                    suffix = PurePosixPath(info.filename).suffix.lower()
                    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
                    yield Attachment(count, 0, f"embedded-{count}{suffix}", info.filename, data)
        except _ZIP_ERRORS:
            raise self.error("broken Word document (not a readable zip)") from None

    @staticmethod
    def _part(unit: str, lines: list[tuple[int, str]]) -> TextPart:
        numbers = tuple(number for number, _ in lines)
        return TextPart(Location(unit, numbers[0]), "\n".join(text for _, text in lines), numbers)
