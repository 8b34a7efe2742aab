"""Text and URLs out of hostile pages: normalised, bounded, never trusted.

Leak sites pad names with zero-width characters and entities, and a hostile page can carry
megabyte attribute values; everything a parser returns passes through here, so posts compare
equal however the site wrote them and no field grows without bound.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_FIELD",
    "MAX_URL",
    "absolute_url",
    "clean_text",
    "decode_body",
]

MAX_FIELD = 1000          # victim, title, a date's text
MAX_DESCRIPTION = 20_000  # description (several matches joined)
MAX_URL = 2048
_RAW_CAP = 200_000        # text looked at before normalising (bounds the regex work)

# Zero-width and bidi controls: invisible, used to defeat scrapers and exact matching.
_INVISIBLE = dict.fromkeys(
    [0x00AD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF,
     *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,2000}>")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]{1,40})", re.I)
_URL_SCHEMES = ("http", "https")


def clean_text(value: str, limit: int = MAX_FIELD, *, markup: bool = False) -> str:
    """Whitespace collapsed, invisible and control characters removed, NFC, at most ``limit``.

    ``markup`` removes tags and decodes HTML entities: for JSON values, which often carry
    HTML (the HTML parser has already done both for text it extracts).
    """
    value = value[:_RAW_CAP]
    if markup:
        if "<" in value:
            value = _TAG.sub(" ", value)
        if "&" in value:
            value = html.unescape(value)
    value = _CONTROL.sub(" ", value.translate(_INVISIBLE))
    value = unicodedata.normalize("NFC", _SPACE.sub(" ", value).strip())
    return value[:limit].rstrip()


def absolute_url(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``: an absolute http(s) URL without fragment, or None.

    None for empty links, fragments, ``javascript:``/``mailto:``/``data:`` links, other
    schemes, malformed URLs and URLs longer than :data:`MAX_URL`.
    """
    href = _SPACE.sub("", _CONTROL.sub("", href[: MAX_URL * 2].translate(_INVISIBLE)))
    if not href or href.startswith("#"):
        return None
    try:
        joined = urljoin(base, href)
        parts = urlsplit(joined)
        if parts.scheme.lower() not in _URL_SCHEMES or not parts.hostname:
            return None
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path or "/", query, ""))
    return url if len(url) <= MAX_URL else None


def decode_body(body: bytes, content_type: str | None) -> str:
    """A page's bytes as text: the HTTP charset, else a BOM, else ``<meta charset>``, else
    UTF-8; undecodable bytes become U+FFFD rather than an error."""
    charset = None
    if content_type and (m := _CT_CHARSET.search(content_type)):
        charset = m.group(1)
    elif body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace")
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", "replace")
    elif m := _META_CHARSET.search(body[:4096]):
        charset = m.group(1).decode("ascii")
    if charset:
        try:
            codecs.lookup(charset)
            return body.decode(charset, "replace")
        except (LookupError, ValueError):
            pass  # an unknown or bogus charset label: fall through to sniffing
    return body.decode("utf-8", "replace")
