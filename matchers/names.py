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

Speed: a dump can hold half a million distinct names, so the common shapes (plain words,
hyphens, voorletters, one comma) take fast paths that give what the general parser gives and
hand everything else to it; see "fast paths" below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
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


# Replacements as functions: a template string ("\\1-") costs a Python-level template lookup
# on every call, match or not; a function is only called per match.
def _spouse_repl(m: re.Match[str]) -> str:
    return m[1] + "-"


def _st_hyphen_repl(m: re.Match[str]) -> str:
    return "'" + m[1] + " "


def _glued_repl(m: re.Match[str]) -> str:
    return m[1] + " '" + m[2]


def _spaced_repl(m: re.Match[str]) -> str:
    return m[1] + "'"


def _parse_fold(text: str) -> str:
    if "(" in text:
        text = _PARENS.sub(" ", text)
    if text.isascii():
        s = text.encode().translate(_PARSE_BYTES).decode()
    else:
        s = text.casefold().translate(_PARSE_TABLE)
    if "e.v" in s:
        s = _SPOUSE.sub(_spouse_repl, s)
    # The only whitespace left is ' ', so the substitution is a no-op unless one of these is.
    if "-" in s and (" -" in s or "- " in s or "--" in s):
        s = _HYPHEN_RUN.sub("-", s)
    if "'" in s:
        s = _APOS_ST_HYPHEN.sub(_st_hyphen_repl, s)
        s = _APOS_GLUED.sub(_glued_repl, s)
        s = _APOS_SPACED.sub(_spaced_repl, s)
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


def _segments(s: str) -> list[list[_Atom]]:
    segs = []
    for seg in s.split(","):
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


# The general parser. Each ``_parse_*`` reads the :func:`_parse_fold` form of one field.


def _parse_full(s: str) -> _Parsed:
    segs = _segments(s)
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


def _parse_surname(s: str) -> _Parsed:
    """A surname field without a comma (one with a comma is read as a full name)."""
    atoms = _atoms(s)
    _strip_titles(atoms)
    if not atoms:
        return _NOTHING
    _classify(atoms, last_seg=True)
    pfx, cores, stray = _parse_surname_field(_chunks(atoms))
    return "", stray, pfx, cores


def _parse_given(s: str) -> tuple[str, str]:
    atoms = _atoms(s.replace(",", " "))
    _strip_titles(atoms)
    _classify(atoms, last_seg=True, prefixes=False)
    return _given_of(_chunks(atoms))


def _parse_initials(s: str) -> str:
    out = []
    for a in _atoms(s.replace(",", " ")):
        t = a[0]
        # Dotted pieces and names abbreviate one name each; an undotted run is one per letter.
        out.append(t[0] if a[1] or (len(t) > 3 and not _VOWELS.isdisjoint(t)) else t)
    return "".join(out)


def _parse_prefix(s: str) -> list[str]:
    return [a[0] for a in _atoms(s.replace(",", " "))]


def _merge_prefix(column: list[str], found: list[str]) -> list[str]:
    """Combine a tussenvoegsel column with one found in the surname, never doubling."""
    if not column:
        return found
    if not found or column[-len(found) :] == found:
        return column
    if found[-len(column) :] == column:
        return found
    return column + found


# -- fast paths ------------------------------------------------------------------------------
# Nearly every name in a dump is a few plain words, perhaps hyphenated, perhaps with dotted
# voorletters or a comma. The ``_fast_*`` readers parse those from flat lists (a kind and an
# item per chunk) instead of the atom and chunk lists above, and decline with ``None`` on
# anything else: a title, an apostrophe other than "'t"/"'s", a dotted piece longer than one
# letter. They mirror the general parser step by step; tests/test_names.py checks on
# generated names that both agree.

_TITLE = 4  # a title word: stripping titles is left to the general parser
_T = 5  # the word 't': a tussenvoegsel after van/in/op/..., else an initial
# "'t" and "'s" are tussenvoegsels whatever precedes them; other apostrophes are left to the
# general parser ("d'hondt" loses its apostrophe there).
_APOS_PREFIXES = frozenset(("'t", "'s"))
_VOCAB: dict[str, int] = {
    **dict.fromkeys(_TITLES, _TITLE),
    **dict.fromkeys(_PREFIXES, _P),
    **dict.fromkeys(_APOS_PREFIXES, _P),
}


class _KindTable(dict[str, int]):
    """What :func:`_classify` makes of an undotted word, learnt on first sight.

    The kind depends on the word alone, except for 't' (:data:`_T`), and names repeat their
    words, so a lookup is all most words cost. The table stops growing at ``_MAX`` entries so
    a hostile input cannot make it hold every string.
    """

    _MAX = 1 << 16

    def __missing__(self, t: str) -> int:
        if t == "t":
            return _T
        if len(t) == 1:
            k = _I
        elif len(t) <= 6 and _VOWELS.isdisjoint(t):
            k = _C
        else:
            k = _W
        if len(self) < self._MAX:
            self[t] = k
        return k


_KINDS = _KindTable(_VOCAB)


# A chunk is one undotted word; the pieces of a hyphenated word of names only ("Anne-Marie",
# "Berg-Jansen"); or, bound by hyphens in any other way, a list of atoms as _atoms makes them.
_Item = str | tuple[str, ...] | list[_Atom]
_Flat = tuple[list[int], list[_Item]]  # kinds and items of a segment's chunks


# A dotted word the fast path leaves to the parser: a piece of two or more letters ("Joh.",
# "Bos.") or a hyphen or apostrophe in the same word. Every other dotted word is voorletters.
# Both patterns start at the dot where they can, for the speed of a literal scan.
_UNUSUAL_DOTS = re.compile(r"\.(?:(?<=[a-z]{2}\.)|[a-z]{2}|[^ ]*['-])")
_MARK_BEFORE_DOT = re.compile(r"['-][^ ]*\.")


def _fast_words(seg: str, prefixes: bool) -> list[str] | None:
    """The words of a segment with dots, dotted voorletters split into one word per letter.

    "J.M." and "J M" give the same atoms but for the dotted flag, which no rule reads for a
    one-letter atom; "v.d." is "van der", which only a surname may contain here.
    """
    if _UNUSUAL_DOTS.search(seg) or (("-" in seg or "'" in seg) and _MARK_BEFORE_DOT.search(seg)):
        return None
    if "v." not in seg:
        return seg.replace(".", " ").split()
    out: list[str] = []
    for tok in seg.split():
        if "." not in tok:
            out.append(tok)
        elif tok.replace(".", "") in _VD:
            if not prefixes:
                return None
            out += ("van", "der")
        else:
            out.extend(tok.replace(".", ""))
    return out


def _fast_chunks(seg: str, prefixes: bool = True) -> _Flat | None:
    """:func:`_atoms`, :func:`_strip_titles`, :func:`_classify` and :func:`_chunks` for a
    comma-free segment; ``None`` when it holds a title, an unusual dotted word or an
    apostrophe other than "'t"/"'s". Without a hyphen, every word is a chunk and the items
    are the words."""
    if seg.isalpha():  # one plain word, the whole segment
        k = _KINDS[seg]
        if k == _TITLE:
            return None
        if k == _T:
            k = _I  # no word before it
        elif k == _P and not prefixes:
            k = _W
        return [k], [seg]
    apos = "'" in seg
    if apos and not prefixes:
        return None
    if "." in seg:
        words = _fast_words(seg, prefixes)
        if words is None:
            return None
    else:
        words = seg.split()
    if "-" in seg:
        return _fast_hyphen_chunks(words, prefixes)
    if apos and any("'" in w and w not in _APOS_PREFIXES for w in words):
        return None
    kinds = list(map(_KINDS.__getitem__, words))
    if apos:
        words = [w[1:] if w in _APOS_PREFIXES else w for w in words]
    if not prefixes and _P in kinds:
        kinds = [_W if k == _P else k for k in kinds]
    if kinds and max(kinds) > _C:
        if _TITLE in kinds:
            return None
        for j, k in enumerate(kinds):
            if k == _T:
                before_t = j and kinds[j - 1] == _P and words[j - 1] in _BEFORE_T
                kinds[j] = _P if before_t else _I
    return kinds, words  # type: ignore[return-value]


def _fast_hyphen_chunks(words: list[str], prefixes: bool) -> _Flat | None:
    kinds: list[int] = []
    items: list[_Item] = []
    prev = ""  # the previous atom if it is a tussenvoegsel, else ''
    pending = False  # the last atom was bound to its chunk and is a tussenvoegsel
    for word in words:
        if not pending and "'" not in word:
            if "-" not in word:  # a chunk of its own, as in _fast_chunks
                k = _KINDS[word]
                if k > _C:
                    if k == _TITLE:
                        return None
                    k = _P if prev in _BEFORE_T else _I
                elif k == _P and not prefixes:
                    k = _W
                prev = word if k == _P else ""
                kinds.append(k)
                items.append(word)
                continue
            pieces = word.split("-")
            if "" not in pieces:
                piece_kinds = list(map(_KINDS.__getitem__, pieces))
                if _P not in piece_kinds and _I not in piece_kinds and max(piece_kinds) <= _C:
                    # Names and consonant runs only: a chunk of its own, each piece a core.
                    kinds.append(_W if _W in piece_kinds else _I)
                    items.append(tuple(pieces))
                    prev = ""
                    continue
        hyph = False  # an earlier piece of this word was emitted
        for t in word.split("-"):
            if not t:
                continue
            if "'" in t:
                if t not in _APOS_PREFIXES:
                    return None
                t, k = t[1:], _P
            else:
                k = _KINDS[t]
            if k == _T:
                k = _P if prev in _BEFORE_T else _I
            elif k == _TITLE:
                return None
            elif k == _P and not prefixes:
                k = _W
            prev = t if k == _P else ""
            if kinds and (hyph or pending):
                group = items[-1]
                if not isinstance(group, list):
                    group = items[-1] = [[group, False, False, kinds[-1]]]
                group.append([t, False, hyph, k])
                # A chunk of several atoms is initials when all its atoms are.
                initials = kinds[-1] in (_I, _C) and k in (_I, _C)
                kinds[-1] = _I if initials else _W
                pending = k == _P
            else:
                kinds.append(k)
                items.append(t)
                pending = False
            hyph = True
    return kinds, items


def _fast_initials_of(kind: int, item: _Item) -> str:
    if isinstance(item, str):
        return item if kind in (_I, _C) else item[0]
    if isinstance(item, tuple):
        return "".join(item) if kind == _I else "".join([p[0] for p in item])
    if kind == _I:
        return "".join([a[0] for a in item])
    return "".join([a[0][0] for j, a in enumerate(item) if j == 0 or a[2]])


def _fast_text_of(item: _Item) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, tuple):
        return "".join(item)
    return "".join([a[0] for a in item])


def _fast_given_of(kinds: list[int], items: list[_Item]) -> tuple[str, str]:
    if not kinds:
        return "", ""
    given = ""
    k0, first = kinds[0], items[0]
    if k0 in (_W, _P):
        given = _fast_text_of(first)
    if len(kinds) == 1:
        return given, _fast_initials_of(k0, first)
    out = []
    for k, item in zip(kinds, items, strict=False):
        if isinstance(item, str):
            out.append(item if k in (_I, _C) else item[0])
        else:
            out.append(_fast_initials_of(k, item))
    return given, "".join(out)


def _fast_take_unit(
    kinds: list[int], items: list[_Item], i: int
) -> tuple[list[str], list[str], int]:
    n = len(kinds)
    j = i
    while j < n and kinds[j] == _P:
        j += 1
    pfx: list[str] = items[i:j]  # type: ignore[assignment]  # a _P chunk is one word
    if j < n and (kinds[j] == _W or kinds[j] == _C):
        item = items[j]
        if isinstance(item, str):
            return pfx, [item], j + 1
        if isinstance(item, tuple):
            return pfx, list(item), j + 1
        own, cores = _split_core(item)
        return (pfx + own if own else pfx), cores, j + 1
    if pfx:
        return pfx[:-1], [pfx[-1]], j
    return [], [], i


def _fast_tail(
    kinds: list[int], items: list[_Item], i: int, cores: list[str]
) -> tuple[list[str], str]:
    n = len(kinds)
    post: list[str] = []
    stray: list[str] = []
    while i < n:
        if kinds[i] == _I:
            stray.append(_fast_initials_of(_I, items[i]))
            i += 1
            continue
        j = i
        while j < n and kinds[j] == _P:
            j += 1
        if j > i and (j == n or kinds[j] == _I):
            post.extend(items[i:j])  # type: ignore[arg-type]
            i = j
            continue
        _, more, i = _fast_take_unit(kinds, items, i)
        cores.extend(more)
    return post, "".join(stray)


def _fast_surname_field(kinds: list[int], items: list[_Item]) -> tuple[list[str], list[str], str]:
    if len(kinds) == 1 and isinstance(items[0], str):  # one word, whatever its kind
        return [], [items[0]], ""
    pfx, cores, i = _fast_take_unit(kinds, items, 0)
    if i == len(kinds):
        return pfx, cores, ""
    post, stray = _fast_tail(kinds, items, i, cores)
    if not cores and stray:
        cores, stray = [stray], ""
    return pfx or post, cores, stray


def _fast_plain(kinds: list[int], items: list[_Item]) -> _Parsed:
    n = len(kinds)
    k0 = kinds[0]
    rest = kinds[1:]
    if k0 == _P or (k0 == _W and _W not in rest and (_I in rest or _C in rest)):
        pfx, cores, i = _fast_take_unit(kinds, items, 0)
        post = [items[j] for j in range(i, n) if kinds[j] == _P]
        keep = [j for j in range(i, n) if kinds[j] != _P]
        given, initials = _fast_given_of([kinds[j] for j in keep], [items[j] for j in keep])
        return given, initials, pfx or post, cores  # type: ignore[return-value]
    if _P in rest:
        start = rest.index(_P) + 1
    else:
        start = n - 1
        while start >= 0 and kinds[start] == _I:
            start -= 1
        if start < 0:
            return _NOTHING
    pfx, cores, i = _fast_take_unit(kinds, items, start)
    if i < n:
        _fast_tail(kinds, items, i, cores)
    given, initials = _fast_given_of(kinds[:start], items[:start])
    return given, initials, pfx, cores


def _given_words(kinds: list[int], words: list[str]) -> tuple[str, str]:
    """:func:`_given_of` for one-word chunks without tussenvoegsels: each name gives its
    first letter, each initial or consonant run itself."""
    if not kinds:
        return "", ""
    if max(kinds) == _W:  # names only
        w = words[0]
        if len(words) == 2:
            return w, w[0] + words[1][0]
        return w, "".join([x[0] for x in words])
    if min(kinds) >= _I:  # initials only
        return "", "".join(words)
    initials = "".join([w[0] if k == _W else w for k, w in zip(kinds, words, strict=True)])
    return (words[0] if kinds[0] == _W else ""), initials


def _fast_plain_words(kinds: list[int], words: list[str]) -> _Parsed:
    """:func:`_fast_plain` when every chunk is one word, for the common given-first order."""
    n = len(kinds)
    k0 = kinds[0]
    if k0 == _P or (k0 == _W and kinds.count(_W) == 1 and (_I in kinds or _C in kinds)):
        return _fast_plain(kinds, words)  # type: ignore[arg-type]
    if _P in kinds:  # the surname starts at the first tussenvoegsel after the first word
        start = kinds.index(_P)
        j = start + 1
        while j < n and kinds[j] == _P:
            j += 1
        if j < n and kinds[j] != _I:
            pfx, cores, i = words[start:j], [words[j]], j + 1
        else:  # a surname that is itself a prefix word
            pfx, cores, i = words[start : j - 1], [words[j - 1]], j
        if i < n:  # every further word but tussenvoegsels and initials is another core
            cores += [w for k, w in zip(kinds[i:], words[i:], strict=True) if k in (_W, _C)]
    else:  # the surname is the last word that is not an initial; only initials follow it
        start = n - 1
        while start >= 0 and kinds[start] == _I:
            start -= 1
        if start < 0:
            return _NOTHING
        pfx, cores = [], [words[start]]
    if start == 1:
        w = words[0]
        return (w, w[0], pfx, cores) if k0 == _W else ("", w, pfx, cores)
    if not start:
        return "", "", pfx, cores
    given, initials = _given_words(kinds[:start], words[:start])
    return given, initials, pfx, cores


def _fast_full(s: str) -> _Parsed | None:
    if "," not in s:
        flat = _fast_chunks(s)
        if flat is None:
            return None
        if not flat[0]:
            return _NOTHING
        return _fast_plain_words(*flat) if "-" not in s else _fast_plain(*flat)  # type: ignore[arg-type]
    segs: list[_Flat] = []
    for seg in s.split(","):
        flat = _fast_chunks(seg)
        if flat is None:
            return None
        if flat[0]:
            segs.append(flat)
    if not segs:
        return _NOTHING
    words_only = "-" not in s  # every chunk is one word
    if len(segs) == 1:
        return _fast_plain_words(*segs[0]) if words_only else _fast_plain(*segs[0])  # type: ignore[arg-type]
    pfx, cores, stray = _fast_surname_field(*segs[0])
    # Given names follow the comma; tussenvoegsels that end a part belong to the surname.
    post: list[str]
    if len(segs) == 2:
        kinds, items = segs[1]
        j = len(kinds)
        while j and kinds[j - 1] == _P:
            j -= 1
        post = items[j:]  # type: ignore[assignment]
        if j < len(kinds):
            kinds, items = kinds[:j], items[:j]
    else:
        kinds, items, post = [], [], []
        for seg_kinds, seg_items in segs[1:]:
            j = len(seg_kinds)
            while j and seg_kinds[j - 1] == _P:
                j -= 1
            post += seg_items[j:]  # type: ignore[arg-type]
            kinds += seg_kinds[:j]
            items += seg_items[:j]
    if words_only and _P not in kinds:
        given, initials = _given_words(kinds, items)  # type: ignore[arg-type]
    else:
        given, initials = _fast_given_of(kinds, items)
    return given, initials or stray, pfx or post, cores


def _fast_surname(s: str) -> _Parsed | None:
    if s.isalpha():  # one plain word
        return None if s in _TITLES else ("", "", [], [s])
    if "," in s:  # a ',' may come from folding '，'; leave it to the parser
        return None
    flat = _fast_chunks(s)
    if flat is None:
        return None
    if not flat[0]:
        return _NOTHING
    pfx, cores, stray = _fast_surname_field(*flat)
    return "", stray, pfx, cores


def _fast_given(s: str) -> tuple[str, str] | None:
    if s.isalpha():  # one plain word; tussenvoegsel words are names here
        k = _KINDS[s]
        if k == _TITLE:
            return None
        return (s, s[0]) if k in (_W, _P) else ("", s)
    if "," in s:
        s = s.replace(",", " ")
    flat = _fast_chunks(s, prefixes=False)
    if flat is None:
        return None
    if "-" in s:
        return _fast_given_of(*flat)
    return _given_words(*flat)  # type: ignore[arg-type]


def _fast_initials(s: str) -> str | None:
    if "'" in s or "-" in s:
        return None
    if "," in s:
        s = s.replace(",", " ")
    if "." in s:
        if "v." in s or _UNUSUAL_DOTS.search(s):
            return _fast_dotted_initials(s)
        s = s.replace(".", " ")  # voorletters: each dotted letter gives itself
    words = s.split()
    letters = "".join(words)
    if len(letters) == len(words):  # one letter each
        return letters
    # An undotted run is one initial per letter; a longer word with a vowel is a name.
    return "".join([w if len(w) <= 3 or _VOWELS.isdisjoint(w) else w[0] for w in words])


def _fast_dotted_initials(s: str) -> str | None:
    out = []
    for tok in s.split():
        if "." not in tok:
            out.append(tok[0] if len(tok) > 3 and not _VOWELS.isdisjoint(tok) else tok)
            continue
        if tok.replace(".", "") in _VD:
            return None
        pieces = tok.split(".")
        last = len(pieces) - 1
        for k, t in enumerate(pieces):
            if t:
                out.append(t[0] if k < last or (len(t) > 3 and not _VOWELS.isdisjoint(t)) else t)
    return "".join(out)


def _fast_prefix(s: str) -> list[str] | None:
    if "-" in s or "." in s:
        return None
    # What _atoms keeps of an undotted, unhyphenated word: its letters ("'t" -> 't').
    return s.replace(",", " ").replace("'", "").split()


# -- readers: raw field text -> parsed parts -------------------------------------------------


def _read_full(text: str) -> _Parsed:
    s = _parse_fold(text)
    return _fast_full(s) or _parse_full(s)


def _read_surname(text: str) -> _Parsed:
    s = _parse_fold(text)
    if "," in text:
        return _fast_full(s) or _parse_full(s)
    return _fast_surname(s) or _parse_surname(s)


def _read_given(text: str) -> tuple[str, str]:
    s = _parse_fold(text)
    return _fast_given(s) or _parse_given(s)


def _read_initials(text: str) -> str:
    s = _parse_fold(text)
    out = _fast_initials(s)
    return _parse_initials(s) if out is None else out


def _read_prefix(text: str) -> list[str]:
    s = _parse_fold(text)
    out = _fast_prefix(s)
    return _parse_prefix(s) if out is None else out


def _general_full(text: str) -> _Parsed:
    return _parse_full(_parse_fold(text))


def _general_surname(text: str) -> _Parsed:
    s = _parse_fold(text)
    return _parse_full(s) if "," in text else _parse_surname(s)


def _general_given(text: str) -> tuple[str, str]:
    return _parse_given(_parse_fold(text))


def _general_initials(text: str) -> str:
    return _parse_initials(_parse_fold(text))


def _general_prefix(text: str) -> list[str]:
    return _parse_prefix(_parse_fold(text))


_Readers = tuple[
    Callable[[str], _Parsed],  # full
    Callable[[str], _Parsed],  # surname
    Callable[[str], tuple[str, str]],  # given
    Callable[[str], str],  # initials
    Callable[[str], list[str]],  # prefix
]
_FAST: _Readers = (_read_full, _read_surname, _read_given, _read_initials, _read_prefix)
_GENERAL: _Readers = (
    _general_full,
    _general_surname,
    _general_given,
    _general_initials,
    _general_prefix,
)

# PersonName(...) runs the frozen dataclass's __init__, which sets each field through
# object.__setattr__; setting the slots directly gives an equal object in half the time.
_new_name = object.__new__
_set_given = PersonName.given.__set__  # type: ignore[attr-defined]
_set_initials = PersonName.initials.__set__  # type: ignore[attr-defined]
_set_prefix = PersonName.prefix.__set__  # type: ignore[attr-defined]
_set_surnames = PersonName.surnames.__set__  # type: ignore[attr-defined]


def _person(given: str, initials: str, prefix: str, surnames: tuple[str, ...]) -> PersonName:
    pn = _new_name(PersonName)
    _set_given(pn, given)
    _set_initials(pn, initials)
    _set_prefix(pn, prefix)
    _set_surnames(pn, surnames)
    return pn


def _normalise(
    given: str | None,
    initials: str | None,
    prefix: str | None,
    surname: str | None,
    full: str | None,
    readers: _Readers,
) -> PersonName | None:
    read_full, read_surname, read_given, read_initials, read_prefix = readers
    f_given, f_initials, f_prefix, f_cores = "", "", [], []
    s_given, s_initials, s_prefix, s_cores = "", "", [], []
    if surname:
        s_given, s_initials, s_prefix, s_cores = read_surname(surname)
    if full and not (s_cores and (given or initials)):
        f_given, f_initials, f_prefix, f_cores = read_full(full)
    cores = s_cores or f_cores
    if not cores:
        return None
    found_prefix = s_prefix if s_cores else f_prefix
    other_given = s_given or f_given
    other_initials = s_initials or f_initials

    g_given, g_initials = read_given(given) if given else ("", "")
    col_initials = read_initials(initials) if initials else ""
    if col_initials and not (g_initials and g_initials.startswith(col_initials)):
        out_initials = col_initials
    else:
        out_initials = g_initials or other_initials
    out_given = g_given or ("" if g_initials else other_given)

    out_prefix = _merge_prefix(read_prefix(prefix), found_prefix) if prefix else found_prefix
    return _person(out_given, out_initials, " ".join(out_prefix), tuple(cores[:2]))


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
    if full and not (given or initials or prefix or surname):
        # The full-name column of check-dataset: _normalise with the other fields empty.
        s = _parse_fold(full)
        f_given, f_initials, f_prefix, cores = _fast_full(s) or _parse_full(s)
        if not cores:
            return None
        surnames = (cores[0],) if len(cores) == 1 else (cores[0], cores[1])
        return _person(f_given, f_initials, " ".join(f_prefix), surnames)
    return _normalise(given, initials, prefix, surname, full, _FAST)


def _normalise_general(
    *,
    given: str | None = None,
    initials: str | None = None,
    prefix: str | None = None,
    surname: str | None = None,
    full: str | None = None,
) -> PersonName | None:
    """:func:`normalise_name` through the general parser only: the fast paths' reference."""
    return _normalise(given, initials, prefix, surname, full, _GENERAL)
