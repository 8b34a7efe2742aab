"""Dutch personal-name normalisation: one canonical :class:`PersonName` per spelling.

Cohort files and leaked tables write the same person in many ways ("Jan de Vries",
"Vries, Jan de", "J. de Vries", surname "Vries" + tussenvoegsel "de"). Keyed encodings only
match when both sides are normalised identically, so every rule lives here, once.

Folding (:func:`fold`): casefold; strip diacritics (Zoë → zoe, ç → c); spell out letters
without a decomposition (ø → o, æ → ae, œ → oe, ß → ss, ł → l, ð/đ → d, þ → th, ı → i;
ĳ → ij); apostrophes, combining marks and letters of non-Latin scripts vanish (d'Hondt →
dhondt, 't → t); other punctuation and digits become spaces; whitespace is single; hyphens
lose the spaces around them.

Parsing (:func:`normalise_name`), in this order:

* Parenthesised parts ("Johanna (Anja)") are nicknames and dropped. A comma splits a full
  name into "surname, given names [trailing tussenvoegsel]" ("Vries, Jan de").
* Titles and suffixes (dhr., mevr., mw., mej., de heer, dr., ir., ing., mr., drs., prof.,
  ds., jr., sr., ...) are dropped where they lead or trail a comma-separated part.
* Tussenvoegsels are the words in ``_PREFIXES`` (van, de, der, den, het, 't, te, ten, ter,
  in, op, uit, aan, la, le, du, von, vander, el, al, ...); "v.d.", "v/d" and "vd" read as
  "van der"; "t" after van/in/op/... is "'t". "d'" and "l'" stay glued to the name
  (d'Hondt → dhondt). The prefix kept is the one of the *first* surname part, wherever it
  stood: "Jan de Vries", "de Vries, Jan", "Vries, Jan de", "Vries de" all give 'de'.
* Initials are dotted words of up to four letters ("J.", "Th." and "Chr." give one initial
  each: Dutch voorletters abbreviate a whole name), single letters, and undotted runs
  without a vowel ("JP" → 'jp'). A two-letter word with a vowel ("Jo", "Ad", but also "AJ")
  is read as a name: without case (which must not matter) the two cannot be told apart.
  In an initials column every undotted run of up to three letters is initials ("AJ" → 'aj').
* Without a comma, a name is given-first ("Jan Pieter de Vries": the surname starts at the
  first tussenvoegsel after the first word, else it is the last word) unless it starts with
  a tussenvoegsel ("de Vries Jan") or is one word followed only by initials and
  tussenvoegsels ("Vries J.P. de", "Vries JP"); then it is surname-first.
* Surname parts are split on hyphens; each part drops its own tussenvoegsels
  ("Jansen-de Vries" → ('jansen', 'vries'), prefix ''; "van Dijk-Bakker" → ('dijk',
  'bakker'), prefix 'van'). Space-separated double surnames in a surname field count as two
  parts too, and so does "Jansen e.v. de Vries" (echtgenote van; "e/v" too, when it
  follows a word). At most two cores are kept.
* ``given`` is the first given name only (hyphenated names are one name: Jan-Willem →
  'janwillem', initials 'jw'); it is '' when the first given name is only an initial
  ("J. Pieter" → given '', initials 'jp').
* Columns win over the full-name string. An initials column wins over initials derived from
  given names unless those extend it ("Jan Pieter" + "J." → 'jp'). A prefix column is
  merged with a prefix found inside the surname without doubling ("de" + "de Vries" → 'de';
  "van" + "der Berg" → 'van der').

No function here raises on any ``str`` input; unusable names give ``None``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["PersonName", "fold", "normalise_name"]


@dataclass(frozen=True, slots=True)
class PersonName:
    """A normalised name; every field is folded to ASCII lowercase letters a-z."""

    given: str  # first given name only; '' when only initials are known
    initials: str  # first letters of all given names; '' when unknown
    prefix: str  # tussenvoegsel(s) of the first surname part, single-spaced; '' if none
    surnames: tuple[str, ...]  # 1 or 2 surname cores, tussenvoegsels removed


# -- folding ---------------------------------------------------------------------------------

_SPECIAL = {
    "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
    "ı": "i", "ħ": "h", "ŧ": "t", "ŋ": "n", "ĸ": "k", "ſ": "s", "ƒ": "f", "ɨ": "i",
    "’": "'", "‘": "'", "ʼ": "'", "ʻ": "'", "`": "'", "´": "'", "′": "'", "ˈ": "'",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "﹣": "-", "－": "-",
}  # fmt: skip

_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


class _FoldTable(dict[int, str]):
    """A ``str.translate`` table filled lazily, so any code point maps in one C-level pass.

    ``ascii_map`` says what each ASCII character becomes; other characters are decomposed
    (NFKD), stripped of combining marks and mapped the same way. The table stops growing at
    ``_MAX`` entries so a hostile input cannot make it hold all of Unicode.
    """

    _MAX = 8192

    def __init__(self, ascii_map: dict[str, str]) -> None:
        super().__init__((ord(k), v) for k, v in ascii_map.items())
        self._ascii = ascii_map

    def _char(self, ch: str) -> str:
        if ch in self._ascii:
            return self._ascii[ch]
        if ch in _SPECIAL:
            return self._char(_SPECIAL[ch]) if _SPECIAL[ch] in self._ascii else _SPECIAL[ch]
        out = []
        for c in unicodedata.normalize("NFKD", ch):
            if c in self._ascii:
                out.append(self._ascii[c])
            elif c in _SPECIAL:
                out.append(self._char(c))
            elif unicodedata.category(c)[0] not in "LM" and unicodedata.category(c) != "Cf":
                # Marks, format characters and letters of other scripts vanish (casefold
                # turns the combining ypogegrammeni into a Greek iota); the rest separates.
                out.append(" ")
        return "".join(out)

    def __missing__(self, cp: int) -> str:
        out = self._char(chr(cp))
        if len(self) < self._MAX:
            self[cp] = out
        return out


def _ascii_map(keep: str, drop: str) -> dict[str, str]:
    table = {chr(i): " " for i in range(128)}
    table.update({c: c for c in _LOWER})
    table.update({c: c for c in keep})
    table.update({c: "" for c in drop})
    return table


# fold(): letters, spaces and hyphens. The parser also keeps ',' '.' and "'" as signals.
_FOLD_TABLE = _FoldTable(_ascii_map(keep="-", drop="'"))
_PARSE_TABLE = _FoldTable({**_ascii_map(keep="-,.'", drop=""), "/": "."})

_HYPHEN_RUN = re.compile(r"\s*-[\s-]*")
_PARENS = re.compile(r"\([^)]*\)?")
_APOS_ST_HYPHEN = re.compile(r"(?<![a-z])'([st])-")  # 's-Gravesande -> 's Gravesande
_APOS_GLUED = re.compile(r"([a-z])'([st])\b")  # van't -> van 't
_APOS_SPACED = re.compile(r"\b([dl])'\s+")  # d' Hondt -> d'Hondt
_SPOUSE = re.compile(r"([a-z]{2})\s+e\.v\.?\s+")  # Jansen e.v. de Vries = Jansen-de Vries


def fold(text: str) -> str:
    """Fold ``text`` to lowercase a-z, single spaces and inner hyphens.

    Two spellings of the same name must meet: case, diacritics and punctuation carry no
    identity in leaked tables, which are typed by hand and re-encoded many times. Idempotent.
    """
    s = text.casefold().translate(_FOLD_TABLE)
    if "-" in s:
        s = _HYPHEN_RUN.sub("-", s)
        s = " ".join(s.split()).strip("-")
        return s
    return " ".join(s.split())


# ASCII text (most of any dump) folds through a byte table: several times faster than the
# lazily filled ``str.translate`` table, and equal to it because ASCII casefolds to ASCII.
_PARSE_BYTES = bytes(ord(_PARSE_TABLE[ord(chr(i).casefold())]) for i in range(128)) + bytes(128)


def _parse_fold(text: str) -> str:
    if "(" in text:
        text = _PARENS.sub(" ", text)
    if text.isascii():
        s = text.encode().translate(_PARSE_BYTES).decode()
    else:
        s = text.casefold().translate(_PARSE_TABLE)
    if "e.v" in s:
        s = _SPOUSE.sub(r"\1-", s)
    # The only whitespace left is ' ', so the substitution is a no-op unless one of these is.
    if "-" in s and (" -" in s or "- " in s or "--" in s):
        s = _HYPHEN_RUN.sub("-", s)
    if "'" in s:
        s = _APOS_ST_HYPHEN.sub(r"'\1 ", s)
        s = _APOS_GLUED.sub(r"\1 '\2", s)
        s = _APOS_SPACED.sub(r"\1'", s)
    return s


# -- vocabulary ------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PREFIXES = _words(
    "van von vom de der den des het te ten ter in op uit uijt aan bij onder over voor tot "
    "la le du da das dos del della di zum zur auf vander vanden vande vanter el al"
)
_BEFORE_T = frozenset(("van", "in", "op", "uit", "aan", "bij", "onder", "over", "voor"))
_VD = frozenset(("vd",))  # v.d., v/d, vd
_TITLES = _words(
    "dhr hr heer mevr mevrouw mw mvr mej mejuffrouw dr ir ing mr drs prof ds jr sr "
    "bc msc bsc phd mba llm lic fam familie wed weduwe"
)
_VOWELS = frozenset("aeiouy")

# Token kinds.
_W, _P, _I, _C = 0, 1, 2, 3  # word, tussenvoegsel, initial (dotted/single), consonant run

# An atom is [text, dotted, hyphen_before, kind]; a chunk is (kind, atoms).
_Atom = list
_Chunk = tuple[int, list[_Atom]]


def _atoms(seg: str) -> list[_Atom]:
    """Split one comma-free segment into atoms: words, split further at hyphens and dots."""
    atoms: list[_Atom] = []
    for tok in seg.split():
        if tok.isalpha():  # the common case: a plain word
            atoms.append([tok, False, False, -1])
            continue
        if tok in _VD or ("." in tok and "-" not in tok and tok.replace(".", "") in _VD):
            atoms.append(["van", False, False, _P])
            atoms.append(["der", False, False, _P])
            continue
        emitted = False
        for part in tok.split("-"):
            hyph = emitted
            pieces = part.split(".")
            last = len(pieces) - 1
            for k, piece in enumerate(pieces):
                if not piece:
                    continue
                if piece[0] == "'" and len(piece) == 2 and piece[1] in "st":
                    atoms.append([piece[1], k < last, hyph, _P])
                else:
                    if "'" in piece:
                        piece = piece.replace("'", "")
                        if not piece:
                            continue
                    atoms.append([piece, k < last, hyph, -1])
                hyph = False
                emitted = True
    return atoms


def _strip_titles(atoms: list[_Atom]) -> None:
    while atoms:
        if atoms[0][0] in _TITLES and atoms[0][3] != _P:
            del atoms[0]
        elif len(atoms) > 1 and atoms[0][0] == "de" and atoms[1][0] == "heer":
            del atoms[:2]
        else:
            break
    while atoms and atoms[-1][0] in _TITLES and atoms[-1][3] != _P:
        del atoms[-1]


def _classify(atoms: list[_Atom], *, last_seg: bool, prefixes: bool = True) -> None:
    n = len(atoms)
    for i, a in enumerate(atoms):
        if a[3] != -1:
            continue
        t = a[0]
        if t in _PREFIXES:
            a[3] = _P if prefixes else _W
        elif len(t) == 1:
            prev = atoms[i - 1] if i else None
            is_t = t == "t" and prev is not None and prev[3] == _P and prev[0] in _BEFORE_T
            a[3] = _P if is_t and prefixes else _I
        elif a[1]:
            # "Joh." and "Th." are initials; "Bos." ending the whole input is a full stop.
            final = last_seg and i == n - 1
            long_word = len(t) > 4 or (final and len(t) > 2 and not _VOWELS.isdisjoint(t))
            a[3] = _W if long_word else _I
        elif len(t) <= 6 and _VOWELS.isdisjoint(t):
            a[3] = _C
        else:
            a[3] = _W


def _chunks(atoms: list[_Atom]) -> list[_Chunk]:
    """Group atoms into (kind, atoms) chunks: a hyphen, and the tussenvoegsels after it,
    bind onward ("Jansen-de Vries" is one chunk, "van Dijk" two)."""
    groups: list[list[_Atom]] = []
    cur: list[_Atom] = []
    pending = False
    for a in atoms:
        if cur and (a[2] or pending):
            cur.append(a)
            pending = a[3] == _P
        else:
            cur = [a]
            groups.append(cur)
            pending = False
    out: list[_Chunk] = []
    for g in groups:
        if len(g) == 1:
            out.append((g[0][3], g))
        elif all(a[3] == _I or a[3] == _C for a in g):
            out.append((_I, g))
        else:
            out.append((_W, g))
    return out


def _split_core(atoms: list[_Atom]) -> tuple[list[str], list[str]]:
    """Cores of a (possibly hyphenated) surname chunk, and the first part's own prefixes."""
    if len(atoms) == 1:
        return [], [atoms[0][0]]
    cores: list[str] = []
    first_pfx: list[str] = []
    carried: list[str] = []
    part_pfx: list[str] = []
    letters: list[str] = []
    for j, a in enumerate(atoms):
        if j and a[2]:  # a hyphen closes the previous part
            if letters:
                if not cores:
                    first_pfx = carried + part_pfx
                cores.append("".join(letters))
                carried = []
            else:
                carried += part_pfx
            part_pfx, letters = [], []
        if a[3] == _P and not letters:
            part_pfx.append(a[0])
        else:
            letters.append(a[0])
    if letters:
        if not cores:
            first_pfx = carried + part_pfx
        cores.append("".join(letters))
    return first_pfx, cores


def _take_unit(chunks: list[_Chunk], i: int) -> tuple[list[str], list[str], int]:
    """Read tussenvoegsels + one surname chunk from ``chunks[i]``: (prefix, cores, next i)."""
    n = len(chunks)
    pfx: list[str] = []
    j = i
    while j < n and chunks[j][0] == _P:
        pfx.append(chunks[j][1][0][0])
        j += 1
    if j < n and (chunks[j][0] == _W or chunks[j][0] == _C):
        own, cores = _split_core(chunks[j][1])
        return (pfx + own if own else pfx), cores, j + 1
    if pfx:  # a surname that is itself a prefix word ("Le", "Van")
        return pfx[:-1], [pfx[-1]], j
    return [], [], i


def _initials_of(chunk: _Chunk) -> str:
    kind, atoms = chunk
    if kind in (_I, _C):
        return "".join(a[0][0] if a[1] else a[0] for a in atoms)
    if len(atoms) == 1:
        return atoms[0][0][0]
    return "".join(a[0][0] for j, a in enumerate(atoms) if j == 0 or a[2])


def _given_of(chunks: list[_Chunk]) -> tuple[str, str]:
    """(first given name, initials) from given-name chunks."""
    if not chunks:
        return "", ""
    kind, atoms = chunks[0]
    given = "".join(a[0] for a in atoms) if kind in (_W, _P) else ""
    return given, "".join([_initials_of(c) for c in chunks])


def _surname_tail(chunks: list[_Chunk], i: int, cores: list[str]) -> tuple[list[str], str]:
    """Read what follows the first surname unit: more cores (extended in place), trailing
    tussenvoegsels ("Vries de") and stray initials ("Vries J.")."""
    n = len(chunks)
    post: list[str] = []
    stray: list[str] = []
    while i < n:
        if chunks[i][0] == _I:
            stray.append(_initials_of(chunks[i]))
            i += 1
            continue
        j = i
        while j < n and chunks[j][0] == _P:
            j += 1
        if j > i and (j == n or chunks[j][0] == _I):
            post.extend(c[1][0][0] for c in chunks[i:j])
            i = j
            continue
        _, more, i = _take_unit(chunks, i)
        cores.extend(more)
    return post, "".join(stray)


_Parsed = tuple[str, str, list[str], list[str]]  # given, initials, prefix, cores
_NOTHING: _Parsed = ("", "", [], [])


def _segments(text: str) -> list[list[_Atom]]:
    segs = []
    for seg in _parse_fold(text).split(","):
        atoms = _atoms(seg)
        _strip_titles(atoms)
        if atoms:
            segs.append(atoms)
    for k, atoms in enumerate(segs):
        _classify(atoms, last_seg=k == len(segs) - 1)
    return segs


def _parse_surname_field(chunks: list[_Chunk]) -> tuple[list[str], list[str], str]:
    pfx, cores, i = _take_unit(chunks, 0)
    if i == len(chunks):
        return pfx, cores, ""
    post, stray = _surname_tail(chunks, i, cores)
    if not cores and stray:  # a one-letter surname ("X") rather than nothing
        cores, stray = [stray], ""
    return pfx or post, cores, stray


def _parse_plain(chunks: list[_Chunk]) -> _Parsed:
    """A full name without a comma."""
    n = len(chunks)
    k0 = chunks[0][0]
    surname_first = k0 == _P or (
        k0 == _W
        and n > 1
        and all(c[0] != _W for c in chunks[1:])
        and any(c[0] == _I or c[0] == _C for c in chunks[1:])
    )
    if surname_first:
        pfx, cores, i = _take_unit(chunks, 0)
        rest = chunks[i:]
        post = [c[1][0][0] for c in rest if c[0] == _P]
        given, initials = _given_of([c for c in rest if c[0] != _P])
        return given, initials, pfx or post, cores
    start = -1
    for i in range(1, n):
        if chunks[i][0] == _P:
            start = i
            break
    else:  # no tussenvoegsel: the surname is the last word that is not an initial
        for i in range(n - 1, -1, -1):
            if chunks[i][0] != _I:
                start = i
                break
        else:
            return _NOTHING
    pfx, cores, i = _take_unit(chunks, start)
    if i < n:
        _surname_tail(chunks, i, cores)
    given, initials = _given_of(chunks[:start])
    return given, initials, pfx, cores


def _parse_full(text: str) -> _Parsed:
    segs = _segments(text)
    if not segs:
        return _NOTHING
    if len(segs) == 1:
        return _parse_plain(_chunks(segs[0]))
    pfx, cores, stray = _parse_surname_field(_chunks(segs[0]))
    given_chunks: list[_Chunk] = []
    post: list[str] = []
    for atoms in segs[1:]:
        chunks = _chunks(atoms)
        j = len(chunks)
        while j and chunks[j - 1][0] == _P:
            j -= 1
        post.extend(c[1][0][0] for c in chunks[j:])
        given_chunks.extend(chunks[:j])
    given, initials = _given_of(given_chunks)
    return given, initials or stray, pfx or post, cores


def _parse_surname(text: str) -> _Parsed:
    if "," in text:
        return _parse_full(text)
    atoms = _atoms(_parse_fold(text))
    _strip_titles(atoms)
    if not atoms:
        return _NOTHING
    _classify(atoms, last_seg=True)
    pfx, cores, stray = _parse_surname_field(_chunks(atoms))
    return "", stray, pfx, cores


def _parse_given(text: str) -> tuple[str, str]:
    atoms = _atoms(_parse_fold(text).replace(",", " "))
    _strip_titles(atoms)
    _classify(atoms, last_seg=True, prefixes=False)
    return _given_of(_chunks(atoms))


def _parse_initials(text: str) -> str:
    out = []
    for a in _atoms(_parse_fold(text).replace(",", " ")):
        t = a[0]
        # Dotted pieces and names abbreviate one name each; an undotted run is one per letter.
        out.append(t[0] if a[1] or (len(t) > 3 and not _VOWELS.isdisjoint(t)) else t)
    return "".join(out)


def _parse_prefix(text: str) -> list[str]:
    return [a[0] for a in _atoms(_parse_fold(text).replace(",", " "))]


def _merge_prefix(column: list[str], found: list[str]) -> list[str]:
    """Combine a tussenvoegsel column with one found in the surname, never doubling."""
    if not column:
        return found
    if not found or column[-len(found) :] == found:
        return column
    if found[-len(column) :] == column:
        return found
    return column + found


def normalise_name(
    *,
    given: str | None = None,
    initials: str | None = None,
    prefix: str | None = None,
    surname: str | None = None,
    full: str | None = None,
) -> PersonName | None:
    """Normalise a name given as separate columns, as one full-name string, or both.

    Columns (voornaam/voorletters/tussenvoegsel/achternaam) win over ``full``. Returns
    ``None`` when no surname can be found: such a record cannot be matched by name. Never
    raises on ``str`` input; the rules are in the module docstring.
    """
    f_given, f_initials, f_prefix, f_cores = "", "", [], []
    s_given, s_initials, s_prefix, s_cores = "", "", [], []
    if surname:
        s_given, s_initials, s_prefix, s_cores = _parse_surname(surname)
    if full and not (s_cores and (given or initials)):
        f_given, f_initials, f_prefix, f_cores = _parse_full(full)
    cores = s_cores or f_cores
    if not cores:
        return None
    found_prefix = s_prefix if s_cores else f_prefix
    other_given = s_given or f_given
    other_initials = s_initials or f_initials

    g_given, g_initials = _parse_given(given) if given else ("", "")
    col_initials = _parse_initials(initials) if initials else ""
    if col_initials and not (g_initials and g_initials.startswith(col_initials)):
        out_initials = col_initials
    else:
        out_initials = g_initials or other_initials
    out_given = g_given or ("" if g_initials else other_given)

    out_prefix = _merge_prefix(_parse_prefix(prefix) if prefix else [], found_prefix)
    return PersonName(
        given=out_given,
        initials=out_initials,
        prefix=" ".join(out_prefix),
        surnames=tuple(cores[:2]),
    )
