"""E-mail messages (.eml): headers, text and HTML bodies, and attachments to scan too.

A lab's leaked mailbox holds result letters in the body and patient lists as
attachments. The message is parsed with the standard library (``email`` with the modern
policy, which decodes RFC 2047 headers and charsets); the parser holds the whole message,
so files over ``DocumentLimits.email_bytes`` are refused. Parts:

* part 0: the Subject, From, To, Cc and Reply-To headers, one per line;
* every ``text/plain`` and ``text/html`` body part (not marked as an attachment, no file
  name), HTML through :func:`matchers.documents.html.html_text`, numbered in MIME order;
* every other leaf part, and every attached message (``message/rfc822``, as ``.eml``
  bytes), is handed out by :meth:`EmailDocument.attachments` for the caller to scan like
  any file — :meth:`Attachment.temp_file` puts it in a private temporary file.

The MIME tree is walked with an explicit stack (a hostile message may nest thousands of
multiparts), and each call into the parser's objects is guarded: a part that cannot be
decoded is skipped and counted, never a traceback.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

from matchers.documents.base import Attachment, Document, Location, TextPart, cut_parts
from matchers.documents.html import html_text
from matchers.readers.sniff import decode

__all__ = ["EmailDocument", "looks_like_email"]

_HEADERS = ("Subject", "From", "To", "Cc", "Reply-To")
_BODY_TYPES = ("text/plain", "text/html")
_MAX_PARTS = 10_000
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
_HEADER_LINE = re.compile(r"([A-Za-z][A-Za-z0-9-]{0,76}):")
_KNOWN = frozenset((
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "received", "return-path",
    "mime-version", "content-type", "content-transfer-encoding", "delivered-to", "reply-to",
    "sender", "x-mailer", "dkim-signature", "authentication-results", "thread-topic",
    "in-reply-to", "references", "x-originating-ip", "arc-seal", "user-agent",
))  # fmt: skip


def looks_like_email(text: str) -> bool:
    """The head of a file reads as an e-mail: its first lines (after an optional mbox
    ``From `` line) are all headers, up to a blank line, and at least two of them are
    mail headers (From, To, Subject, Date, Received, ...). "Naam: ...", "Geboortedatum:
    ..." lines are header-shaped too, so the known names decide."""
    lines = text.split("\n", 200)[:200]
    if lines and lines[0].startswith("From "):
        lines = lines[1:]
    known = total = 0
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            break
        if line[0] in " \t":
            if not total:
                return False
            continue
        m = _HEADER_LINE.match(line)
        if m is None:
            return False
        total += 1
        known += m.group(1).lower() in _KNOWN
    else:
        return False  # no blank line ends the headers within the head
    return known >= 2


def _walk(message: Message) -> Iterator[Message]:
    """Every part, depth first in document order, without recursion; an attached message
    is one leaf (its own parts are the caller's to read from the attachment)."""
    stack = [message]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        if part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed(payload))


def _is_body(part: Message) -> bool:
    return (
        part.get_content_type() in _BODY_TYPES
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def _text_of(part: Message) -> str:
    """A text part's content: by its declared charset, else as our decoder reads it."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:  # noqa: BLE001, S110 - unknown charset, broken encoding: fall back below
        pass
    raw = part.get_payload(decode=True)
    return decode(raw) if isinstance(raw, bytes) else ""


class EmailDocument(Document):
    """An e-mail message file (RFC 5322, as saved by mail programs: .eml)."""

    kind = "eml"

    def _start(self) -> None:
        """:raises DocumentError: the file is over the size limit."""
        size = self.path.stat().st_size
        if size > self.limits.email_bytes:
            raise self.error(
                f"e-mail too large to parse ({size >> 20} MiB; the limit is "
                f"{self.limits.email_bytes >> 20} MiB)"
            )

    def _parse(self) -> Message:
        data = self.path.read_bytes()[: self.limits.email_bytes]
        try:
            return BytesParser(policy=email.policy.default).parsebytes(data)
        except Exception:  # noqa: BLE001 - the parser is lenient; anything else is hostile
            raise self.error("broken e-mail (cannot be parsed)") from None

    def _parts(self) -> Iterator[TextPart]:
        message = self._parse()
        headers = []
        for name in _HEADERS:
            try:
                values = message.get_all(name) or []
                headers.extend(f"{name}: {value}" for value in values)
            except Exception:  # noqa: BLE001 - a hostile header; the rest still counts
                self.stats.skip("header could not be decoded")
        if headers:
            yield TextPart(Location("part", 0, 1), "\n".join(headers))
        try:
            for number, part in enumerate(_walk(message), start=1):
                yield from self._body(number, part)
        except RecursionError:
            self.stats.skip("e-mail nested too deeply")

    def _body(self, number: int, part: Message) -> Iterator[TextPart]:
        try:
            if not _is_body(part):
                return
            text = _text_of(part)
        except Exception:  # noqa: BLE001 - see module docstring
            self.stats.skip("body part could not be decoded")
            return
        pieces = [text]
        if part.get_content_type() == "text/html":
            pieces = list(html_text(pieces, self.stats))
        for first_line, chunk in cut_parts(pieces, self.limits.part_chars):
            yield TextPart(Location("part", number, first_line), chunk)

    def attachments(self) -> Iterator[Attachment]:
        """Every part that is not a body text, as bytes (see :class:`Attachment`).

        Empty parts and parts beyond ``DocumentLimits.attachments`` are skipped and
        counted in ``stats``.
        """
        message = self._parse()
        count = 0
        for number, part in enumerate(_walk(message), start=1):
            try:
                if part.get_content_maintype() == "multipart" or _is_body(part):
                    continue
                data = self._data(part)
                filename = part.get_filename()
            except Exception:  # noqa: BLE001 - see module docstring
                self.stats.skip("attachment could not be decoded")
                continue
            if not data:
                self.stats.skip("empty attachment")
                continue
            if count >= self.limits.attachments:
                self.stats.skip("attachment beyond the attachment limit")
                continue
            count += 1
            suffix = Path(filename).suffix if filename else ""
            if part.get_content_type() == "message/rfc822":
                suffix = ".eml"
            suffix = suffix if _SAFE_SUFFIX.fullmatch(suffix) else ""
            yield Attachment(count, number, f"attachment-{count}{suffix.lower()}", filename, data)

    @staticmethod
    def _data(part: Message) -> bytes:
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                return bytes(inner[0].as_bytes())
            return b""
        raw = part.get_payload(decode=True)
        return raw if isinstance(raw, bytes) else b""
