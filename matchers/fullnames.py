"""Full-name columns read a whole Arrow array at a time: check-dataset's hot path.

:func:`matchers.names.normalise_name` reads one string in about 10 µs, and a leaked list of
half a million people holds nearly as many distinct full names. Most are a few words —
given names, tussenvoegsels, voorletters, a surname, a compound ("Jansen-Bakker"), perhaps
"Surname, Given" — and how ``normalise_name`` reads such a name depends only on the *shape*
of its words (name, tussenvoegsel, initial, consonant run, compound, comma) and their
positions, never on their letters. So each shape is read once, by ``normalise_name``
itself, on a stand-in name of that shape whose words can be traced in the result: which
word is the first given name, which gives the first initial, which are the surname cores.
That template is then applied to every name of the shape with numpy gathers.

Only names that ``normalise_name`` reads through its fast path without rewriting them take
this path: text that folds to letters, spaces, commas, dotted voorletters, free-standing
"'t"/"'s" and compounds of name-like pieces; no parentheses, titles, "e.v.", "v.d.",
longer dotted words or hyphens next to tussenvoegsels. The rest (about 3% of a dump) is
handed back for ``normalise_name``. ``tests/test_fullnames.py`` checks that both give the
same on generated names, the synthetic generator's names and every shape of up to six words.

Words and the texts taken from them get integer ids that stay valid across batches (so a
caller can keep per-text encodings); :meth:`FullNameParser.reset` drops them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matchers import names
from matchers.names import normalise_name

__all__ = ["FullNameParser", "ParsedNames"]

# Word kinds in a shape (3 bits each): the parser's own four, then ours.
_W, _P, _I, _C = names._W, names._P, names._I, names._C
_SEP = 4  # a comma
_HW = 5  # compound with a name piece ("jansen-bakker"): a name chunk
_HI = 6  # compound of consonant runs only ("jp-th"): an initials chunk
_T = 7  # the word 't': a tussenvoegsel after van/in/op/..., else an initial (resolved per row)
_BAD = 8  # a word this path leaves to normalise_name (title, odd hyphen or apostrophe)
_HP = 9  # a hyphenated word ending in a tussenvoegsel ("aalts-van"): binds what follows
_MAX_WORDS = 20  # 3 bits a word and a length mark in 64 bits
_MAX_TEMPLATES = 1 << 16  # shapes remembered (real dumps hold a few hundred)

# What the parser reads from a word: its whole text (for a compound, the pieces joined: the
# given name "jan-willem" is 'janwillem'), its first piece, its second piece.
_JOINED, _PIECE0, _PIECE1 = 0, 1, 2

# ASCII folding exactly as names._parse_fold does it (bytes >= 128 are never used).
_FOLD = names._PARSE_BYTES


@dataclass
class ParsedNames:
    """Per value: what :func:`normalise_name` would give, as ids into the parser's texts
    (0 = ''); rows in ``fallback`` are not filled in and must be read by normalise_name."""

    fallback: np.ndarray  # int64 indices of the values left to normalise_name
    found: np.ndarray  # bool: a surname was found (normalise_name gives a PersonName)
    given: np.ndarray  # int64 text id of the first given name
    initial: np.ndarray  # int64 code point of the first initial, 0 when none
    core1: np.ndarray  # int64 text id of the first surname core
    core2: np.ndarray  # int64 text id of the second surname core


@dataclass(frozen=True)
class _Template:
    found: bool
    given: tuple[int, int]  # (word position, _JOINED/_PIECE0/_PIECE1); position -1: none
    initial: int  # word position of the first initial; -1: none
    core1: tuple[int, int]
    core2: tuple[int, int]


_NONE = (-1, _JOINED)
_NOTHING = _Template(False, _NONE, -1, _NONE, _NONE)


# -- stand-in names -----------------------------------------------------------------------

# Tussenvoegsels with distinct first letters, and letters for the other words, so that
# every word and every first letter of a stand-in name is its own.
_STAND_IN_PREFIXES = ("van", "de", "het", "te", "in", "op", "uit", "aan", "bij", "la", "zum", "el")
_CONSONANTS = "bcdfghjklmnpqrsvwxz"  # no 't' (a word of its own) and no 'y' (a vowel here)
_LETTERS = "aeiouy" + _CONSONANTS


def _stand_in(kinds: list[int]) -> tuple[str, list[tuple[str, ...]]] | None:
    """A name of the given shape and each word's pieces; ``None`` when there are not
    enough distinct letters for it."""
    prefixes = iter(_STAND_IN_PREFIXES)
    words: list[tuple[str, ...] | None] = [None] * len(kinds)
    used: set[str] = set()
    for j, k in enumerate(kinds):
        if k == _P:
            w = next(prefixes, None)
            if w is None:
                return None
            words[j] = (w,)
            used.add(w[0])
    consonants = [c for c in _CONSONANTS if c not in used]
    for j, k in enumerate(kinds):  # consonant runs first: they need consonants
        n = {_C: 1, _HI: 2}.get(k, 0)
        if n:
            if len(consonants) < n:
                return None
            words[j] = tuple(consonants.pop(0) + "xx" for _ in range(n))
            used.update(p[0] for p in words[j])  # type: ignore[union-attr]
    letters = [c for c in _LETTERS if c not in used]
    for j, k in enumerate(kinds):
        n = {_W: 1, _I: 1, _HW: 2}.get(k, 0)
        if n:
            if len(letters) < n:
                return None
            picked = [letters.pop(0) for _ in range(n)]
            words[j] = (picked[0],) if k == _I else tuple(c + "aa" for c in picked)
        elif k == _SEP:
            words[j] = (",",)
    text = " ".join("-".join(w) for w in words if w is not None)
    return text, [w if w is not None else () for w in words]


def _template(kinds: list[int]) -> _Template | None:
    """How normalise_name reads names of this shape; ``None`` when a template cannot
    say it (the names go to normalise_name one by one)."""
    made = _stand_in(kinds)
    if made is None:
        return None
    text, pieces = made
    # The stand-in's words must be of the kinds they stand in for.
    for k, p in zip(kinds, pieces, strict=True):
        if k != _SEP and _kind_of("-".join(p))[0] != k:
            return None
    pn = normalise_name(full=text)
    if pn is None:
        return _NOTHING

    def find(value: str, sels: tuple[int, ...]) -> tuple[int, int] | None:
        if not value:
            return _NONE
        hits = [
            (j, sel)
            for j, p in enumerate(pieces)
            for sel in sels
            if p and (("".join(p) if sel == _JOINED else p[sel - 1] if len(p) >= sel else None)
                      == value)
        ]
        return hits[0] if len(hits) == 1 else None

    given = find(pn.given, (_JOINED,))
    initial = -1
    if pn.initials:
        firsts = [j for j, p in enumerate(pieces) if p and p[0][0] == pn.initials[0]]
        if len(firsts) != 1 or kinds[firsts[0]] == _SEP:
            return None
        initial = firsts[0]
    cores = [find(c, (_PIECE0, _PIECE1)) for c in pn.surnames]
    if given is None or any(c is None for c in cores) or not cores:
        return None
    core1 = cores[0]
    core2 = cores[1] if len(cores) > 1 else _NONE
    return _Template(True, given, initial, core1, core2)  # type: ignore[arg-type]


def _kind_of(word: str) -> tuple[int, str, str, str]:
    """A word's kind, and the texts the parser reads from it (joined, piece 0, piece 1),
    as names._fast_chunks and names._fast_hyphen_chunks classify words."""
    if word == ",":
        return _SEP, "", "", ""
    if " " in word:
        return _group(word.split(" "))
    if "-" in word:
        pieces = word.split("-")
        if "" in pieces or "'" in word:
            return _BAD, "", "", ""
        kinds = [names._KINDS[p] for p in pieces]
        if all(k in (_W, _C) for k in kinds):
            return (_HW if _W in kinds else _HI), "".join(pieces), pieces[0], pieces[1]
        if any(k not in (_W, _C, _P) for k in kinds):
            return _BAD, "", "", ""
        if kinds[-1] == _P:  # binds the words after it: see FullNameParser._bind
            return _HP, "", "", ""
        return _group([word])
    if "'" in word:
        if word in names._APOS_PREFIXES:
            return _P, word[1:], word[1:], ""
        return _BAD, "", "", ""
    k = names._KINDS[word]
    if k == names._TITLE:
        return _BAD, "", "", ""
    if k == names._T:
        return _T, word, word, ""
    return k, word, word, ""


def _group(words: list[str]) -> tuple[int, str, str, str]:
    """A hyphenated word with tussenvoegsel pieces, and the words a trailing tussenvoegsel
    binds to it ("aalts-van der kerkhof", "jansen-de-vries"): one chunk of atoms to the fast
    path, read as a compound when it holds two surname cores (_split_core)."""
    atoms: list[list] = []
    for j, w in enumerate(words):
        for k, piece in enumerate(w.split("-")):
            text = piece[1:] if piece in names._APOS_PREFIXES else piece
            atoms.append([text, False, j == 0 and k > 0, names._KINDS[piece]])
    _, cores = names._split_core(atoms)
    if len(cores) < 2:
        return _BAD, "", "", ""
    return _HW, "".join(a[0] for a in atoms), cores[0], cores[1]


# -- the parser ----------------------------------------------------------------------------


class FullNameParser:
    """Reads full-name columns; keeps word and text ids, and templates, across batches."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every word and text (ids start again from 1)."""
        self.texts: list[str] = [""]
        self._text_ids: dict[str, int] = {"": 0}
        self._word_ids: dict[str, int] = {}
        self._word_texts: list[str] = []
        # Per word id: kind, first letter's code point, text ids (joined, piece 0, piece 1),
        # and whether a following 't' is a tussenvoegsel.
        self._arrays: tuple[np.ndarray, ...] = (
            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
            np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=bool),
        )  # fmt: skip
        self._templates: dict[int, _Template | None] = {}

    @property
    def words(self) -> int:
        return len(self._word_ids)

    def text_id(self, s: str) -> int:
        """The id of a text (a new one for a text not seen before)."""
        tid = self._text_ids.get(s)
        if tid is None:
            tid = self._text_ids[s] = len(self.texts)
            self.texts.append(s)
        return tid

    def _word_ids_of(self, words: list[str]) -> np.ndarray:
        ids = self._word_ids
        out = [ids.get(w, -1) for w in words]
        if -1 in out:
            first = len(self._word_texts)
            info: list[tuple[int, int, int, int, int, int]] = []
            text_id, kinds = self.text_id, names._KINDS
            for i, w in enumerate(words):
                if out[i] != -1:
                    continue
                if w in ids:  # twice in the list
                    out[i] = ids[w]
                    continue
                out[i] = ids[w] = first + len(info)
                self._word_texts.append(w)
                if w.isalpha():  # a plain word (letters a-z): its own text, as _kind_of says
                    k = kinds[w]
                    k = _BAD if k == names._TITLE else _T if k == names._T else k
                    tid = text_id(w)
                    info.append((k, ord(w[0]), tid, tid, 0, w in names._BEFORE_T))
                    continue
                kind, joined, p0, p1 = _kind_of(w)
                info.append((kind, ord(joined[0]) if joined else 0, text_id(joined),
                             text_id(p0), text_id(p1), 0))  # fmt: skip
            self._append_words(info)
        return np.asarray(out, dtype=np.int64)

    def _append_words(self, info: list[tuple[int, int, int, int, int, int]]) -> None:
        """Add new words' kind, first letter, text ids (joined, piece 0, piece 1) and
        before-'t' flag to the per-word arrays."""
        new = np.asarray(info, dtype=np.int64).reshape(-1, 6)
        kind, first, texts, before_t = self._arrays
        self._arrays = (
            np.concatenate([kind, new[:, 0]]),
            np.concatenate([first, new[:, 1]]),
            np.concatenate([texts, new[:, 2:5]]),
            np.concatenate([before_t, new[:, 5].astype(bool)]),
        )

    def _word_arrays(self) -> tuple[np.ndarray, ...]:
        """kind, first letter, text ids (joined, piece 0, piece 1: one (n, 3) array) and
        before-'t' per word id."""
        return self._arrays

    def _bind(
        self, word: np.ndarray, kinds: np.ndarray, row: np.ndarray, lens: np.ndarray,
        bad: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Join each word ending in a tussenvoegsel piece ("aalts-van") with the
        tussenvoegsels after it and the name that closes them ("der kerkhof") into one
        word, as names._fast_hyphen_chunks groups them; a value where no plain name closes
        the group (end of value or part, an initial, another compound) is left to
        normalise_name."""
        total = word.size
        hp = np.flatnonzero(kinds == _HP)
        end = np.full(hp.size, -1)
        active = np.ones(hp.size, dtype=bool)
        for step in range(1, 8):
            j = np.minimum(hp + step, total - 1)
            inside = active & (hp + step < total) & (row.take(j) == row.take(hp))
            k = kinds.take(j)
            closes = inside & ((k == _W) | (k == _C))
            end[closes] = hp[closes] + step
            active = inside & (k == _P)
        ok = end >= 0
        bad = bad.copy()
        bad[row.take(hp[~ok])] = True
        first, last = hp[ok], end[ok]
        texts = self._word_texts
        joined = [" ".join(texts[w] for w in word[a : b + 1].tolist())
                  for a, b in zip(first.tolist(), last.tolist(), strict=True)]  # fmt: skip
        word = word.copy()
        word[first] = self._word_ids_of(joined)
        span = last - first
        drop = np.repeat(first + 1 - (np.cumsum(span) - span), span) + np.arange(span.sum())
        keep = np.ones(total, dtype=bool)
        keep[drop] = False
        return word[keep], lens - np.bincount(row.take(drop), minlength=lens.size), bad

    def _template_of(self, code: int) -> _Template | None:
        if code not in self._templates:
            if len(self._templates) >= _MAX_TEMPLATES:  # a hostile dump of odd shapes
                self._templates.clear()
            n = (int(code).bit_length() - 1) // 3
            kinds = [(int(code) >> (3 * j)) & 7 for j in range(n)]
            self._templates[code] = _template(kinds)
        return self._templates[code]

    def parse(self, values: pa.Array) -> ParsedNames:
        """Read every value of a string array (nulls as '')."""
        n = len(values)
        words, lens, bad = _words(pc.fill_null(values, ""))
        flat = pc.dictionary_encode(words)
        local = self._word_ids_of(flat.dictionary.to_pylist())
        word = local.take(flat.indices.to_numpy(zero_copy_only=False))
        kind_of, first_of, texts_of, before_t = self._word_arrays()
        kinds = kind_of.take(word)
        row = np.repeat(np.arange(n), lens)
        if (kinds == _HP).any():
            word, lens, bad = self._bind(word, kinds, row, lens, bad)
            kind_of, first_of, texts_of, before_t = self._word_arrays()
            kinds = kind_of.take(word)
            row = np.repeat(np.arange(n), lens)
        start = np.cumsum(lens) - lens
        pos = np.arange(word.size) - start.take(row)
        # 't' is a tussenvoegsel right after van/in/op/... (in the same comma part), else
        # an initial.
        is_t = np.flatnonzero(kinds == _T)
        if is_t.size:
            after = (pos.take(is_t) > 0) & before_t.take(word.take(np.maximum(is_t - 1, 0)))
            kinds[is_t] = np.where(after, _P, _I)
        bad |= lens > _MAX_WORDS
        odd = np.flatnonzero(kinds == _BAD)
        if odd.size:
            bad[row.take(odd)] = True
        # The shape of each value: 3 bits a word, a 1 above the last.
        shift = (3 * np.minimum(pos, _MAX_WORDS)).astype(np.uint64)
        bits = np.where(pos < _MAX_WORDS, kinds.astype(np.uint64) << shift, np.uint64(0))
        total = np.concatenate([np.zeros(1, dtype=np.uint64), np.cumsum(bits, dtype=np.uint64)])
        ends = np.cumsum(lens)
        code = total.take(ends) - total.take(start)  # wraps around; exact modulo 2**64
        code |= np.uint64(1) << (3 * np.minimum(lens, _MAX_WORDS)).astype(np.uint64)

        shapes, which = np.unique(np.where(bad, np.uint64(0), code), return_inverse=True)
        table = np.full((shapes.size, 8), -1, dtype=np.int64)  # found, 3 x (pos, sel), ini
        for i, c in enumerate(shapes.tolist()):
            t = self._template_of(c) if c else None
            if t is not None:
                table[i] = (t.found, *t.given, *t.core1, *t.core2, t.initial)
        per_row = table.take(which, axis=0)
        found = per_row[:, 0] == 1
        out = ParsedNames(
            fallback=np.flatnonzero(per_row[:, 0] < 0),
            found=found,
            given=np.zeros(n, dtype=np.int64),
            initial=np.zeros(n, dtype=np.int64),
            core1=np.zeros(n, dtype=np.int64),
            core2=np.zeros(n, dtype=np.int64),
        )
        for col, target in ((1, out.given), (3, out.core1), (5, out.core2)):
            at = per_row[:, col]
            r = np.flatnonzero(found & (at >= 0))
            w = word.take(start.take(r) + at.take(r))
            target[r] = texts_of.take(w * 3 + per_row[:, col + 1].take(r))
        at = per_row[:, 7]
        r = np.flatnonzero(found & (at >= 0))
        out.initial[r] = first_of.take(word.take(start.take(r) + at.take(r)))
        return out


def _buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of a string array's values, back to back, and where each value starts
    (n + 1 offsets, from 0)."""
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset :][: n + 1]
    data = values.buffers()[2]
    lo, hi = int(offsets[0]), int(offsets[-1])
    raw = np.frombuffer(data, dtype=np.uint8)[lo:hi] if data is not None and hi > lo else None
    return (raw if raw is not None else np.zeros(0, dtype=np.uint8)), (offsets - lo).astype(
        np.int64
    )


def _values_at(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The value each byte position belongs to."""
    return np.searchsorted(offsets, positions, side="right") - 1


def _per_value(flags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Whether any byte of each value is flagged (flags are rare: found, then placed)."""
    out = np.zeros(offsets.size - 1, dtype=bool)
    out[_values_at(np.flatnonzero(flags), offsets)] = True
    return out


_SP, _DOT, _HY, _COMMA, _APOS = (ord(c) for c in " .-,'")


def _is_letter(f: np.ndarray) -> np.ndarray:
    return (f >= ord("a")) & (f <= ord("z"))


_VD_WORD = re.compile(r"(?:^|[ ,])\.*v\.*d\.*(?:$|[ ,])")


def _has_vd_word(text: str) -> bool:
    """A word "v.d." (or "vd." ...): the fast path reads it as "van der" when the part
    holds "v.", as an initial and a consonant run otherwise; left to normalise_name."""
    return _VD_WORD.search(text) is not None




def _words(values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """names._parse_fold of every value split into words (dots of voorletters are
    spaces, a comma is a word of its own): the words of all values in order, how many
    each value has, and which values this path leaves to normalise_name.

    ASCII text is folded with one byte table over the whole buffer, other text per
    distinct character (:func:`_fold_chars`). A value is left to normalise_name where
    _parse_fold would rewrite it beyond the table (parentheses, spouse "e.v.", spaces
    around hyphens, apostrophes other than a free-standing 't/'s), or where the fast
    path's reading depends on more than its words: a dotted piece of two letters, a
    hyphen and a dot in one word, "v.d." beside other dots.
    """
    n = len(values)
    values = values.cast(pa.string())
    raw, offsets = _buffers(values)
    bad = _per_value(raw == ord("("), offsets)
    other = np.flatnonzero(_per_value(raw >= 0x80, offsets))
    folded = pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(raw.tobytes().translate(_FOLD))
    )
    if other.size:
        texts, odd = _fold_chars(values.take(pa.array(other)).to_pylist())
        mask = np.zeros(n, dtype=bool)
        mask[other] = True
        folded = pc.replace_with_mask(folded, pa.array(mask), texts)
        bad[other[odd]] = True
    f, offsets = _buffers(folded)
    size = f.size
    if size == 0:
        return pa.array([], pa.string()), np.zeros(n, dtype=np.int64), bad
    starts = np.zeros(size + 1, dtype=bool)  # a value starts here (and one past the end)
    starts[offsets] = True
    nxt = ~starts[1:]  # the next byte is in the same value ...
    nxt[-1] = False
    prv = ~starts[:-1]  # ... and the previous one
    letter, dot, hyphen, space = _is_letter(f), f == _DOT, f == _HY, f == _SP
    word = letter | hyphen | (f == _APOS)
    comma = f == _COMMA
    # Where the text is no value of names' fold table, or would be rewritten, or read
    # in a way its words alone do not say.
    flags = ~(word | space | comma | dot)
    l2 = letter[:-1] & letter[1:] & nxt[:-1]  # two letters of one value from here
    flags[2:] |= dot[2:] & l2[:-1] & prv[2:]  # [a-z]{2}\.
    flags[:-2] |= dot[:-2] & l2[1:] & nxt[:-2]  # \.[a-z]{2}
    flags |= hyphen & ~(prv & nxt)  # ^- and -$
    flags[:-1] |= hyphen[:-1] & (space[1:] | hyphen[1:]) & nxt[:-1]  # "- ", "--"
    flags[1:] |= hyphen[1:] & space[:-1] & prv[1:]  # " -"
    flags[:-2] |= (f[:-2] == ord("e")) & dot[1:-1] & (f[2:] == ord("v")) & nxt[:-2] & nxt[1:-1]
    # An apostrophe other than in a free-standing "'t" or "'s": _parse_fold may move it.
    at = np.flatnonzero(f == _APOS)
    if at.size:
        after = np.minimum(at + 1, size - 1)
        beyond = np.minimum(at + 2, size - 1)
        free = (
            (~prv.take(at) | space.take(at - 1))
            & nxt.take(at)
            & ((f.take(after) == ord("s")) | (f.take(after) == ord("t")))
            & (~nxt.take(after) | space.take(beyond))
        )
        flags[at[~free]] = True
    bad |= _per_value(flags, offsets)
    # A hyphen and a dot in one run of non-spaces (runs start at a value's start too).
    if hyphen.any() and dot.any():
        solid = ~space
        runs = np.flatnonzero(solid & ~(np.concatenate([[False], solid[:-1]]) & prv))
        has_hyphen = np.zeros(runs.size, dtype=bool)
        has_hyphen[np.searchsorted(runs, np.flatnonzero(hyphen), "right") - 1] = True
        has_dot = np.zeros(runs.size, dtype=bool)
        has_dot[np.searchsorted(runs, np.flatnonzero(dot), "right") - 1] = True
        bad[_values_at(runs[has_hyphen & has_dot], offsets)] = True
    # "v.d." beside another "v.": one value at a time (rare).
    v_dot = np.zeros(size, dtype=bool)
    v_dot[:-1] = (f[:-1] == ord("v")) & dot[1:] & nxt[:-1]
    rows = np.flatnonzero(_per_value(v_dot, offsets) & ~bad)
    if rows.size:
        bad[rows] = [_has_vd_word(t) for t in folded.take(pa.array(rows)).to_pylist()]
    # Words: runs of letters, apostrophes and hyphens within a value, and each comma.
    word_before = np.concatenate([[False], word[:-1]]) & prv
    word_after = np.concatenate([word[1:], [False]]) & nxt
    at = np.flatnonzero(comma | (word & ~word_before))
    ends = np.flatnonzero(comma | (word & ~word_after))
    word_offsets = np.zeros(at.size + 1, dtype=np.int64)
    np.cumsum(ends - at + 1, out=word_offsets[1:])
    words = pa.StringArray.from_buffers(
        at.size, pa.py_buffer(word_offsets.astype(np.int32)), pa.py_buffer(f[word | comma])
    )
    lens = np.diff(np.searchsorted(at, offsets)).astype(np.int64)
    return words, lens, bad


_ASCII_FOLDED = np.frombuffer(names._PARSE_BYTES[:128], dtype=np.uint8)
_CHAR_FOLDS: dict[int, str] = {}  # non-ASCII code point -> its fold (a few hundred at most)


def _fold_char(cp: int) -> str:
    out = _CHAR_FOLDS.get(cp)
    if out is None:
        out = chr(cp).casefold().translate(names._PARSE_TABLE)
        if len(_CHAR_FOLDS) < 8192:
            _CHAR_FOLDS[cp] = out
    return out


def _fold_chars(texts: list[str]) -> tuple[pa.Array, np.ndarray]:
    """The fold of names._parse_fold for non-empty non-ASCII texts, character by character
    (casefolding and the fold table both map each character on its own), with one Python
    step per distinct non-ASCII character; and which texts hold a character that does not
    fold to ASCII. The regular-expression rewrites of _parse_fold are left out: the caller
    sends every text they would change to normalise_name."""
    counts = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    chars = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    high = chars >= 128
    distinct = np.unique(chars[high])
    outs = [_fold_char(c) for c in distinct.tolist()]
    odd_char = np.fromiter((not o.isascii() for o in outs), dtype=bool, count=len(outs))
    # Symbols: the 128 ASCII characters (one byte each), then the distinct others.
    sym_len = np.concatenate([np.ones(128, dtype=np.int64),
                              np.fromiter(map(len, outs), dtype=np.int64, count=len(outs))])
    sym_bytes = np.concatenate([_ASCII_FOLDED, np.frombuffer(
        "".join(outs).encode("ascii", "replace"), dtype=np.uint8)])
    sym_off = np.cumsum(sym_len) - sym_len
    sym = chars.astype(np.int64)
    sym[high] = 128 + np.searchsorted(distinct, chars[high])
    lens = sym_len.take(sym)
    src = np.repeat(sym_off.take(sym) - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
    starts = np.cumsum(counts) - counts
    text_lens = np.add.reduceat(lens, starts)
    offsets = np.zeros(len(texts) + 1, dtype=np.int32)
    np.cumsum(text_lens, out=offsets[1:])
    folded = pa.StringArray.from_buffers(
        len(texts), pa.py_buffer(offsets), pa.py_buffer(sym_bytes.take(src) if src.size else b"")
    )
    odd = np.zeros(len(texts), dtype=bool)
    if odd_char.any():
        bad_at = np.flatnonzero(high)[odd_char.take(sym[high] - 128)]
        odd[np.searchsorted(starts, bad_at, "right") - 1] = True
    return folded, odd
