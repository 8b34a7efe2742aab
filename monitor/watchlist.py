"""Which posts name a watched organisation: fuzzy, token-aware, domain-aware matching.

A leak post names its victim in many ways — "Clinical Diagnostics NMDL", "clinical
diagnostics", "CLINICALDIAGNOSTICS.NL", "Clinical Diagnostlcs" — and in the title or the
description as often as in the victim field. Each watched name or alias is compared with
every run of about as many words in the post (so "Diagnostics" alone does not match
"Clinical Diagnostics NMDL", as a token-set score would have it), also with the spaces
squashed out (a domain label "clinicaldiagnostics" meets "Clinical Diagnostics"). Watched
domains match the same domain or a subdomain written anywhere in the post. Short names
(acronyms such as "NMDL") must appear as a whole word: a fuzzy score on four letters is
noise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from matchers.errors import ConfigError
from monitor.textfold import fold_org

__all__ = [
    "WatchEntry", "WatchHit", "Watchlist", "WatchlistSettings", "load_watchlist", "registrable",
]

_SHORT = 5  # folded names shorter than this must match a whole word exactly
_MAX_TEXT = 20_000  # characters of a description considered
_DOMAIN = re.compile(r"(?<![\w.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})\b")
# Second-level labels under which registrations sit one level deeper (example.co.uk).
_SECOND_LEVEL = {"co", "com", "org", "net", "ac", "gov", "edu", "nhs", "or", "ne"}


@dataclass(frozen=True)
class WatchEntry:
    """One watched organisation: a display name, other names it goes by, its domains."""

    name: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class WatchlistSettings:
    threshold: float = 0.90  # a post matches at this score (0..1) or above
    entries: tuple[WatchEntry, ...] = ()


@dataclass(frozen=True)
class WatchHit:
    """The best match of one entry in one post: which entry, how sure, where it was seen."""

    entry: str
    score: float
    field: str  # victim, title, description or a file link
    via: str  # name, alias or domain


def registrable(domain: str) -> str:
    """The part of ``domain`` an organisation registers: ``mail.eurofins.co.uk`` →
    ``eurofins.co.uk``. A small rule rather than the public-suffix list: watched domains
    are typed by the operator, so a near miss only costs a fuzzy name match instead."""
    labels = domain.lower().strip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@dataclass(frozen=True)
class _Term:
    entry: str
    via: str
    folded: str
    words: int
    squashed: str


@dataclass
class Watchlist:
    """Compiled watchlist; build once per configuration, call :meth:`match` per post."""

    settings: WatchlistSettings
    _terms: list[_Term] = field(init=False, default_factory=list)
    _domains: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.settings.entries:
            for via, text in [("name", entry.name), *(("alias", a) for a in entry.aliases)]:
                folded = fold_org(text)
                if folded:
                    self._terms.append(
                        _Term(entry.name, via, folded, len(folded.split()),
                              folded.replace(" ", ""))
                    )
            for domain in entry.domains:
                d = domain.lower().strip().strip(".")
                if d:
                    self._domains[d] = (entry.name, registrable(d))
                    # The domain's own label is a name too ("eurofins" from eurofins.com).
                    label = registrable(d).split(".")[0]
                    if len(label) >= _SHORT:
                        self._terms.append(_Term(entry.name, "domain", label, 1, label))

    def __len__(self) -> int:
        return len(self.settings.entries)

    def match(self, fields: Mapping[str, str | None] | Iterable[tuple[str, str | None]]
              ) -> list[WatchHit]:
        """Best hit per entry at or above the threshold, best first.

        ``fields`` maps a field name ("victim", "title", "description", "files") to text.
        """
        items = fields.items() if isinstance(fields, Mapping) else fields
        best: dict[str, WatchHit] = {}
        for name, text in items:
            if not text:
                continue
            text = text[:_MAX_TEXT]
            for hit in self._match_text(name, text):
                old = best.get(hit.entry)
                if old is None or hit.score > old.score:
                    best[hit.entry] = hit
        threshold = self.settings.threshold
        return sorted((h for h in best.values() if h.score >= threshold),
                      key=lambda h: (-h.score, h.entry))

    def _match_text(self, name: str, text: str) -> Iterable[WatchHit]:
        lowered = text.lower()
        for found in _DOMAIN.findall(lowered):
            reg = registrable(found)
            for domain, (entry, watched_reg) in self._domains.items():
                if found == domain or found.endswith("." + domain) or reg == watched_reg:
                    yield WatchHit(entry, 1.0, name, "domain")
        words = fold_org(text).split()
        if not words:
            return
        runs = _Runs(words)
        cutoff = self.settings.threshold * 100
        for term in self._terms:
            score = _term_score(term, runs, cutoff)
            if score > 0:
                yield WatchHit(term.entry, round(score / 100, 3), name, term.via)


class _Runs:
    """The runs of ``n`` consecutive words of one text, spaced and squashed, made once per
    size and shared by every term (a description is compared with a dozen terms)."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self._cache: dict[int, tuple[list[str], list[str]]] = {}

    def of(self, n: int) -> tuple[list[str], list[str]]:
        got = self._cache.get(n)
        if got is None:
            w = self.words
            runs = [w[i:i + n] for i in range(max(1, len(w) - n + 1))]
            got = ([" ".join(r) for r in runs], ["".join(r) for r in runs])
            self._cache[n] = got
        return got


def _term_score(term: _Term, runs: _Runs, cutoff: float) -> float:
    """Best similarity (0..100) of ``term`` to any run of about as many words, or 0 when
    below ``cutoff``; rapidfuzz compares a term with all runs of one size in C."""
    if len(term.squashed) < _SHORT:
        return 100.0 if term.folded in runs.of(term.words)[0] else 0.0
    best = 0.0
    for size in sorted({max(1, term.words - 1), term.words, term.words + 1}):
        spaced, squashed = runs.of(size)
        for query, choices in ((term.folded, spaced), (term.squashed, squashed)):
            hit = process.extractOne(query, choices, scorer=fuzz.ratio,
                                     score_cutoff=max(cutoff, best))
            if hit is not None and hit[1] > best:
                best = hit[1]
                if best >= 100.0:
                    return best
    return best


def load_watchlist(data: Any, where: str, source: str) -> WatchlistSettings:
    """Validate the ``[watchlist]`` table of a configuration file.

    :raises ConfigError: unknown keys or wrong types, naming the file and key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: at '{where}': expected a table")
    threshold = 0.90
    entries: list[WatchEntry] = []
    for key, value in data.items():
        if key == "threshold":
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 < value <= 1
            ):
                raise ConfigError(f"{source}: at '{where}.threshold': expected a number in (0, 1]")
            threshold = float(value)
        elif key == "organisations":
            if not isinstance(value, list):
                raise ConfigError(f"{source}: at '{where}.organisations': expected an array "
                                  "of tables ([[watchlist.organisations]])")
            for i, item in enumerate(value):
                entries.append(_entry(item, f"{where}.organisations[{i}]", source))
        else:
            raise ConfigError(f"{source}: at '{where}.{key}': unknown key "
                              "(known: organisations, threshold)")
    return WatchlistSettings(threshold=threshold, entries=tuple(entries))


def _entry(item: Any, where: str, source: str) -> WatchEntry:
    if not isinstance(item, dict):
        raise ConfigError(f"{source}: at '{where}': expected a table")
    unknown = set(item) - {"name", "aliases", "domains"}
    if unknown:
        raise ConfigError(f"{source}: at '{where}.{sorted(unknown)[0]}': unknown key "
                          "(known: aliases, domains, name)")
    name = item.get("name")
    if not isinstance(name, str) or not fold_org(name):
        raise ConfigError(f"{source}: at '{where}.name': expected the organisation's name")
    lists = {}
    for key in ("aliases", "domains"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: at '{where}.{key}': expected a list of strings")
        lists[key] = tuple(value)
    for d in lists["domains"]:
        if not _DOMAIN.fullmatch(d.lower().strip(".")):
            raise ConfigError(f"{source}: at '{where}.domains': '{d}' is not a domain name")
    return WatchEntry(name=name, aliases=lists["aliases"], domains=lists["domains"])
