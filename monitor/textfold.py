"""Folding organisation names and post titles so that two spellings of one victim meet.

Leak sites write the same victim many ways: HTML entities escaped once or twice
("Eurofins &amp;amp; Co"), diacritics dropped or not, odd Unicode spaces and dashes, a
title cut off with an ellipsis. Digits carry identity here ("3M"), unlike in person names,
so this is not :func:`matchers.names.fold`.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["fold_org", "is_truncated", "strip_truncation"]

_TRUNCATION = re.compile(r"(?:\s*(?:\.{3,}|…|\[\.\.\.\]|\(\.\.\.\))\s*)$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_MAX_INPUT = 4096


def _unescape(text: str) -> str:
    # Entities escaped twice ("&amp;eacute;") are common after a site's own template
    # escapes already-escaped scraped text; two passes undo that, more would be guessing.
    for _ in range(2):
        if "&" not in text:
            break
        text = html.unescape(text)
    return text


def strip_truncation(text: str) -> str:
    """``text`` without a trailing ellipsis marker ("...", "…", "[...]")."""
    return _TRUNCATION.sub("", text)


def is_truncated(text: str) -> bool:
    """Whether ``text`` ends in an ellipsis marker, i.e. the site shortened it."""
    return bool(_TRUNCATION.search(_unescape(text[-64:])))


def fold_org(text: str | None) -> str:
    """Lowercase a-z and digits separated by single spaces; entities, diacritics,
    punctuation and a trailing ellipsis removed. Idempotent."""
    if not text:
        return ""
    text = strip_truncation(_unescape(text[:_MAX_INPUT]))
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_only = ascii_only.replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    return _NON_ALNUM.sub(" ", ascii_only).strip()
