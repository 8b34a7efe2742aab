"""Which kind of document a file is, judged by its content, never by its name.

Leaks rename files, drop extensions, or name garbage ``.pdf``; so the kind comes from
magic bytes and structure: ``%PDF-`` in the first kilobyte is a PDF, a zip holding
``word/document.xml`` a Word document, text whose first lines are mail headers an e-mail,
text that opens with HTML tags a web page, and any other text plain text. Everything else
(other archives, images, old binary Office files, binary data, empty files) is no document
we read, with a fixed reason why.
"""

from __future__ import annotations

import re
from pathlib import Path

from matchers.documents.base import HEAD_BYTES
from matchers.documents.docx import is_docx
from matchers.documents.eml import looks_like_email
from matchers.documents.pdf import is_pdf_head
from matchers.readers.sniff import binary_reason, decode, detect_encoding, read_head

__all__ = ["KINDS", "detect_document", "sniff_document"]

KINDS = ("pdf", "docx", "eml", "html", "text")

_HTML = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|table|div|p|span|br|h[1-6]|tr|td|a)\b",
    re.IGNORECASE,
)


def _looks_like_html(text: str) -> bool:
    stripped = text.lstrip("\ufeff \t\r\n")
    return stripped.startswith("<") and _HTML.search(stripped[:8192]) is not None


def sniff_document(path: Path) -> tuple[str | None, str]:
    """``(kind, why)``: the kind (one of :data:`KINDS`) or None, and a fixed phrase saying
    why (safe to show: it holds no text of the file).

    :raises OSError: the file cannot be read.
    """
    path = Path(path)
    head = read_head(path, HEAD_BYTES)
    if is_pdf_head(head):
        return "pdf", "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        if is_docx(path):
            return "docx", "a Word document"
        return None, "a zip archive that is not a Word document"
    encoding = detect_encoding(head)
    text = decode(head[encoding.bom :], encoding.codec)
    reason = binary_reason(head, text)
    if reason:
        if reason == "an old-style Office document":
            reason = "an old binary Office document (.doc/.xls); save it as .docx"
        return None, reason
    if looks_like_email(text):
        return "eml", "an e-mail message"
    if _looks_like_html(text):
        return "html", "an HTML page"
    return "text", "plain text"


def detect_document(path: Path) -> str | None:
    """The kind of document ``path`` is (one of :data:`KINDS`), or None when it is not one
    we can read or cannot be read at all. Plain text is the catch-all: a CSV file is
    "text" too, so a caller tries table readers first where columns are usable."""
    try:
        return sniff_document(path)[0]
    except OSError:
        return None
