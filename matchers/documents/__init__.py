"""Documents: finding the people in leaked reports, letters, e-mails, web pages and text.

Owns recognising a document's kind by its content (:mod:`.sniff`), taking its text out
part by part in bounded memory — one module per format: :mod:`.text`, :mod:`.html`,
:mod:`.pdf` (pypdf), :mod:`.docx` (zip + expat), :mod:`.eml` (stdlib ``email``; its
attachments are handed back to be scanned as files of their own) — and finding records
(BSNs, names with birth dates) in that text (:mod:`.records`). Records carry raw strings
under the table matcher's column names, so a caller matches them exactly like CSV rows::

    doc = open_document(path)                  # DocumentError: skip the file, with its reason
    records = list(find_records(doc.parts(), doc.stats))
    batch = records_to_batch(records)          # columns bsn, naam, geboortedatum
    for attachment in doc.attachments():       # e-mail only
        with attachment.temp_file() as inner:  # private, removed on exit
            ...                                 # scan ``inner`` like any file

Raw values exist only in memory (and in an attachment's temporary file while it is
scanned). Errors are :class:`matchers.errors.DocumentError` naming the file and a fixed
reason; what is left out of a readable document is counted in ``stats`` by fixed phrases.
"""

from __future__ import annotations

from pathlib import Path

from matchers.documents.base import (
    Attachment,
    Document,
    DocumentLimits,
    Location,
    TextPart,
)
from matchers.documents.docx import DocxDocument
from matchers.documents.eml import EmailDocument
from matchers.documents.html import HtmlDocument
from matchers.documents.pdf import PdfDocument
from matchers.documents.records import (
    FIELDS,
    Record,
    find_records,
    records_in_text,
    records_to_batch,
)
from matchers.documents.sniff import KINDS, detect_document, sniff_document
from matchers.documents.text import TextDocument
from matchers.errors import DocumentError

__all__ = [
    "FIELDS",
    "KINDS",
    "Attachment",
    "Document",
    "DocumentLimits",
    "DocxDocument",
    "EmailDocument",
    "HtmlDocument",
    "Location",
    "PdfDocument",
    "Record",
    "TextDocument",
    "TextPart",
    "detect_document",
    "find_records",
    "open_document",
    "records_in_text",
    "records_to_batch",
    "sniff_document",
]

_READERS: dict[str, type[Document]] = {
    "pdf": PdfDocument,
    "docx": DocxDocument,
    "eml": EmailDocument,
    "html": HtmlDocument,
    "text": TextDocument,
}


def open_document(
    path: Path,
    *,
    display_name: str | None = None,
    limits: DocumentLimits | None = None,
    kind: str | None = None,
) -> Document:
    """Open ``path`` with the reader its content calls for (or the given ``kind``).

    :raises DocumentError: the file cannot be read, or is no document we read (the reason
        says what it is: an archive, an image, binary data, ...), or its reader refuses it
        at once (broken, encrypted, over a limit).
    """
    path = Path(path)
    name = display_name or path.name
    if kind is None:
        try:
            kind, why = sniff_document(path)
        except OSError as exc:
            raise DocumentError(f"{name}: cannot be read ({exc.strerror or 'I/O error'})") from None
        if kind is None:
            raise DocumentError(f"{name}: not a document we can read ({why})")
    reader = _READERS.get(kind)
    if reader is None:
        raise DocumentError(f"{name}: unknown document kind {kind!r}; known: {', '.join(KINDS)}")
    return reader(path, display_name=name, limits=limits)
