"""PDF documents with a text layer (lab reports, letters), page by page, through pypdf.

A PDF that is a scan has no text to read: that is reported as "no text layer (scanned
image?)" — OCR is out of scope. An encrypted PDF is opened when it only has an owner
password (the empty user password, common for "protected" reports); otherwise it is
reported as needing a password.

pypdf is pure Python and raises exceptions of many types on hostile files (its own,
``KeyError``, ``ValueError``, ``struct.error``, ``zlib.error``, ``RecursionError``...), so
each call into it is guarded by a blanket ``except Exception``: a broken page is skipped and
counted, a file it cannot open is our :class:`DocumentError`. Its decompression limits
(75 MB per stream by default) bound memory per page; ``DocumentLimits.pdf_pages`` and
``page_chars`` bound the rest. pypdf's log messages and warnings can quote bytes of the
file, so they are silenced (privacy rule 2: no raw values in logs).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from matchers.documents.base import HEAD_BYTES, Document, Location, TextPart
from matchers.readers.sniff import read_head

if TYPE_CHECKING:
    from pypdf import PdfReader

__all__ = ["PdfDocument", "is_pdf_head"]

# Child loggers (pypdf._reader, ...) inherit this level: nothing of pypdf's reaches a log.
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)


def is_pdf_head(head: bytes) -> bool:
    """A PDF header in the first 1024 bytes (readers accept junk before it)."""
    return b"%PDF-" in head[:1024]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class PdfDocument(Document):
    """A PDF file; parts are pages (``Location('page', n, 1)``)."""

    kind = "pdf"
    pages: int

    def _start(self) -> None:
        """Open the file once to fail early: not a PDF, broken, or encrypted.

        :raises DocumentError: with one of those reasons.
        """
        if not is_pdf_head(read_head(self.path, HEAD_BYTES)):
            raise self.error("not a PDF document")
        with self.path.open("rb") as handle:
            reader = self._open(handle)
            try:
                with _quiet():
                    self.pages = len(reader.pages)
            except Exception:  # noqa: BLE001 - pypdf raises arbitrary types on hostile files
                raise self.error("broken PDF (its page tree cannot be read)") from None

    def _open(self, handle: IO[bytes]) -> PdfReader:
        from pypdf import PdfReader

        try:
            with _quiet():
                reader = PdfReader(handle, strict=False)
        except Exception:  # noqa: BLE001 - see module docstring
            raise self.error("broken PDF (cannot be parsed)") from None
        if reader.is_encrypted:
            try:
                with _quiet():
                    opened = reader.decrypt("")
            except Exception:  # noqa: BLE001 - unsupported or broken encryption
                raise self.error("encrypted PDF that cannot be opened") from None
            if not opened:
                raise self.error("encrypted PDF (a password is needed; none was given)")
        return reader

    def _parts(self) -> Iterator[TextPart]:
        """Each page with text, in order.

        :raises DocumentError: when no page had any text ("no text layer (scanned
            image?)") or no page could be read at all.
        """
        limits = self.limits
        with_text = empty = failed = 0
        with self.path.open("rb") as handle:
            reader = self._open(handle)
            count = min(self.pages, limits.pdf_pages)
            if self.pages > count:
                self.stats.skip("page beyond the page limit", self.pages - count)
            for index in range(count):
                try:
                    with _quiet():
                        text = reader.pages[index].extract_text()
                except Exception:  # noqa: BLE001 - see module docstring
                    failed += 1
                    self.stats.skip("page could not be read")
                    continue
                if not isinstance(text, str) or not text.strip():
                    empty += 1
                    continue
                if len(text) > limits.page_chars:
                    text = text[: limits.page_chars]
                    self.stats.skip("page text cut at the size limit")
                with_text += 1
                yield TextPart(Location("page", index + 1, 1), text)
        if empty:
            self.stats.skip("page without a text layer", empty)
        if not with_text:
            if failed and not empty:
                raise self.error("broken PDF (no page could be read)")
            raise self.error("no text layer (scanned image?)")
