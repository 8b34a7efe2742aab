"""Plain-text documents (any encoding): the text in parts of about a megabyte.

Text dumps can be hundreds of megabytes and mix encodings; the bytes are decoded as
:mod:`matchers.readers.sniff` guesses (invalid UTF-8 read as cp1252, so decoding never
fails) and cut at blank lines or line ends, so a record written over a few lines is rarely
split between two parts. Locations are line numbers of the file.
"""

from __future__ import annotations

from collections.abc import Iterator

from matchers.documents.base import (
    HEAD_BYTES,
    Document,
    Location,
    TextPart,
    cut_parts,
    decoded_pieces,
)
from matchers.readers.sniff import binary_reason, decode, detect_encoding, read_head

__all__ = ["TextDocument"]


class TextDocument(Document):
    """A plain-text file (also RTF, XML, Markdown: anything that decodes as text)."""

    kind = "text"

    def _start(self) -> None:
        """:raises DocumentError: the file is empty or binary."""
        head = read_head(self.path, HEAD_BYTES)
        encoding = detect_encoding(head)
        reason = binary_reason(head, decode(head[encoding.bom :], encoding.codec))
        if reason:
            raise self.error(f"not a text document ({reason})")

    def _parts(self) -> Iterator[TextPart]:
        pieces = decoded_pieces(self.path)
        for first_line, text in cut_parts(pieces, self.limits.part_chars):
            yield TextPart(Location("line", first_line), text)
