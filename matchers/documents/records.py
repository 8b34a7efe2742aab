"""Find the people in document text: BSNs, and names with birth dates, as table-like records.

Each :class:`Record` holds raw strings under the column names the table matcher knows
(``bsn``, ``naam``, ``geboortedatum``), so a caller turns records into a batch
(:func:`records_to_batch`) and every person found in a document goes through exactly the
matching a CSV row goes through (11-proof, typo correction, name normalisation, keyed
encodings). Nothing is normalised or judged here beyond what is needed to *find* values.

What is found
    * **BSNs** written ``123456782``, ``1234.56.782``, ``123 456 782``, ``1234 56 782``,
      ``123.456.782``, ``12-34-56-782`` (one separator throughout), standing alone (no
      letter, digit or decimal point glued to them). Unlabelled ones must pass the
      11-proof: a random 9-digit number (phone, order, account) passes one time in
      eleven, and a labelled one is far more likely a person's. Labelled ones ("BSN:",
      "burgerservicenummer", "sofinummer", "citizen service number", also a label alone on
      the line before, or a table column) are kept when they fail it — a typo the matcher
      may correct — and may have 8 digits (a lost leading zero).
    * **Names** after a label ("Patiënt", "Naam", "Naam patiënt", "Cliënt", "Name",
      "Voornaam", "Voorletters", "Tussenvoegsel", "Achternaam", ...) followed by ``:``, a
      tab, two spaces, ``=``/``>`` (XML, JSON), or the end of the line (the value is then
      the next line, as in a two-column table); and after a title ("Mevr.", "Mw.", "Dhr.",
      "De heer", "Mej.", "Mr.", "Mrs.") when written as a capitalised name. A label word
      in running prose ("de patiënt is gezien") is no label: it lacks the separator.
    * **Birth dates** after "Geboortedatum", "Geb.", "Geb. datum", "Geboren (op)", "Date
      of birth", "DOB", "Born", and a date right after a found name ("Mevr. A.B.
      Jansen-de Boer (12-03-1975)", "Naam: Jan de Vries 12-03-1975"); every format
      :func:`matchers.dates.parse_date` reads. Other dates (of a test, of a letter) are
      not birth dates and are ignored.
    * **Tables**: a line made of two or more labels only ("Naam<TAB>Geboortedatum<TAB>BSN",
      as DOCX and HTML tables, TSV and fixed-width reports give) is a header; the lines
      after it are rows, cut on tabs or runs of spaces. Where a row does not split into
      the header's cells (PDF text joins cells with one space), a header of only name,
      birth date and BSN is still read: the date and the BSN are found in the row and the
      name is the text around them in the header's order.

Grouping
    Fields are taken in text order into a record until a kind repeats (the next person),
    more than ``MAX_GAP_LINES`` lines or a table lie between two of them; a table row is
    one record, and so is every unlabelled BSN (the engine takes a valid BSN as the
    person's identity and then ignores the name: a stray number passing the 11-proof
    must not hide a name and birth date standing beside it). A record is handed out when
    it has a BSN, or a name and a birth date — what the matcher can use; others are
    counted in ``stats`` as ``'name without birth date'`` and the like.

What is missed
    BSNs glued to text ("NL123456782B01"), split over lines, or in other groupings;
    names not behind a label or title; birth dates without a label next to no name;
    records split between two text parts (parts are cut at blank lines to make that
    rare) or PDF pages; tables whose header has words other than labels and whose rows
    do not split on tabs or double spaces; scanned images (no text).

Speed: two regular-expression passes over the text (labels on a lowercased copy, BSN
shapes), Python work only per match, and the 11-proof vectorised per part; see
``bench/documents_speed.py``. Privacy: values live in the returned records only; the
``repr`` of a record shows no value.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from matchers.bsn import checksum_ok
from matchers.dates import parse_date
from matchers.documents.base import Location, TextPart, part_location
from matchers.names import normalise_name
from matchers.readers.base import ReadStats

__all__ = [
    "FIELDS",
    "MAX_GAP_LINES",
    "Record",
    "find_records",
    "records_in_text",
    "records_to_batch",
]

FIELDS = ("bsn", "naam", "geboortedatum")
MAX_GAP_LINES = 4

# --------------------------------------------------------------------------- patterns

_E = "[eë]\u0308?"  # ë, or e + combining diaeresis as some PDFs write it
# (kind, pattern) in the order tried; every pattern starts with a literal lowercase letter.
_LABEL_LIST = (
    ("naam", rf"naam\s+pati{_E}nte?"), ("naam", rf"naam\s+cli{_E}nte?"), ("naam", "naam"),
    ("naam", rf"pati{_E}nte?\s*naam"), ("naam", rf"pati{_E}nte?"), ("naam", r"patient\s+name"),
    ("naam", rf"cli{_E}nte?\s*naam"), ("naam", rf"cli{_E}nte?"), ("naam", r"volledige\s+naam"),
    ("naam", r"full\s+name"), ("naam", "name"),
    ("given", r"voorna(?:am|men)"), ("given", "roepnaam"), ("given", r"first\s+names?"),
    ("given", r"given\s+names?"), ("given", r"forenames?"),
    ("initials", r"voorletters?"), ("initials", "initials"),
    ("prefix", r"tussenvoegsels?"), ("prefix", r"voorvoegsels?"),
    ("surname", "achternaam"), ("surname", "geslachtsnaam"), ("surname", "familienaam"),
    ("surname", r"last\s+name"), ("surname", "surname"), ("surname", r"family\s+name"),
    ("geboortedatum", r"geboorte\s*datum"), ("geboortedatum", r"geb\s*\.?\s*datum"),
    ("geboortedatum", r"gebdat(?:um)?"), ("geboortedatum", r"geboren(?:\s+op)?"),
    ("geboortedatum", r"geb\.?"), ("geboortedatum", r"date\s+of\s+birth"),
    ("geboortedatum", r"birth\s*date"), ("geboortedatum", r"born(?:\s+on)?"),
    ("geboortedatum", r"d\.o\.b\.?"), ("geboortedatum", "dob"),
    ("bsn", r"burger\s*service\s*nummer"), ("bsn", "bsn"), ("bsn", r"sofi\s*-?\s*nummer"),
    ("bsn", "sofinr"), ("bsn", r"citizen\s+service\s+number"),
    ("title", "mevrouw"), ("title", "mevr"), ("title", "mejuffrouw"), ("title", "mej"),
    ("title", "mw"), ("title", r"de\s+heer"), ("title", "dhr"), ("title", "mrs"),
    ("title", "mr"), ("title", "ms"),
)  # fmt: skip


def _label_pattern() -> tuple[str, dict[str, str]]:
    r"""One regex for all labels, shaped for speed: alternatives grouped under their first
    letter, each group starting with that literal letter, lets the regex engine skip in C
    to positions holding one of those letters (about four times faster than a flat
    alternation of named groups). ``(?<!\w.)`` after the first letter keeps a label at
    a word start ("gebruikersnaam" holds no label). Returns the pattern and the kind of
    each named group ``g<N>``."""
    by_letter: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for number, (kind, pattern) in enumerate(_LABEL_LIST):
        kinds[f"g{number}"] = kind
        by_letter.setdefault(pattern[0], []).append(f"(?P<g{number}>{pattern[1:]})")
    body = "|".join(f"{c}(?<!\\w.)(?:{'|'.join(alts)})" for c, alts in by_letter.items())
    return f"(?:{body})(?!\\w)", kinds


_LABEL_RE, _GROUP_KIND = _label_pattern()
_LABELS = re.compile(_LABEL_RE)
_LABELS_I = re.compile(_LABEL_RE, re.IGNORECASE)
_PART_KINDS = frozenset(("given", "initials", "prefix", "surname"))

_MONTH = (
    r"(?:januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
    r"december|january|february|march|may|june|july|august|october|sept|febr|jan|feb|mrt|"
    r"maa|mar|apr|jun|jul|aug|sep|okt|oct|nov|dec)(?![^\W\d_])"
)
_SP = r"[^\S\n]*"
_DATE = (
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"
    rf"|\d{{1,2}}{_SP}(?P<ds>[-/.]){_SP}\d{{1,2}}{_SP}(?P=ds){_SP}(?:\d{{4}}|\d{{2}})(?!\d)"
    rf"|\d{{1,2}}(?:e|st|nd|rd|th)?{_SP}[.\-/]?{_SP}{_MONTH}\.?{_SP}[.\-/,]?{_SP}"
    r"(?:\d{4}|\d{2})(?!\d)"
    rf"|{_MONTH}\.?{_SP}\d{{1,2}}(?:st|nd|rd|th)?,?{_SP}\d{{4}}(?!\d)"
    r"|\d{8}(?!\d))"
)
_SEP = rf"[\"']?{_SP}(?:[:=>#]|-(?!\d)|\t)?{_SP}[\"']?"
_NEXT_LINE = rf"(?:\n{_SP})?"
_BSN_AFTER = re.compile(
    rf"{_SP}(?:-?{_SP}(?:nummer|nr|no|number)\.?)?{_SEP}{_NEXT_LINE}"
    r"(\d(?:[ .\-]?\d){7,8})(?!\d)(?![.\-/]\d)",
    re.IGNORECASE,
)
_DOB_AFTER = re.compile(rf"{_SEP}(?:op{_SP})?{_NEXT_LINE}(?<![\w])({_DATE})", re.IGNORECASE)
_ADJ_DATE = re.compile(rf"{_SP}[,(]?{_SP}({_DATE})", re.IGNORECASE)
_DATE_SEARCH = re.compile(rf"(?<![\w]){_DATE}", re.IGNORECASE)
_NAME_SEP = re.compile(rf"[\"']?(?:{_SP}[:=>]|{_SP}\t|[^\S\n]{{2,}}|{_SP}(?=\n|$)){_SP}[\"']?")
_NAME_CUT = re.compile(r"\t|[^\S\n]{2,}|[(;|<\[\\\"\d]|[^\S\n][-–][^\S\n]")

_UP = "[A-ZÀ-ÖØ-Þ]"
_LET = r"[^\W\d_]"
_PARTICLE = r"(?i:van|von|de|der|den|het|'t|te|ten|ter|in|op|la|le|du|vd|v\.d\.|d')"
_WORD = rf"{_UP}{_LET}*(?:['’]{_LET}+)?"
_TITLE_NAME = re.compile(
    rf"\.?[^\S\n]+((?:{_UP}{_LET}?\.[^\S\n]?)*[^\S\n]*"
    rf"(?:(?:{_PARTICLE}|{_WORD})[^\S\n]+){{0,5}}"
    rf"{_WORD}(?:-(?:{_PARTICLE}[^\S\n]+)*{_WORD})*)"
)

_LOW = "[a-zß-öø-ÿ]"
_PARTICLES = r"(?:(?:van|von|de|der|den|het|'t|te|ten|ter|op|in|la|le|du) )*"
_CAP = rf"{_UP}{_LOW}+"
_SURNAME = rf"{_PARTICLES}{_CAP}(?:-{_PARTICLES}{_CAP})?"
# The common shapes of a full name, accepted without the full parser (which they would
# pass): voorletters or capitalised given names, then a surname.
_SIMPLE_NAME = re.compile(rf"(?:(?:{_UP}\.){{1,5}}|{_CAP}(?: {_CAP}){{0,3}}) {_SURNAME}")
_NOT_NAMES = frozenset((
    "onbekend", "unknown", "nvt", "n.v.t", "geen", "none", "n/a", "na", "zie boven", "idem",
    "anoniem", "anonymous", "test", "x", "xx", "xxx",
))  # fmt: skip
_HEADER_FILLER = re.compile(r"(?:[\s:;|/,.#\"'<>=()*\-–]|nummer|nr|number|no)*")
_CELL_SPLIT = re.compile(r"[^\S\n]{2,}")
_BSN_ANY = re.compile(r"(?<![\w.,])\d(?:[ .\-]?\d){7,8}(?![\w])(?![.,]\d)")
_BSN_SEPS = str.maketrans("", "", " .-")
_NEWLINE = re.compile("\n")
_NONSPACE = re.compile(r"\S")
_VALUE_SPAN = 200  # how far after a label its value is looked for
# A form dump has a label every 30 or more characters; "naam: bsn geb. " over and over
# is an attack on our time (seconds per megabyte), not a document: its labels are ignored.
_MIN_CHARS_PER_LABEL = 12


def _bsn_free() -> re.Pattern[str]:
    """BSN shapes standing alone: 9 digits, or 3-3-3, 4-2-3, 2-2-2-3 groups with one
    separator (space, dot or dash). A group of the same separator and a short number on
    either side ("12 345 678 901", "1.234.567.890") makes a longer number, not a BSN.

    The pattern starts by taking one digit (the look-behinds then look one further back),
    so the regex engine can skip to digits in C: twice as fast as a leading look-behind.
    """
    alts = [r"(?<!\d[.,/\-]\d)\d{8}(?![.,/\-]\d)"]
    for sep in " .-":
        e = re.escape(sep)
        body = "|".join(
            g.replace("S", e)
            for g in (r"\d{2}S\d{3}S\d{3}", r"\d{3}S\d{2}S\d{3}", r"\dS\d{2}S\d{2}S\d{3}")
        )
        before = r"(?<!\d[.,/\-]\d)"
        after = r"(?![.,/\-]\d)"
        if sep == " ":
            before += r"(?<!\b\d \d)(?<!\b\d\d \d)(?<!\b\d\d\d \d)"
            after += r"(?! \d{1,3}(?![\w.,/\-]))"
        alts.append(f"{before}(?:{body}){after}")
    return re.compile(rf"\d(?<!\w\d)(?:{'|'.join(alts)})(?!\w)")


_BSN_FREE = _bsn_free()


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True, eq=False)
class Record:
    """One person found in a document: raw values under :data:`FIELDS` keys.

    ``number`` counts records handed out for one document, from 1 (the caller's record
    number). ``location`` is where the record's first value stands. ``values`` is never
    shown by ``repr`` (values must not reach logs or test output by accident).
    """

    number: int
    location: Location
    values: dict[str, str] = field(repr=False)


class _Table(NamedTuple):
    """A table header: the kind of each column, and how rows split (``tab``, ``spaces``
    for runs of two or more, or '' when cells are joined by single spaces)."""

    kinds: list[str]
    mode: str


class _Field(NamedTuple):
    """A value found, where its label (or the value) starts. A tuple, not a dataclass:
    tuples of strings drop out of the garbage collector's view, and a part holds many."""

    pos: int
    kind: str
    value: str


def _plausible(kind: str, value: str) -> bool:
    """Whether a labelled value can be that part of a person's name: not a label, not a
    placeholder, and a name that :func:`normalise_name` can use (a surname plus a given
    name or initials, for a full name)."""
    if not 1 <= len(value) <= 80 or value.count(" ") > 8 or not any(c.isalpha() for c in value):
        return False
    low = value.lower().strip(". ")
    if low in _NOT_NAMES or _LABELS.fullmatch(low):
        return False
    if kind == "naam":
        if _SIMPLE_NAME.fullmatch(value):
            return True  # "J.M. de Vries", "Jan Pieter van den Berg": given + surname
        name = normalise_name(full=value)
        return name is not None and bool(name.given or name.initials)
    if kind == "surname":
        return len(low) >= 2 and normalise_name(surname=value) is not None
    if kind == "initials":
        return re.fullmatch(r"(?:[^\W\d_]{1,3}\.?[^\S\n]*){1,6}", value) is not None
    if kind == "given":
        return len(low) >= 2 and value.count(" ") <= 4
    return len(value) <= 20  # prefix


def _trim_name(raw: str) -> str:
    """A name value without the punctuation around it; a final dot stays only on an
    initial ("Jansen, J.P."), since "Boer." would read as an initial itself."""
    value = raw.strip().rstrip(" ,:;-–/")
    if value.endswith("."):
        last = value.rsplit(" ", 1)[-1]
        if last.count(".") == 1 and len(last) > 3:
            value = value[:-1]
    return value


def _bsn_digits(value: str) -> str | None:
    """Nine digits (eight: a lost leading zero) of a labelled BSN value, else None."""
    digits = value.translate(_BSN_SEPS)
    if digits.isascii() and digits.isdigit() and len(digits) in (8, 9) and int(digits):
        return digits
    return None


def _compose(values: dict[str, str]) -> dict[str, str]:
    """Record values under :data:`FIELDS`: name parts (voornaam, voorletters,
    tussenvoegsel, achternaam) joined into one ``naam`` the way a Dutch name is written."""
    out = {k: values[k] for k in FIELDS if k in values}
    if "naam" not in out and "surname" in values:
        given = values.get("given") or values.get("initials") or ""
        out["naam"] = " ".join(v for v in (given, values.get("prefix", ""), values["surname"]) if v)
    return out


class _Scanner:
    """Finds fields in one text; ``src`` is the text the label regex runs on (lowercased
    when that keeps offsets, else the text itself with a case-insensitive regex)."""

    def __init__(self, text: str) -> None:
        self.text = text
        low = text.lower()
        if len(low) == len(text):
            self.src, self.labels_re = low, _LABELS
        else:
            self.src, self.labels_re = text, _LABELS_I
        kind = _GROUP_KIND.__getitem__
        self.labels = [
            (m.start(), m.end(), kind(m.lastgroup or "")) for m in self.labels_re.finditer(self.src)
        ]
        self.fields: list[_Field] = []
        self.rows: list[tuple[int, dict[str, str]]] = []
        self.consumed: list[tuple[int, int]] = []  # table spans, in order
        self.bsn_starts: set[int] = set()
        self._newlines: list[int] | None = None
        self.open_table: _Table | None = None

    # ---------------------------------------------------------------- helpers

    def _line_bounds(self, pos: int) -> tuple[int, int]:
        """Start and end of the line holding ``pos``, by bisection (a one-line part of
        megabytes must not cost a scan per label)."""
        if self._newlines is None:
            self._newlines = [m.start() for m in _NEWLINE.finditer(self.text)]
        nl = self._newlines
        i = bisect.bisect_left(nl, pos)
        start = nl[i - 1] + 1 if i else 0
        return start, nl[i] if i < len(nl) else len(self.text)

    def _in_consumed(self, pos: int) -> bool:
        i = bisect.bisect_right(self.consumed, (pos, float("inf"))) - 1
        return i >= 0 and self.consumed[i][0] <= pos < self.consumed[i][1]

    def _label_at(self, pos: int) -> str | None:
        m = self.labels_re.match(self.src, pos)
        return _GROUP_KIND[m.lastgroup or ""] if m else None

    # ---------------------------------------------------------------- tables

    def tables(self, inherited: _Table | None = None) -> None:
        """Find header lines (labels only) and read the rows under each. ``inherited`` is
        a table that ran to the end of the previous part (a PDF table whose header is
        only on its first page): its rows go on at the start of this text."""
        labels, text = self.labels, self.text
        i = 0
        if inherited is not None:
            end = self._rows(inherited, -1)
            if end >= 0:
                self.consumed.append((0, end))
                self._note_open(inherited, end)
                while i < len(labels) and labels[i][0] < end:
                    i += 1
        while i < len(labels):
            start, end, _ = labels[i]
            if i + 1 == len(labels) or text.find("\n", end, labels[i + 1][0]) >= 0:
                i += 1  # alone on its line (the common case): no header
                continue
            ls, le = self._line_bounds(start)
            j = i
            while j < len(labels) and labels[j][0] < le:
                j += 1
            group = labels[i:j]
            i = j
            kinds = [kind for _, _, kind in group]
            if len(set(kinds)) < 2 or "title" in kinds or len(set(kinds)) != len(kinds):
                continue
            rest, pos = [], ls
            for s, e, _ in group:
                rest.append(self.text[pos:s])
                pos = e
            rest.append(self.text[pos:le])
            if not _HEADER_FILLER.fullmatch("".join(rest)):
                continue
            header = text[ls:le].strip()
            mode = "tab" if "\t" in header else "spaces" if _CELL_SPLIT.search(header) else ""
            table = _Table(kinds, mode)
            end = max(le, self._rows(table, le))
            self.consumed.append((ls, end))
            self._note_open(table, end)
            while i < len(labels) and labels[i][0] < end:
                i += 1

    def _note_open(self, table: _Table, end: int) -> None:
        """Remember a table that runs to the end of the text (it may go on in the next)."""
        self.open_table = table if _NONSPACE.search(self.text, max(end, 0)) is None else None

    def _rows(self, table: _Table, pos: int) -> int:
        """Read rows after a header line ending at ``pos`` (-1: from the start of the
        text); returns where the last row ends (``pos`` when there was none)."""
        text = self.text
        kinds, mode = table
        anchored = set(kinds) <= {"naam", "geboortedatum", "bsn"}
        end = pos
        while pos < len(text):
            ls = pos + 1
            le = text.find("\n", ls)
            le = len(text) if le < 0 else le
            line = text[ls:le]
            pos = le
            if not line.strip():
                continue
            if self._label_at(ls + len(line) - len(line.lstrip())) not in (None, "title"):
                break  # the next header or form
            values = self._row(line, kinds, mode, anchored)
            if not values:
                break
            self.rows.append((ls, values))
            end = le
        return end

    def _row(self, line: str, kinds: list[str], mode: str, anchored: bool) -> dict[str, str]:
        if mode == "tab":
            cells = line.strip("\n").split("\t")
        elif mode == "spaces":
            cells = _CELL_SPLIT.split(line.strip())
        else:
            cells = []
        values: dict[str, str] = {}
        if len(cells) == len(kinds):
            for kind, cell in zip(kinds, cells, strict=True):
                cell = cell.strip()
                if not cell:
                    continue
                if kind == "bsn":
                    if _bsn_digits(cell):
                        values["bsn"] = cell
                elif kind == "geboortedatum":
                    if parse_date(cell):
                        values[kind] = cell
                elif _plausible(kind, cell):
                    values[kind] = cell
            return values
        if anchored and not mode:
            return self._anchored_row(line, kinds)
        return values

    @staticmethod
    def _anchored_row(line: str, kinds: list[str]) -> dict[str, str]:
        """A row that does not split into the header's cells: find its date and BSN, and
        take the name from the text between them in the header's order."""
        values: dict[str, str] = {}
        spans: list[tuple[int, int, str]] = []
        if "geboortedatum" in kinds:
            for m in _DATE_SEARCH.finditer(line):
                if parse_date(m.group()):
                    spans.append((m.start(), m.end(), "geboortedatum"))
                    values["geboortedatum"] = m.group()
                    break
        if "bsn" in kinds:
            for m in _BSN_ANY.finditer(line):
                if any(s < m.end() and m.start() < e for s, e, _ in spans):
                    continue
                if _bsn_digits(m.group()):
                    spans.append((m.start(), m.end(), "bsn"))
                    values["bsn"] = m.group()
                    break
        if "naam" in kinds:
            spans.sort()
            found = {kind for _, _, kind in spans}
            before = [k for k in kinds[: kinds.index("naam")] if k in found]
            segments, pos = [], 0
            for s, e, _ in spans:
                segments.append(line[pos:s])
                pos = e
            segments.append(line[pos:])
            name = _trim_name(segments[len(before)])
            if not _plausible("naam", name):
                return {}  # a line of prose under the table, not a row
            values["naam"] = name
        return values if len(values) >= 2 else {}

    # ---------------------------------------------------------------- labelled values

    def labelled(self) -> None:
        """Values after labels and titles, outside tables."""
        text = self.text
        labels = [lab for lab in self.labels if not self._in_consumed(lab[0])]
        limits = [len(text)] * len(labels)  # where the next label (not a title) starts
        nxt = len(text)
        for index in range(len(labels) - 1, -1, -1):
            limits[index] = nxt
            if labels[index][2] != "title":
                nxt = labels[index][0]
        covered = 0  # a title inside a labelled name ("Patiënt: Mevr. A. Jansen")
        for (start, end, kind), limit in zip(labels, limits, strict=True):
            if kind == "bsn":
                m = _BSN_AFTER.match(text, end, end + _VALUE_SPAN)
                if m and _bsn_digits(m.group(1)):
                    self.fields.append(_Field(start, "bsn", m.group(1)))
                    self.bsn_starts.add(m.start(1))
            elif kind == "geboortedatum":
                m = _DOB_AFTER.match(text, end, end + _VALUE_SPAN)
                if m and parse_date(m.group(1)):
                    self.fields.append(_Field(start, kind, m.group(1)))
            elif start >= covered:
                limit = min(limit, end + _VALUE_SPAN)
                found = self._title(end, limit) if kind == "title" else self._name(kind, end, limit)
                if found:
                    value, value_end = found
                    self.fields.append(_Field(start, "naam" if kind == "title" else kind, value))
                    covered = value_end
                    m = _ADJ_DATE.match(text, value_end, value_end + _VALUE_SPAN)
                    if m and parse_date(m.group(1)):
                        self.fields.append(_Field(value_end, "geboortedatum", m.group(1)))

    def _name(self, kind: str, pos: int, limit: int) -> tuple[str, int] | None:
        """The value after a name label: the rest of its line up to the next label or a
        cut (tab, double space, bracket, digit, ...), or the next line when the label
        stands alone; None when that is no plausible name."""
        text = self.text
        sep = _NAME_SEP.match(text, pos, limit)
        if sep is None:
            return None
        p = sep.end()
        _, line_end = self._line_bounds(p)
        if not text[p : min(line_end, limit)].strip():
            if line_end >= len(text) or limit <= line_end:
                return None
            p = line_end + 1  # the value is on the next line
            _, line_end = self._line_bounds(p)
            line = text[p : min(line_end, p + _VALUE_SPAN)]
            if self._label_at(p + len(line) - len(line.lstrip())) is not None:
                return None
            limit = p + _VALUE_SPAN
        raw = text[p : min(line_end, limit)]
        cut = _NAME_CUT.search(raw)
        stop = cut.start() if cut else len(raw)
        value = _trim_name(raw[:stop])
        if not _plausible(kind, value):
            return None
        return value, p + stop

    def _title(self, pos: int, limit: int) -> tuple[str, int] | None:
        m = _TITLE_NAME.match(self.text, pos, min(limit, pos + _VALUE_SPAN))
        if m is None:
            return None
        value = m.group(1).strip()
        if not _plausible("naam", value):
            return None
        return value, m.end(1)

    # ---------------------------------------------------------------- free BSNs

    def free_bsns(self) -> None:
        """Unlabelled BSN shapes that pass the 11-proof (checked for all at once), each a
        record of its own: the engine takes a valid BSN as authoritative and does not
        match that row on names, so a stray number that happens to pass the 11-proof
        must not hide the name and birth date of the person beside it."""
        found: list[tuple[int, str]] = []
        for m in _BSN_FREE.finditer(self.text):
            start = m.start()
            if start in self.bsn_starts or (self.consumed and self._in_consumed(start)):
                continue
            found.append((start, m.group()))
        if not found:
            return
        values = np.fromiter(
            (int(v.translate(_BSN_SEPS)) for _, v in found), dtype=np.int64, count=len(found)
        )
        for (start, value), ok in zip(found, checksum_ok(values), strict=True):
            if ok:
                self.rows.append((start, {"bsn": value}))


def _conflicts(kind: str, record: dict[str, str]) -> bool:
    if kind in record:
        return True
    return kind == "naam" and any(k in record for k in _PART_KINDS)


@dataclass(slots=True)
class _Group:
    """Values that belong together, before the usability check: ``pos`` is the offset of
    the first field, ``last_line`` the line (0-based in the part) of the last one;
    ``alone`` for table rows and unlabelled BSNs, which never take in other fields."""

    pos: int
    values: dict[str, str]
    last_line: int = -1
    alone: bool = False


def _group(
    text: str,
    fields: list[_Field],
    rows: list[tuple[int, dict[str, str]]],
    tables: list[tuple[int, int]],
) -> list[_Group]:
    """Fields in text order into groups (see the module docstring for the rule), a line at
    a time: the fields on one line belong together first, so in "Geboortedatum: X" then
    "Patiënt: Y, geb. Z" the name Y goes with Z, not with the X before it. A table between
    two fields also parts them. Table rows and unlabelled BSNs are groups as they are."""
    fields.sort(key=lambda f: f.pos)
    out = [_Group(pos, values, alone=True) for pos, values in rows]
    starts = [start for start, _ in tables]
    record: dict[str, str] = {}
    first = last_pos = last_line = 0
    line, pos = 0, 0
    lines: list[tuple[int, list[_Field]]] = []
    for f in fields:
        line += text.count("\n", pos, f.pos)
        pos = f.pos
        if lines and lines[-1][0] == line:
            lines[-1][1].append(f)
        else:
            lines.append((line, [f]))
    for line, on_line in lines:
        if record and (
            any(_conflicts(f.kind, record) for f in on_line)
            or line - last_line > MAX_GAP_LINES
            or bisect.bisect_left(starts, on_line[0].pos) > bisect.bisect_right(starts, last_pos)
        ):
            out.append(_Group(first, record, last_line))
            record = {}
        for f in on_line:
            if f.kind in _PART_KINDS and "naam" in record:
                continue  # "Naam: ..." then "Voorletters: ...": the full name says it all
            if record and _conflicts(f.kind, record):  # two people on one line
                out.append(_Group(first, record, last_line))
                record = {}
            if not record:
                first = f.pos
            record[f.kind] = f.value
            last_pos, last_line = f.pos, line
    if record:
        out.append(_Group(first, record, last_line))
    out.sort(key=lambda g: g.pos)
    return out


def _groups_in(
    text: str, stats: ReadStats, inherited: _Table | None
) -> tuple[list[_Group], _Table | None]:
    """The groups of values in one text, in text order, and the table still open at its
    end (see :meth:`_Scanner.tables`)."""
    scanner = _Scanner(text)
    if len(scanner.labels) > len(text) // _MIN_CHARS_PER_LABEL + 100:
        stats.skip("text part too dense with labels to be a document")
    elif scanner.labels or inherited is not None:
        scanner.tables(inherited)
        scanner.labelled()
    scanner.free_bsns()
    groups = _group(text, scanner.fields, scanner.rows, scanner.consumed)
    return groups, scanner.open_table


def _usable(values: dict[str, str], stats: ReadStats) -> dict[str, str] | None:
    """The record's values under :data:`FIELDS` when the matcher can use them, else None
    (counted in ``stats``)."""
    values = _compose(values)
    if "bsn" in values or ("naam" in values and "geboortedatum" in values):
        return values
    if "naam" in values:
        stats.skip("name without birth date")
    elif "geboortedatum" in values:
        stats.skip("birth date without name")
    return None


@dataclass(slots=True)
class _Pending:
    """An unusable group at the very end of a part (a name at the foot of a page whose
    birth date heads the next), waiting for the next part's first group."""

    location: Location
    values: dict[str, str]
    lines_after: int  # lines between its last field and the end of its part


def find_records(parts: Iterable[TextPart], stats: ReadStats | None = None) -> Iterator[Record]:
    """Every record in a document's text parts, numbered from 1 in document order.

    A record cut by the end of a part (a PDF page, a slice of a long text) is joined up
    again when its two halves lie within ``MAX_GAP_LINES`` lines of the cut and do not
    conflict; a table running to the end of a part goes on at the start of the next with
    the same header (a long PDF table shows its header on the first page only).
    ``stats.records`` counts the records; ``stats.skip_reasons`` the fields that made no
    usable record (fixed phrases only).
    """
    stats = stats if stats is not None else ReadStats()
    number = 0
    pending: _Pending | None = None
    table: _Table | None = None
    unit = None
    for part in parts:
        text = part.text
        if part.location.unit != unit:
            table, unit = None, part.location.unit  # e-mail parts, DOCX headers: no carry
        groups, table = _groups_in(text, stats, table)
        part_lines = text.count("\n", 0, len(text) - 1)  # the 0-based index of its last line
        line, pos = 0, 0
        for index, group in enumerate(groups):
            line += text.count("\n", pos, group.pos)
            pos = group.pos
            location, values = part_location(part, line), group.values
            if pending is not None:
                if (
                    index == 0
                    and not group.alone
                    and pending.lines_after + line < MAX_GAP_LINES
                    and not any(_conflicts(kind, pending.values) for kind in values)
                ):
                    location, values = pending.location, {**pending.values, **values}
                else:
                    _usable(pending.values, stats)  # count it as given up
                pending = None
            if (
                index == len(groups) - 1
                and not group.alone
                and part_lines - group.last_line <= MAX_GAP_LINES
                and _usable(values, ReadStats()) is None
            ):
                pending = _Pending(location, values, part_lines - group.last_line)
                continue
            usable = _usable(values, stats)
            if usable is not None:
                number += 1
                stats.records += 1
                yield Record(number, location, usable)
        if pending is not None and not groups:
            pending.lines_after += part_lines + 1
            if pending.lines_after > MAX_GAP_LINES:
                _usable(pending.values, stats)
                pending = None
    if pending is not None:
        _usable(pending.values, stats)


def records_in_text(text: str) -> list[Record]:
    """The records of one text, located by line (for tests and small inputs)."""
    return list(find_records([TextPart(Location("line", 1), text)]))


def records_to_batch(records: Iterable[Record]) -> pa.RecordBatch:
    """Records as a batch with string columns ``bsn``, ``naam``, ``geboortedatum`` (null
    where a record lacks one): the shape the table matcher reads, so documents go through
    the same column detection and matching as a CSV file."""
    rows = [r.values for r in records]
    arrays = [pa.array([row.get(name) for row in rows], type=pa.string()) for name in FIELDS]
    return pa.RecordBatch.from_arrays(arrays, names=list(FIELDS))
