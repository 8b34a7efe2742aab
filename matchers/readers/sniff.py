"""Guess how a text table is written: encoding, delimiter, quoting, header.

Leaked files come from anywhere: Excel exports in cp1252 with ``;``, UTF-8 with a BOM,
tab-separated database dumps, files glued together from several sources with mixed
encodings. Guessing happens once, on the head of the file; the readers then stream the
rest with the guessed settings.

Decoding never fails: bytes that are not valid UTF-8 are read as cp1252 (the registered
error handler :data:`FALLBACK_ERRORS`), so a file mixing encodings line by line still
reads, and a byte cp1252 leaves undefined becomes U+FFFD.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matchers.errors import UnreadableDatasetError

__all__ = [
    "DELIMITERS",
    "FALLBACK_ERRORS",
    "Dialect",
    "Encoding",
    "binary_reason",
    "decode",
    "detect_encoding",
    "looks_like_header",
    "read_head",
    "read_head_or_fail",
    "sniff_dialect",
]

DELIMITERS = (",", ";", "\t", "|")
FALLBACK_ERRORS = "cohortwatch-cp1252"
_SNIFF_RECORDS = 200


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


codecs.register_error(FALLBACK_ERRORS, _cp1252_fallback)


def decode(data: bytes, encoding: str = "utf-8") -> str:
    """Decode bytes as ``encoding``, reading any invalid UTF-8 byte as cp1252."""
    return data.decode(encoding, errors=FALLBACK_ERRORS)


@dataclass(frozen=True)
class Encoding:
    """How the bytes of a file are to be decoded.

    ``name`` is what was seen: ``utf-8`` (or plain ASCII), ``utf-8-sig``, ``cp1252``,
    ``mixed`` (UTF-8 lines and cp1252 lines) or ``utf-16``. ``codec`` is what decodes it:
    every 8-bit case decodes as UTF-8 with the cp1252 fallback. ``bom`` is the length of
    the byte order mark to skip.
    """

    name: str
    codec: str
    bom: int


def read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of a file (fewer when it is shorter)."""
    with path.open("rb") as handle:
        return handle.read(size)


def read_head_or_fail(path: Path, size: int, name: str) -> bytes:
    """:func:`read_head`, for a reader about to decide what a file is.

    :raises UnreadableDatasetError: the file cannot be opened or read (named ``name``).
    """
    try:
        return read_head(path, size)
    except OSError as exc:
        raise UnreadableDatasetError(
            f"{name}: cannot be read ({exc.strerror or 'I/O error'})"
        ) from exc


def detect_encoding(head: bytes) -> Encoding:
    """Guess the encoding from the first bytes of a file.

    A BOM decides; otherwise valid UTF-8 is UTF-8, and bytes that are not are cp1252, or
    ``mixed`` when some lines are valid UTF-8 with non-ASCII characters and others are not.
    """
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8-sig", "utf-8", 3)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16", "utf-16", 0)
    if _is_utf8_prefix(head):
        return Encoding("utf-8", "utf-8", 0)
    utf8_lines = 0
    for line in head.splitlines():
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        utf8_lines += 1
    return Encoding("mixed" if utf8_lines else "cp1252", "utf-8", 0)


_MAGIC = (
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document"),
    (b"\x89PNG", "an image"),
    (b"\xff\xd8\xff", "an image"),
)


def binary_reason(head: bytes, text: str) -> str | None:
    """Why the head is not text we can read as a table, or None when it is text."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if not text.strip():
        return "empty file"
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
    if controls > max(2, len(text) // 200) or "\ufffd" * 8 in text:
        return "binary data"
    return None


@dataclass(frozen=True)
class Dialect:
    """The shape of a delimited text file, as guessed from its head.

    ``records`` are the first records of the head, parsed with the guessed delimiter (the
    header included), for header detection and the column count.
    """

    delimiter: str
    columns: int
    records: list[list[str]]


def _is_utf8_prefix(head: bytes) -> bool:
    """Valid UTF-8, allowing a character cut off at the end of the head."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _parse(text: str, delimiter: str) -> list[list[str]]:
    records: list[list[str]] = []
    lines = io.StringIO(text, newline="")  # any of \n, \r\n, \r ends a line
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', strict=False)
    # A field over the csv module's size limit ends the sniff: judge on what came before.
    with contextlib.suppress(csv.Error):
        for record in reader:
            if record and any(cell.strip() for cell in record):
                records.append(record)
            if len(records) >= _SNIFF_RECORDS:
                break
    return records


def sniff_dialect(text: str, *, complete: bool) -> Dialect:
    """Pick the delimiter among , ; TAB | whose field counts agree best over the head.

    ``complete`` says ``text`` is the whole file; otherwise its last record may be cut
    short and is left out of the judgement. Quotes are honoured, so a delimiter inside a
    quoted name does not count.
    """
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut >= 0 else text
    best: tuple[tuple[bool, bool, float, int, int], str, list[list[str]]] | None = None
    for priority, delimiter in enumerate(DELIMITERS):
        records = _parse(text, delimiter)
        if not complete and len(records) > 1:
            records = records[:-1]
        if not records:
            continue
        counts = Counter(len(r) for r in records)
        modal, seen = counts.most_common(1)[0]
        # The first record (a header, usually) must agree too: "naam;bedrag" over rows
        # like "Jan;1,50" is one comma-field over two, however consistent the rows are.
        key = (modal > 1, len(records[0]) == modal, round(seen / len(records), 2), modal, -priority)
        if best is None or key > best[0]:
            best = (key, delimiter, records)
    if best is None:
        return Dialect(",", 1, [])
    _, delimiter, records = best
    counts = Counter(len(r) for r in records[1:] or records)
    columns = counts.most_common(1)[0][0]
    return Dialect(delimiter, columns, records)


_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_]+")
_GENERIC_HEADER_WORDS = frozenset((
    "adres", "address", "straat", "street", "huisnummer", "huisnr", "woonplaats", "plaats",
    "city", "stad", "land", "country", "email", "mail", "telefoon", "telefoonnummer", "phone",
    "tel", "mobiel", "mobile", "geslacht", "gender", "sex", "leeftijd", "age", "datum",
    "date", "status", "uitslag", "result", "resultaat", "type", "code", "nummer", "number",
    "nr", "opmerking", "opmerkingen", "comment", "comments", "omschrijving", "description",
    "bedrag", "amount", "iban", "label",
))  # fmt: skip


def _dataish(cell: str) -> bool:
    """A cell that reads as a value (number, date, code), not as a column label."""
    chars = [ch for ch in cell if not ch.isspace()]
    digits = sum(ch.isdigit() for ch in chars)
    return bool(chars) and digits / len(chars) >= 0.5


def _known_label(cell: str) -> bool:
    from matchers.columns import match_header  # late: columns imports the date parser

    found = match_header(cell)
    if found is not None and found[1] >= 88:  # not near-spellings: "Achterman" is a surname
        return True
    words = {w.lower() for w in _WORD.findall(cell)}
    return bool(words & _GENERIC_HEADER_WORDS)


def looks_like_header(first: Sequence[str], rest: Sequence[Sequence[str]]) -> bool:
    """Whether the first record names the columns rather than holding data.

    Evidence for a header: a cell is a known column word (Dutch or English), or a column
    whose first cell has no digits while most cells below it do, or most cells are
    ``snake_case`` labels. A first record with a number- or date-like cell is data. When
    in doubt the record is data: taking a data row for a header would turn personal
    values into column names, which end up in messages.
    """
    cells = [cell.strip() for cell in first]
    filled = [cell for cell in cells if cell]
    if not filled or any(_dataish(cell) for cell in filled):
        return False
    if any(_known_label(cell) for cell in filled):
        return True
    for index, cell in enumerate(cells):
        if not cell or _DIGIT.search(cell):
            continue
        below = [r[index].strip() for r in rest if index < len(r) and r[index].strip()]
        if below and sum(bool(_DIGIT.search(v)) for v in below) >= 0.6 * len(below):
            return True
    snake = sum("_" in cell and " " not in cell for cell in filled)
    return snake * 2 >= len(filled) and len(filled) > 1
