"""Synthetic Dutch people and the ways a leak garbles them — for the demo, tests and bench/.

Everything here is invented: names come from Faker's nl_NL lists, BSNs are random numbers
made to pass the 11-proof, and no real person is ever involved. Faker is slow per call, so
its name lists are read once into pools and people are drawn from them with numpy; a
million people take a few seconds, which is what the throughput benchmark needs.

The leak-variant helpers (:func:`reformat_bsn`, :func:`typo_bsn`, :func:`typo_text`,
:func:`drop_diacritics`, :func:`format_date`, :func:`display_name`) take a
``random.Random`` so a benchmark can replay exactly the same leak from a seed.
"""

from __future__ import annotations

import csv
import datetime
import functools
import gc
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DATE_FORMATS",
    "PEOPLE_COLUMNS",
    "Person",
    "display_name",
    "drop_diacritics",
    "format_date",
    "make_bsns",
    "make_people",
    "reformat_bsn",
    "typo_bsn",
    "typo_text",
    "write_people_csv",
]

# Ages are fixed against a reference date, not today, so a seed gives the same cohort
# whenever the benchmark is run.
REFERENCE_DATE = datetime.date(2025, 7, 1)
_MIN_AGE, _MAX_AGE = 30, 65

_WEIGHTS = np.array([9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_POW8 = 10 ** np.arange(7, -1, -1, dtype=np.int64)

# Tussenvoegsels with rough Dutch frequencies (about a third of surnames carry one).
_PREFIXES: tuple[tuple[str, float], ...] = (
    ("", 0.66),
    ("de", 0.10),
    ("van", 0.07),
    ("van der", 0.04),
    ("van den", 0.03),
    ("van de", 0.03),
    ("van 't", 0.01),
    ("ter", 0.01),
    ("ten", 0.01),
    ("den", 0.01),
    ("op de", 0.01),
    ("in 't", 0.01),
    ("te", 0.01),
)
_KNOWN_PREFIXES = sorted(
    {p for p, _ in _PREFIXES if p} | {"van 't", "'t", "le", "la", "d'"}, key=len, reverse=True
)

# Faker's nl_NL lists have few accented names; these make diacritics common enough that
# folding them is exercised by every benchmark.
_EXTRA_FEMALE = (
    "Zoë",
    "Chloé",
    "Inès",
    "Anaïs",
    "Léa",
    "Mariëlle",
    "Daniëlle",
    "Noëlle",
    "Renée",
    "Hélène",
    "Mélanie",
    "Joëlle",
    "Désirée",
    "Iñes",
)
_EXTRA_MALE = ("André", "René", "Noël", "Daniël", "Gaël", "Raphaël", "Jérôme", "Michaël")
_EXTRA_SURNAMES = (
    "Köster",
    "Höning",
    "Brüning",
    "Müller",
    "Gürbüz",
    "Çelik",
    "Doğan",
    "Öztürk",
    "Bökenkamp",
    "Rütte",
    "Hendriçks",
)

_MONTHS_NL = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)

DATE_FORMATS = ("iso", "dmy_dash", "dmy_slash", "dmy_dot", "ymd_compact", "dmy_short", "text_nl")

PEOPLE_COLUMNS = (
    "ref",
    "bsn",
    "voornamen",
    "voorletters",
    "tussenvoegsel",
    "achternaam",
    "geboortedatum",
    "postcode",
)


@dataclass(frozen=True, slots=True)
class Person:
    """One synthetic cohort member or bystander."""

    ref: str
    bsn: str
    given_names: str
    prefix: str
    surname: str
    dob: datetime.date
    postcode: str

    @property
    def initials(self) -> str:
        """Dutch initials: 'Johanna Maria' → 'J.M.', 'Anne-Marie' → 'A.M.'."""
        parts = self.given_names.replace("-", " ").split()
        return "".join(p[0] + "." for p in parts)

    @property
    def first_name(self) -> str:
        """The first given name, the one a person is usually called by in a dump."""
        return self.given_names.split(" ", 1)[0]


# --------------------------------------------------------------------------- pools


def _split_prefix(name: str) -> tuple[str, str] | None:
    """Faker's surname list mixes 'de Vries' with medieval names; keep clean ones only."""
    low = name.lower()
    prefix = ""
    for p in _KNOWN_PREFIXES:
        if low.startswith(p + " "):
            prefix, name = p, name[len(p) + 1 :]
            break
    if not name or not name.replace("-", "").isalpha() or not name[0].isupper():
        return None
    return prefix, name


@functools.cache
def _pools() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(female given names, male given names, surname cores), read from Faker once."""
    from faker.providers.person.nl_NL import Provider

    female = tuple(dict.fromkeys([*Provider.first_names_female, *_EXTRA_FEMALE]))
    male = tuple(dict.fromkeys([*Provider.first_names_male, *_EXTRA_MALE]))
    cores = []
    for name in Provider.last_names:
        split = _split_prefix(name)
        if split is not None:
            cores.append(split[1])
    surnames = tuple(dict.fromkeys([*cores, *_EXTRA_SURNAMES]))
    return female, male, surnames


# --------------------------------------------------------------------------- BSNs


def _as_generator(rng: np.random.Generator | random.Random | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, random.Random):
        return np.random.default_rng(rng.getrandbits(64))
    return np.random.default_rng(rng)


def make_bsns(
    n: int,
    rng: np.random.Generator | random.Random | int | None = None,
    exclude: set[str] | None = None,
) -> list[str]:
    """``n`` distinct 11-proof-valid BSNs, none in ``exclude``, in random order.

    Vectorised: draw eight leading digits (never starting '00', so an 8-digit rendering is
    only ever a dropped single zero), compute the check digit that satisfies the 11-proof,
    and redraw the ~1/11 where that digit would have to be 10.
    """
    gen = _as_generator(rng)
    excluded = (
        np.fromiter((int(b) for b in exclude), dtype=np.int64, count=len(exclude))
        if exclude
        else np.empty(0, dtype=np.int64)
    )
    chunks: list[np.ndarray] = []
    have = 0
    seen = np.empty(0, dtype=np.int64)
    while have < n:
        want = int((n - have) * 1.15) + 64
        lead = gen.integers(1_000_000, 100_000_000, size=want, dtype=np.int64)
        digits = (lead[:, None] // _POW8) % 10
        check = (digits @ _WEIGHTS) % 11
        ok = check < 10
        values = lead[ok] * 10 + check[ok]
        _, first = np.unique(values, return_index=True)
        values = values[np.sort(first)]
        drop = np.isin(values, seen)
        if excluded.size:
            drop |= np.isin(values, excluded)
        values = values[~drop][: n - have]
        chunks.append(values)
        seen = np.concatenate([seen, values])
        have += values.size
    out = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
    return [f"{v:09d}" for v in out.tolist()]


# --------------------------------------------------------------------------- people


def _postcodes(gen: np.random.Generator, n: int) -> list[str]:
    """Dutch postcodes: 1000-9999 plus two letters, without the letters PostNL never uses."""
    letters = np.array(list("ABCDEGHJKLMNPRSTVWXZ"))
    nums = gen.integers(1000, 10000, size=n)
    a = letters[gen.integers(0, letters.size, size=n)]
    b = letters[gen.integers(0, letters.size, size=n)]
    bad = (a == "S") & np.isin(b, ["A", "D", "S"])
    b[bad] = "B"
    return [f"{x} {y}{z}" for x, y, z in zip(nums.tolist(), a.tolist(), b.tolist(), strict=True)]


def _dobs(gen: np.random.Generator, n: int) -> list[datetime.date]:
    oldest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - _MAX_AGE) + datetime.timedelta(1)
    youngest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - _MIN_AGE)
    span = (youngest - oldest).days + 1
    base = oldest.toordinal()
    offsets = gen.integers(0, span, size=n)
    cache: dict[int, datetime.date] = {}
    out = []
    for off in offsets.tolist():
        d = cache.get(off)
        if d is None:
            d = cache[off] = datetime.date.fromordinal(base + off)
        out.append(d)
    return out


def _distinct_draw(gen: np.random.Generator, pool: Sequence[str], n: int, k: int) -> np.ndarray:
    """(n, k) object array of names from ``pool``, distinct within each row."""
    size = len(pool)
    first = gen.integers(0, size, size=n)
    cols = [first]
    for _ in range(1, k):
        # offset from the first pick by 1..size-1 and redraw collisions with earlier picks
        col = (first + gen.integers(1, size, size=n)) % size
        clash = np.zeros(n, dtype=bool)
        for prev in cols[1:]:
            clash |= col == prev
        while clash.any():
            col[clash] = (first[clash] + gen.integers(1, size, size=int(clash.sum()))) % size
            clash[:] = False
            for prev in cols[1:]:
                clash |= col == prev
        cols.append(col)
    return np.array(pool, dtype=object)[np.stack(cols, axis=1)]


def make_people(
    n: int,
    *,
    seed: int = 0,
    ref_prefix: str = "C",
    female_share: float = 0.85,
    exclude_bsns: set[str] | None = None,
) -> list[Person]:
    """``n`` synthetic people with unique valid BSNs, deterministic for a ``seed``.

    Mostly women by default, as in the cervical-screening cohort this tool was built for.
    ``exclude_bsns`` lets a benchmark make bystanders whose BSNs are certainly not members.
    """
    gen = np.random.default_rng(seed)
    female, male, cores = _pools()
    prefixes = np.array([p for p, _ in _PREFIXES], dtype=object)
    pweights = np.array([w for _, w in _PREFIXES])
    pweights /= pweights.sum()

    # Object arrays: '+' runs per element in C, about five times faster than a Python loop.
    is_female = gen.random(n) < female_share
    given = np.where(
        is_female[:, None], _distinct_draw(gen, female, n, 3), _distinct_draw(gen, male, n, 3)
    )
    n_given = gen.choice([1, 2, 3], size=n, p=[0.45, 0.40, 0.15])
    given_names = given[:, 0].copy()
    two = n_given >= 2
    given_names[two] = given_names[two] + " " + given[two, 1]
    three = n_given == 3
    given_names[three] = given_names[three] + " " + given[three, 2]

    core_pool = np.array(cores, dtype=object)
    surname = core_pool[gen.integers(0, len(cores), size=n)]
    double = gen.random(n) < 0.05
    k = int(double.sum())
    p2 = prefixes[gen.choice(len(prefixes), size=k, p=pweights)]
    second = core_pool[gen.integers(0, len(cores), size=k)]
    p2 = np.where(p2 == "", p2, p2 + " ")
    surname[double] = surname[double] + "-" + p2 + second
    prefix = prefixes[gen.choice(len(prefixes), size=n, p=pweights)]

    bsns = make_bsns(n, gen, exclude_bsns)
    dobs = _dobs(gen, n)
    postcodes = _postcodes(gen, n)
    width = max(7, len(str(n)))
    refs = [f"{ref_prefix}{i:0{width}d}" for i in range(n)]
    # A million new container objects trigger repeated full collections that find no
    # garbage; pausing the collector halves the run time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return list(
            map(
                Person,
                refs,
                bsns,
                given_names.tolist(),
                prefix.tolist(),
                surname.tolist(),
                dobs,
                postcodes,
            )
        )
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- CSV


def _field_getters(date_format: str) -> dict[str, object]:
    date_cache: dict[datetime.date, str] = {}

    def fmt_date(p: Person) -> str:
        s = date_cache.get(p.dob)
        if s is None:
            s = date_cache[p.dob] = p.dob.strftime(date_format)
        return s

    return {
        "ref": lambda p: p.ref,
        "bsn": lambda p: p.bsn,
        "voornamen": lambda p: p.given_names,
        "voornaam": lambda p: p.first_name,
        "voorletters": lambda p: p.initials,
        "tussenvoegsel": lambda p: p.prefix,
        "achternaam": lambda p: p.surname,
        "naam": lambda p: display_name(p),
        "geboortedatum": fmt_date,
        "postcode": lambda p: p.postcode,
    }


def write_people_csv(
    path: str | Path,
    people: Iterable[Person],
    *,
    delimiter: str = ";",
    columns: Sequence[str] = PEOPLE_COLUMNS,
    date_format: str = "%d-%m-%Y",
    encoding: str = "utf-8",
) -> None:
    """Write people as a CSV with a header row, the way a screening registry exports them.

    ``columns`` are field names from :data:`PEOPLE_COLUMNS` plus ``voornaam`` (first given
    name) and ``naam`` (full display name); they double as the header.

    :raises ValueError: for an unknown column name.
    """
    getters = _field_getters(date_format)
    unknown = [c for c in columns if c not in getters]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; known: {sorted(getters)}")
    funcs = [getters[c] for c in columns]
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([f(p) for f in funcs] for p in people)  # type: ignore[operator]


# --------------------------------------------------------------------------- leak variants


def reformat_bsn(bsn: str, rng: random.Random, style: str | None = None) -> str:
    """The BSN written the way people write it: spaced, dotted, dashed or zero-dropped.

    ``style`` is one of 'space' ('123 456 782'), 'dots' ('1234.56.782'), 'dashes'
    ('12-34-56-782') or 'eight' (the leading zero lost, as a spreadsheet does); drawn at
    random when None, 'eight' only for a BSN that starts with '0'.

    :raises ValueError: for 'eight' on a BSN without a leading zero, or an unknown style.
    """
    if style is None:
        styles = ["space", "dots", "dashes"]
        if bsn.startswith("0"):
            styles.append("eight")
        style = rng.choice(styles)
    if style == "space":
        return f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}"
    if style == "dots":
        return f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}"
    if style == "dashes":
        return f"{bsn[:2]}-{bsn[2:4]}-{bsn[4:6]}-{bsn[6:]}"
    if style == "eight" and bsn.startswith("0"):
        return bsn[1:]
    raise ValueError(f"cannot write {style!r} for this BSN")


def typo_bsn(bsn: str, rng: random.Random) -> str:
    """One substituted digit or two swapped adjacent (different) digits.

    Every such change breaks the 11-proof: a substitution shifts the sum by w·δ with
    w in 2..9 or -1 and δ in 1..9, a swap by (δ) or 3δ at the last pair — never a multiple
    of the prime 11. Tests check this exhaustively on samples.
    """
    digits = list(bsn)
    swappable = [i for i in range(8) if digits[i] != digits[i + 1]]
    if swappable and rng.random() < 0.4:
        i = rng.choice(swappable)
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    else:
        i = rng.randrange(9)
        digits[i] = rng.choice([d for d in "0123456789" if d != digits[i]])
    return "".join(digits)


_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _letter_like(ch: str, rng: random.Random) -> str:
    new = rng.choice([c for c in _LOWER if c != ch.lower()])
    return new.upper() if ch.isupper() else new


def _word_bounds(chars: list[str], i: int) -> tuple[int, int]:
    """[start, end) of the run of letters around position ``i``."""
    start = i
    while start > 0 and chars[start - 1].isalpha():
        start -= 1
    end = i + 1
    while end < len(chars) and chars[end].isalpha():
        end += 1
    return start, end


def _typo_once(chars: list[str], rng: random.Random, keep_first: bool) -> bool:
    """Apply one typo in place; False when the drawn edit was not possible."""
    letters = [i for i, c in enumerate(chars) if c.isalpha()]
    if not letters:
        return True
    i = rng.choice(letters)
    start, end = _word_bounds(chars, i)
    op = rng.choice(("sub", "del", "ins", "swap"))
    if op == "ins":
        # after the drawn letter, so a word's first letter stays first
        chars.insert(i + 1, rng.choice(_LOWER))
        return True
    if keep_first and i == start:
        return False
    if op == "sub":
        chars[i] = _letter_like(chars[i], rng)
        return True
    if op == "del":
        if end - start <= 2:
            return False
        del chars[i]
        return True
    if i + 1 >= end or chars[i].lower() == chars[i + 1].lower():
        return False
    chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return True


def typo_text(s: str, rng: random.Random, n: int = 1, *, keep_first: bool = True) -> str:
    """``n`` keyboard-style typos at letters only: substitution, deletion, insertion, swap.

    Each typo changes the string (an insertion always does; other edits are redrawn when
    they would not). Words keep at least two letters. By default the first letter of each
    word is left alone: people rarely get it wrong (Pollock & Zamora 1984 found most
    misspellings keep it), and a dump's initials would contradict such a typo anyway.
    """
    chars = list(s)
    visited = {s}
    for _ in range(n):
        for _attempt in range(50):
            trial = chars.copy()
            # a second typo that undoes the first is no typo at all
            if _typo_once(trial, rng, keep_first) and "".join(trial) not in visited:
                chars = trial
                visited.add("".join(chars))
                break
    return "".join(chars)


def drop_diacritics(s: str) -> str:
    """'Zoë Müller' → 'Zoe Muller', as many old systems store names."""
    decomposed = unicodedata.normalize("NFKD", s)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def format_date(d: datetime.date, rng: random.Random, style: str | None = None) -> str:
    """A birth date in one of the ways Dutch files write it (``style`` from DATE_FORMATS)."""
    style = style or rng.choice(DATE_FORMATS)
    if style == "iso":
        return d.isoformat()
    if style == "dmy_dash":
        return f"{d.day:02d}-{d.month:02d}-{d.year}"
    if style == "dmy_slash":
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if style == "dmy_dot":
        return f"{d.day:02d}.{d.month:02d}.{d.year}"
    if style == "ymd_compact":
        return f"{d.year}{d.month:02d}{d.day:02d}"
    if style == "dmy_short":
        return f"{d.day}-{d.month}-{d.year % 100:02d}"
    if style == "text_nl":
        return f"{d.day} {_MONTHS_NL[d.month - 1]} {d.year}"
    raise ValueError(f"unknown date style {style!r}; known: {DATE_FORMATS}")


def display_name(
    p: Person,
    style: str = "full",
    *,
    given: str | None = None,
    prefix: str | None = None,
    surname: str | None = None,
) -> str:
    """A person's name as one string, in the ways dumps write it.

    Styles: 'full' ('Johanna Maria de Vries'), 'first' ('Johanna de Vries'), 'initials'
    ('J.M. de Vries'), 'inverted' ('Vries, Johanna Maria de'), 'inverted_initials'
    ('Vries, J.M. de'), 'registry' ('Vries de, J.M.'). ``given``/``prefix``/``surname``
    override the person's own parts (to put a typo'd or folded value in place).
    """
    g = p.given_names if given is None else given
    pre = p.prefix if prefix is None else prefix
    sn = p.surname if surname is None else surname
    if style == "first":
        g = g.split(" ", 1)[0]
    elif style in ("initials", "inverted_initials", "registry"):
        g = "".join(x[0] + "." for x in g.replace("-", " ").split())
    if style in ("full", "first", "initials"):
        return " ".join(x for x in (g, pre, sn) if x)
    if style in ("inverted", "inverted_initials"):
        return f"{sn}, {g} {pre}".rstrip()
    if style == "registry":
        return f"{sn} {pre}, {g}" if pre else f"{sn}, {g}"
    raise ValueError(f"unknown name style {style!r}")
