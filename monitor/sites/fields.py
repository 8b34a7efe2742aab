"""What the HTML and JSON field readers share: counting fields that came out empty or
undated, reading a date, and turning the counts into an operator's warnings."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Protocol

from monitor.sites.dates import parse_when

__all__ = ["FieldCounts"]


class _Described(Protocol):
    def describe(self) -> str: ...


class FieldCounts:
    """Base of the per-page field readers; subclasses say what a spec is called."""

    noun = "selector"  # how a warning names a spec ("selector 'deadline' (...)")
    found_nothing = "matched nothing"
    unit = "text"  # what could not be read as a date

    def __init__(self, url: str, now: datetime, order: str) -> None:
        self.url, self.now, self.order = url, now, order
        self.missing: Counter[str] = Counter()
        self.undated: Counter[str] = Counter()

    def dated(self, name: str, text: str, raw: dict[str, str], future: bool
              ) -> tuple[datetime | None, str | None]:
        """``text`` read as a date (counted when it is not one), and ``text`` itself."""
        raw[name] = text[:300]
        moment = parse_when(text, self.now, order=self.order, future=future)
        if moment is None:
            self.undated[name] += 1
        return moment, text

    def warnings(self, specs: dict[str, _Described | None], count: int, what: str) -> list[str]:
        out = []
        for name, spec in specs.items():
            if spec is None:
                continue
            if n := self.missing[name]:
                out.append(f"{self.noun} '{name}' ({spec.describe()}) {self.found_nothing} "
                           f"in {n} of {count} {what}")
            if n := self.undated[name]:
                out.append(f"'{name}' {self.unit} could not be read as a date in {n} of "
                           f"{count} {what}")
        return out
