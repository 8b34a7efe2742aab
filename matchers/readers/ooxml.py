"""An .xlsx file as a package: which sheets it has (names, order, XML parts), which
cell styles are dates, and its parts as bounded streams of bytes.

A workbook is a zip of XML parts: ``xl/workbook.xml`` lists the sheets, its relationships
(``xl/_rels/workbook.xml.rels``) name each sheet's part and the shared strings and
styles parts; ``xl/styles.xml`` gives each cell style a number format, and a format
that shows days, months, hours... makes a number a date.

It comes from a leak, so: the zip's central directory is checked before ``zipfile``
builds it (a directory of millions of entries would cost gigabytes); every part is read
in bounded chunks and all parts together may expand to at most ``MAX_RATIO`` times the
file plus ``RATIO_ALLOWANCE`` bytes (a zip bomb stops there); small parts are parsed by
expat with DTDs refused; every failure of the zip layer becomes :class:`PartError`.
"""

from __future__ import annotations

import posixpath
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - a dependency; zlib is the fallback
    _isal_zlib = None

from matchers.readers.cellvalues import Kind
from matchers.readers.sheetparse import DtdRefused, new_parser

__all__ = [
    "MAX_RATIO",
    "RATIO_ALLOWANCE",
    "Budget",
    "PartError",
    "Sheet",
    "Workbook",
    "date_format_kind",
    "open_package",
]

MAX_RATIO = 200  # the archive layer's default expansion ratio
RATIO_ALLOWANCE = 64 << 20
MAX_ENTRIES = 100_000
MAX_DIRECTORY_BYTES = 64 << 20
SMALL_PART_BYTES = 64 << 20  # workbook.xml, relationships, styles
READ_BYTES = 1 << 20
ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError,
    OSError, KeyError, struct.error)  # fmt: skip
if _isal_zlib is not None:
    ZIP_ERRORS += (_isal_zlib.error,)

_REL = "/relationships"  # end of the relationships namespace (transitional and strict)
_SHEET_TYPES = ("/worksheet",)
_BUILTIN_DATES = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47}
_BUILTIN_DURATIONS = {46}


class PartError(Exception):
    """A part cannot be read: missing, corrupt, encrypted, truncated, over the budget or
    not well-formed XML. ``reason`` is a fixed phrase for reports."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Budget:
    """Decompressed bytes all parts of one pass may still produce."""

    left: int

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise PartError("workbook expands beyond the size limit (zip bomb?)")


@dataclass(frozen=True)
class Sheet:
    name: str
    part: str | None  # None: listed, but its part is missing or not a worksheet


@dataclass
class Workbook:
    """What a pass over the sheets needs to know about the package."""

    path: Path
    sheets: list[Sheet]
    shared_strings: str | None
    style_kinds: list[Kind] = field(default_factory=list)
    date1904: bool = False

    def budget(self) -> Budget:
        size = self.path.stat().st_size
        return Budget(MAX_RATIO * size + RATIO_ALLOWANCE)

    def kind_of(self, kind_attr: str | None, style: str | None) -> Kind:
        """A cell's Kind from its ``t`` and ``s`` attributes."""
        if kind_attr is None or kind_attr == "n":
            if style is not None and style.isdigit() and int(style) < len(self.style_kinds):
                return self.style_kinds[int(style)]
            return Kind.NUMBER
        return _TYPES.get(kind_attr, Kind.TEXT)


_TYPES = {"s": Kind.SHARED, "str": Kind.TEXT, "inlineStr": Kind.INLINE, "b": Kind.BOOL,
          "e": Kind.ERROR, "d": Kind.ISO_DATE}  # fmt: skip


def _directory_fits(path: Path) -> bool:
    """Whether the end-of-central-directory record promises a directory ``zipfile`` may
    load (entries and bytes under the limits)."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - (1 << 16) - 22))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return False
    entries, directory = struct.unpack_from("<HI", tail, at + 10)
    if entries == 0xFFFF or directory == 0xFFFFFFFF:
        locator = tail.rfind(b"PK\x06\x07", 0, at)
        record = tail.rfind(b"PK\x06\x06", 0, at)
        if locator < 0 or record < 0 or len(tail) < record + 56:
            return False
        entries, directory = struct.unpack_from("<QQ", tail, record + 32)
    return entries <= MAX_ENTRIES and directory <= MAX_DIRECTORY_BYTES


def open_zip(path: Path) -> zipfile.ZipFile:
    """:raises PartError: not a zip we are willing to open."""
    try:
        if not _directory_fits(path):
            raise PartError("zip directory missing or too large")
        return zipfile.ZipFile(path)
    except ZIP_ERRORS:
        raise PartError("not a readable zip") from None


def stream_part(archive: zipfile.ZipFile, name: str, budget: Budget) -> Iterator[bytes]:
    """The decompressed bytes of a part, in chunks of at most ``READ_BYTES``.

    A deflated part is inflated by ISA-L (:mod:`isal`) when it is installed: about twice
    as fast as zlib, which matters for a worksheet of hundreds of MB (inflating was the
    slowest step of reading the shared strings); the checks are zipfile's (the local
    header, the size, the CRC).

    :raises PartError: missing, corrupt, encrypted or over the budget.
    """
    try:
        with archive.open(name) as stream:  # zipfile checks the entry and its header
            info = archive.getinfo(name)
            fast = (_isal_zlib is not None and info.compress_type == zipfile.ZIP_DEFLATED
                    and not info.flag_bits & 0x1 and archive.filename is not None)
            if not fast:
                while chunk := stream.read(READ_BYTES):
                    budget.spend(len(chunk))
                    yield chunk
                return
        yield from _inflate(Path(archive.filename), info, budget)  # type: ignore[arg-type]
    except ZIP_ERRORS:
        raise PartError("workbook part is missing or broken") from None

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length
_RAW_READ = 256 << 10


def _inflate(path: Path, info: zipfile.ZipInfo, budget: Budget) -> Iterator[bytes]:
    """A deflated member's bytes through ISA-L, checked as zipfile checks them.

    :raises zipfile.BadZipFile: a bad header, a truncated or overlong stream, a bad CRC.
    """
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise zipfile.BadZipFile("bad local file header")
        fh.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        inflater = _isal_zlib.decompressobj(-15)  # type: ignore[union-attr]
        left, size, crc = info.compress_size, 0, 0
        while not inflater.eof:
            data = inflater.unconsumed_tail
            if not data and left:
                data = fh.read(min(left, _RAW_READ))
                left -= len(data)
                if not data:
                    raise zipfile.BadZipFile("member cut short")
            # With no input left, the call flushes what an earlier, size-limited one held.
            out = inflater.decompress(data, READ_BYTES)
            if not out and not data:
                raise zipfile.BadZipFile("truncated deflate stream")
            if out:
                size += len(out)
                if size > info.file_size:
                    raise zipfile.BadZipFile("member larger than its directory entry")
                budget.spend(len(out))
                crc = _isal_zlib.crc32(out, crc)  # type: ignore[union-attr]
                yield out
        if size != info.file_size or crc != info.CRC:
            raise zipfile.BadZipFile("bad CRC-32 or size")


def read_part(archive: zipfile.ZipFile, name: str, budget: Budget) -> bytes:
    """A small part whole (workbook, relationships, styles).

    :raises PartError: as :func:`stream_part`, or larger than ``SMALL_PART_BYTES``.
    """
    out = bytearray()
    for chunk in stream_part(archive, name, budget):
        out += chunk
        if len(out) > SMALL_PART_BYTES:
            raise PartError("workbook part over the size limit")
    return bytes(out)


def _elements(data: bytes) -> list[tuple[str, dict[str, str]]]:
    """(local name, attributes) of every element, in order; a namespaced attribute is
    keyed ``"uri#local"``.

    :raises PartError: not well-formed, or a DTD.
    """
    found: list[tuple[str, dict[str, str]]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        found.append((local, {k.replace(" ", "#"): v for k, v in attrs.items()}))

    try:
        new_parser(start, namespaces=True).Parse(data, True)
    except DtdRefused:
        raise PartError("workbook part declares a DTD (refused)") from None
    except expat.ExpatError:
        raise PartError("workbook part is not well-formed XML") from None
    return found


def _relationships(archive: zipfile.ZipFile, budget: Budget) -> dict[str, tuple[str, str]]:
    """Id -> (type, part name) of the workbook's relationships ({} when missing)."""
    try:
        data = read_part(archive, "xl/_rels/workbook.xml.rels", budget)
    except PartError:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for local, attrs in _elements(data):
        if local != "Relationship" or attrs.get("TargetMode") == "External":
            continue
        target = attrs.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join("xl", target))
        out[attrs.get("Id", "")] = (attrs.get("Type", ""), part)
    return out


def date_format_kind(code: str) -> Kind:
    """DATE when a number format shows a date or time, DURATION for elapsed time
    (``[h]:mm``), else NUMBER — decided as calamine does: only the first section (up to
    ``;``) counts; quoted text, characters after ``\\``, ``_`` or ``*``, and bracketed
    colours, locales and conditions are not format letters; ``A/P`` and ``AM/PM`` are."""
    escaped = quoted = ampm = elapsed = False
    brackets = 0
    previous = ""
    for char in code:
        if escaped:
            escaped = False
        elif char in "_\\*":
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char == ";":
            return Kind.NUMBER
        elif char == "[":
            brackets += 1
        elif char == "]" and brackets == 1 and elapsed:
            return Kind.DURATION
        elif char == "]":
            brackets = max(0, brackets - 1)
        elif brackets == 0 and not ampm and char in "aA":
            ampm = True
        elif brackets == 0 and char in ("pmPM/" if ampm else "dmhysDMHYS"):
            return Kind.DATE
        elif not (elapsed and char.lower() == previous.lower()):
            elapsed = previous == "[" and char in "hmsHMS"
        previous = char
    return Kind.NUMBER


def _styles(archive: zipfile.ZipFile, name: str | None, budget: Budget) -> list[Kind]:
    """The Kind of a number in each cell style (``cellXfs``), by style index."""
    if name is None or name not in archive.namelist():
        return []
    formats: dict[str, str] = {}
    kinds: list[Kind] = []
    depth = 0
    for local, attrs in _elements(read_part(archive, name, budget)):
        if local == "numFmt":
            formats[attrs.get("numFmtId", "")] = attrs.get("formatCode", "")
        elif local == "cellXfs":
            depth = 1
        elif local in ("cellStyleXfs", "cellStyles", "dxfs"):
            depth = 0
        elif local == "xf" and depth:
            fmt = attrs.get("numFmtId", "0")
            if fmt in formats:
                kinds.append(date_format_kind(formats[fmt]))
            elif fmt.isdigit() and int(fmt) in _BUILTIN_DATES:
                kinds.append(Kind.DATE)
            elif fmt.isdigit() and int(fmt) in _BUILTIN_DURATIONS:
                kinds.append(Kind.DURATION)
            else:
                kinds.append(Kind.NUMBER)
    return kinds


def open_package(path: Path) -> Workbook:
    """The sheets, shared strings part and styles of an .xlsx file.

    :raises PartError: not a zip, no ``xl/workbook.xml``, or a broken workbook part.
    """
    with open_zip(path) as archive:
        budget = Budget(MAX_RATIO * path.stat().st_size + RATIO_ALLOWANCE)
        elements = _elements(read_part(archive, "xl/workbook.xml", budget))
        rels = _relationships(archive, budget)
        names = set(archive.namelist())
        sheets: list[Sheet] = []
        date1904 = False
        for local, attrs in elements:
            if local == "workbookPr":
                date1904 = attrs.get("date1904", "").lower() in ("1", "true")
            elif local == "sheet":
                rel_id = next((v for k, v in attrs.items()
                               if k.endswith(_REL + "#id")), "")  # fmt: skip
                rel_type, part = rels.get(rel_id, ("", ""))
                ok = rel_type.endswith(_SHEET_TYPES) and part in names
                sheets.append(Sheet(attrs.get("name", ""), part if ok else None))
        by_type = {t.rpartition("/")[2]: p for t, p in rels.values()}
        shared = by_type.get("sharedStrings")
        if shared is None and "xl/sharedStrings.xml" in names:
            shared = "xl/sharedStrings.xml"
        styles = by_type.get("styles") or "xl/styles.xml"
        style_kinds = _styles(archive, styles, budget)
    return Workbook(path, sheets, shared if shared in names else None, style_kinds, date1904)
