"""HTML pages: visible text, with table rows as tab-separated lines.

Why not beautifulsoup4 or ``html.parser``: both make a Python call per tag and per text
run. Measured here on 50 MB pages, ``html.parser`` (fed in 64 KB pieces) took 25 s for
a one-line table, 46 s for ten million nested ``<div>``, 106 s for a page of ``<``, and
buffers an unclosed ``<script>`` or comment without bound; beautifulsoup4 adds a tree of
the whole page on top. Leak pages are hostile, so text is taken out with a few
linear-time regular-expression passes instead, streaming piece by piece:

* comments, ``<script>``, ``<style>`` and ``<template>`` are dropped (found with
  ``str.find``-like searches; an unclosed one drops the rest of the page, counted);
* ``<td>``/``<th>`` become a tab, block tags (p, div, br, tr, li, h1..., table) a line
  end, every other tag nothing (one pass, see :func:`_markup_text`); character
  references are decoded;
* source whitespace is collapsed as a browser would.

Tag patterns never cross a ``<``, so ``<<<<`` or an attribute without its ``>`` cost one
pass. Nothing is parsed into a tree: deep nesting costs nothing. Locations are lines of
the extracted text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator

from matchers.documents.base import Document, Location, TextPart, cut_parts, decoded_pieces
from matchers.readers.base import ReadStats

__all__ = ["HtmlDocument", "html_text"]

_SKIP_START = re.compile(r"<!--|<(script|style|template)(?![\w-])", re.IGNORECASE)
_SKIP_END = {
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
    "template": re.compile(r"</template\s*>", re.IGNORECASE),
    "": re.compile(r"--!?>"),
}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)?[^<>]*>")
_BLOCKS = (
    "p div br hr li ul ol dl dt dd h1 h2 h3 h4 h5 h6 tr table thead tbody tfoot caption "
    "section article header footer main nav aside blockquote pre address form fieldset "
    "legend title option figure figcaption body head html"
)
_TAG_TEXT = {**dict.fromkeys(_BLOCKS.split(), "\n"), "td": "\t", "th": "\t"}
_SPACES = re.compile(r" {2,}")
_BLANKS = re.compile(r"\n[\n\t]+")
_SOURCE_WS = str.maketrans("\t\n\r\f\v\xa0", "      ")
_CARRY_MAX = 64 * 1024


def _tag_text(m: re.Match[str]) -> str:
    """What a tag leaves in the text: a tab for a cell start, a line end for a block tag
    (start or end), nothing for the rest (also ``<!doctype>``, ``<?xml?>``)."""
    name = m.group(2)
    if name is None:
        return ""
    out = _TAG_TEXT.get(name.lower(), "")
    return "" if out == "\t" and m.group(1) else out


def _markup_text(segment: str) -> str:
    """Text of a piece of markup holding no comment, script, style or template.

    One regex pass with a replacement function: a Python call per tag, but every ``<``
    costs one failed attempt only, so a page of ten million ``<`` or ``<div>`` takes about
    as long per megabyte as an ordinary page (~1.3 s per 10 MB here).
    """
    s = segment.translate(_SOURCE_WS)
    if "<" in s:
        s = _TAG.sub(_tag_text, s)
    if "&" in s:
        s = html.unescape(s).translate(_SOURCE_WS)
    return s


def _tidy(text: str) -> str:
    """Collapse spaces as a browser does; one line end between blocks; no tab opening a
    line (a row's first cell). ``str.replace`` where it will do: it runs at memory speed."""
    text = _SPACES.sub(" ", text)
    for a, b in ((" \n", "\n"), ("\n ", "\n"), (" \t", "\t"), ("\t ", "\t")):
        if a in text:
            text = text.replace(a, b)
    return _BLANKS.sub("\n", text)


def _carry_from(segment: str) -> int:
    """Where an unfinished tag or character reference at the end of ``segment`` starts
    (to be completed by the next piece), or ``len(segment)``."""
    lt = segment.rfind("<")
    if lt >= 0 and segment.find(">", lt) < 0 and len(segment) - lt <= _CARRY_MAX:
        return lt
    amp = segment.rfind("&", len(segment) - 12)
    if amp >= 0 and ";" not in segment[amp:]:
        return amp
    return len(segment)


def html_text(pieces: Iterable[str], stats: ReadStats | None = None) -> Iterator[str]:
    """The visible text of HTML given in pieces, one text piece per input piece.

    Streaming and linear in the input; memory is one piece plus at most 64 KB carried
    over. An unclosed comment or script swallows the rest of the page, as in a browser;
    that is counted in ``stats`` as ``'HTML left unclosed'``.
    """
    skipping: str | None = None  # end marker key while inside a dropped region
    carry = ""
    started = False  # the text starts at its first visible line, not at a blank one
    for piece in pieces:
        buf = carry + piece
        carry = ""
        out: list[str] = []
        pos = 0
        while pos < len(buf):
            if skipping is not None:
                end = _SKIP_END[skipping].search(buf, pos)
                if end is None:
                    carry = buf[max(pos, len(buf) - 16) :]  # an end tag may straddle pieces
                    pos = len(buf)
                    break
                pos, skipping = end.end(), None
                out.append(" ")
                continue
            start = _SKIP_START.search(buf, pos)
            if start is None:
                cut = _carry_from(buf[pos:]) + pos
                out.append(_markup_text(buf[pos:cut]))
                carry = buf[cut:]
                break
            out.append(_markup_text(buf[pos : start.start()]))
            skipping = (start.group(1) or "").lower()
            pos = start.end()
        text = _tidy("".join(out))
        if not started:
            text = text.lstrip("\n")
        if text:
            started = True
            yield text
    if skipping is not None:
        if stats is not None:
            stats.skip("HTML left unclosed")
    elif carry:
        text = _tidy(_markup_text(carry))
        if text:
            yield text


class HtmlDocument(Document):
    """An HTML page (also XHTML); see the module docstring for what counts as text."""

    kind = "html"

    def _parts(self) -> Iterator[TextPart]:
        texts = html_text(decoded_pieces(self.path), self.stats)
        for first_line, text in cut_parts(texts, self.limits.part_chars):
            yield TextPart(Location("line", first_line), text)
