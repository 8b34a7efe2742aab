"""Dotted field paths into JSON documents, with list expansion.

``data.posts`` walks objects; ``files[].url`` takes ``url`` of every element of ``files``;
``tags[0]`` (or ``tags.0``) one element; ``[]`` alone expands a list at that point; ``""`` is
the document itself. Deliberately small: every path an operator writes can be read at a
glance, and resolving one is a bounded walk (no recursion, no filters, no code).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_VALUES", "compile_path", "resolve", "scalars"]

MAX_VALUES = 1000  # values one path may yield (a hostile list of a million files is cut)
_SEGMENT = re.compile(r"(?P<key>[^.\[\]]*)(?P<subs>(?:\[\d*\])*)")
_SUB = re.compile(r"\[(\d*)\]")

Step = tuple[str, Any]


def compile_path(path: str) -> tuple[Step, ...]:
    """Steps of a path: ``("key", name)``, ``("index", i)`` or ``("each", None)``.

    :raises ValueError: an empty segment (``a..b``), unbalanced brackets or a bracket that
        holds something other than digits.
    """
    if path == "":
        return ()
    steps: list[Step] = []
    for segment in path.split("."):
        m = _SEGMENT.fullmatch(segment)
        if m is None or (not m["key"] and not m["subs"]):
            raise ValueError(f"malformed path segment {segment!r} (use name, name[], name[0])")
        key = m["key"]
        if key:
            steps.append(("index", int(key)) if key.isdigit() else ("key", key))
        for sub in _SUB.finditer(m["subs"]):
            steps.append(("each", None) if sub.group(1) == "" else ("index", int(sub.group(1))))
    return tuple(steps)


def resolve(document: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Every value the path reaches (missing keys and wrong types yield nothing)."""
    current = [document]
    for kind, arg in steps:
        following: list[Any] = []
        for value in current:
            if kind == "key":
                if isinstance(value, dict) and arg in value:
                    following.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    following.append(value[arg])
                elif isinstance(value, dict) and str(arg) in value:
                    following.append(value[str(arg)])
            elif isinstance(value, list):
                following.extend(value[: MAX_VALUES - len(following)])
            elif isinstance(value, dict):
                following.extend(list(value.values())[: MAX_VALUES - len(following)])
            if len(following) >= MAX_VALUES:
                break
        current = following
        if not current:
            break
    return current


def scalars(values: list[Any]) -> Iterator[str]:
    """Each scalar value as text; lists are looked into one level (``"files": ["a", "b"]``),
    objects and nulls skipped."""
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items[:MAX_VALUES]:
            if isinstance(item, bool):
                yield "true" if item else "false"
            elif isinstance(item, int | float | str):
                yield str(item)
