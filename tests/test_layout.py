"""Imports point one way: monitor -> matchers, alerts; never back (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_matchers_and_alerts_never_import_monitor() -> None:
    assert "monitor" not in _imports("matchers")
    assert "monitor" not in _imports("alerts")


def test_matchers_does_not_import_alerts() -> None:
    assert "alerts" not in _imports("matchers")
