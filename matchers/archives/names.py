"""Member names: which are unsafe, and how a name is shown.

Names are never used to build a file-system path (members are written under counter
names), so a hostile name cannot write anywhere. Unsafe names are still refused, as the
archive tools a person might use on the same file would follow them. Names are shown with
control characters replaced, so a name cannot carry terminal escape sequences into a log.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SHOWN_NAME", "safe_name", "shown_name"]

MAX_SHOWN_NAME = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _clean(raw: str) -> str:
    text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub("?", text.replace("\\", "/"))


def _shorten(text: str) -> str:
    if len(text) > MAX_SHOWN_NAME:
        text = text[: MAX_SHOWN_NAME - 1] + "…"
    return text or "?"


def shown_name(raw: str) -> str:
    """A member name as it may be shown: valid UTF-8, no control characters, ``/`` as
    separator, at most :data:`MAX_SHOWN_NAME` characters."""
    return _shorten(_clean(raw))


def safe_name(raw: str) -> str | None:
    """The member's relative path, cleaned for showing; None when the name is absolute,
    starts with a drive letter, or has a ``..`` component (``\\`` counts as a separator:
    archives made on Windows use it)."""
    text = _clean(raw)
    if text.startswith("/") or _DRIVE.match(text):
        return None
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        return None
    return _shorten("/".join(parts))
