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
_MAX_WORDS = 20  # 3 bits a word and a length mark in 64 bits

# What the parser reads from a word: its whole text (for a compound, the pieces joined: the
# given name "jan-willem" is 'janwillem'), its first piece, its second piece.
_JOINED, _PIECE0, _PIECE1 = 0, 1, 2

# Where normalise_name would rewrite the folded text (spouse "e.v.", hyphen runs), or
# reads it in a way a template cannot follow (a dotted piece of two letters, a hyphen and a
# dot in one word), or finds characters a template does not know.
_UNSUITED = r"e\.v|[a-z]{2}\.|\.[a-z]{2}|-[^ ]*\.|\.[^ ]*-| -|- |--|^-|-$|[^a-z ,.'\-]"
_VD_WORD = r"(^|[ ,])\.*v\.*d\.*($|[ ,])"  # "v.d.", read as "van der" beside other dots
_FREE_APOS = r"(^| )'[st]( |$)"

# ASCII folding exactly as names._parse_fold does it (bytes >= 128 are never used).
_FOLD = np.frombuffer(names._PARSE_BYTES, dtype=np.uint8)


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
    if "-" in word:
        pieces = word.split("-")
        if "" in pieces or "'" in word:
            return _BAD, "", "", ""
        kinds = [names._KINDS[p] for p in pieces]
        if any(k != _W and k != _C for k in kinds):
            return _BAD, "", "", ""
        return (_HW if _W in kinds else _HI), "".join(pieces), pieces[0], pieces[1]
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
        # Per word id: kind, first letter's code point, text ids (joined, piece 0, piece 1),
        # and whether a following 't' is a tussenvoegsel.
        self._word_info: list[tuple[int, int, int, int, int, bool]] = []
        self._arrays: tuple[np.ndarray, ...] = ()
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
            for i, w in enumerate(words):
                if out[i] == -1:
                    kind, joined, p0, p1 = _kind_of(w)
                    out[i] = ids[w] = len(self._word_info)
                    self._word_info.append((
                        kind, ord(joined[0]) if joined else 0, self.text_id(joined),
                        self.text_id(p0), self.text_id(p1), w in names._BEFORE_T,
                    ))  # fmt: skip
            self._arrays = ()
        return np.asarray(out, dtype=np.int64)

    def _word_arrays(self) -> tuple[np.ndarray, ...]:
        """kind, first letter, text ids (joined, piece 0, piece 1: one (n, 3) array) and
        before-'t' per word id."""
        if not self._arrays:
            info = np.asarray(self._word_info, dtype=np.int64).reshape(-1, 6)
            self._arrays = (info[:, 0], info[:, 1], np.ascontiguousarray(info[:, 2:5]),
                            info[:, 5].astype(bool))
        return self._arrays

    def _template_of(self, code: int) -> _Template | None:
        if code not in self._templates:
            n = (int(code).bit_length() - 1) // 3
            kinds = [(int(code) >> (3 * j)) & 7 for j in range(n)]
            self._templates[code] = _template(kinds)
        return self._templates[code]

    def parse(self, values: pa.Array) -> ParsedNames:
        """Read every value of a string array (nulls as '')."""
        n = len(values)
        values = pc.fill_null(values, "")
        folded, bad = _fold(values)
        # Words: dots of voorletters become spaces, a comma is a word of its own.
        spaced = pc.replace_substring(pc.replace_substring(folded, ".", " "), ",", " , ")
        lists = pc.ascii_split_whitespace(pc.ascii_trim_whitespace(spaced))
        flat = pc.list_flatten(lists)
        lens = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        empty = pc.equal(pc.binary_length(flat), 0).to_numpy(zero_copy_only=False)
        if empty.any():  # '' splits into [''] (and runs of spaces into empty words)
            lens -= np.bincount(np.repeat(np.arange(n), lens)[empty], minlength=n)
            flat = flat.filter(pa.array(~empty))
        flat = pc.dictionary_encode(flat)
        local = self._word_ids_of(flat.dictionary.to_pylist())
        word = local.take(flat.indices.to_numpy(zero_copy_only=False))
        kind_of, first_of, texts_of, before_t = self._word_arrays()
        kinds = kind_of.take(word)
        start = np.cumsum(lens) - lens
        row = np.repeat(np.arange(n), lens)
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


def _fold(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """names._parse_fold of every value, and which values this path leaves to
    normalise_name. ASCII text is folded with one byte table over the whole buffer; other
    text value by value."""
    n = len(values)
    if n == 0:
        return pa.array([], pa.string()), np.zeros(0, dtype=bool)
    values = values.cast(pa.string())
    ascii_ok = pc.string_is_ascii(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset :][: n + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if values.buffers()[2] else None
    lo, hi = int(offsets[0]), int(offsets[-1])
    mapped = _FOLD.take(data[lo:hi]) if data is not None and hi > lo else np.zeros(0, np.uint8)
    folded = pa.StringArray.from_buffers(
        n, pa.py_buffer((offsets - lo).astype(np.int32)), pa.py_buffer(mapped)
    )
    # Parentheses (nicknames, dropped before folding) stay with normalise_name.
    bad = pc.match_substring(values, "(").to_numpy(zero_copy_only=False)
    other = np.flatnonzero(~ascii_ok.to_numpy(zero_copy_only=False))
    if other.size:
        texts, odd = _fold_chars(values.take(pa.array(other)).to_pylist())
        mask = np.zeros(n, dtype=bool)
        mask[other] = True
        folded = pc.replace_with_mask(folded, pa.array(mask), texts)
        bad[other[odd]] = True
    bad |= pc.match_substring_regex(folded, _UNSUITED).to_numpy(zero_copy_only=False)
    dotted_v = pc.match_substring(folded, "v.").to_numpy(zero_copy_only=False)
    if dotted_v.any():
        bad |= dotted_v & pc.match_substring_regex(folded, _VD_WORD).to_numpy(
            zero_copy_only=False
        )
    apos = pc.count_substring(folded, "'").to_numpy(zero_copy_only=False)
    if apos.any():
        free = pc.count_substring_regex(folded, _FREE_APOS).to_numpy(zero_copy_only=False)
        bad |= apos != free
    return folded, bad


def _fold_chars(texts: list[str]) -> tuple[pa.Array, np.ndarray]:
    """The fold of names._parse_fold for non-empty non-ASCII texts, character by character
    (casefolding and the fold table both map each character on its own), with one Python
    step per distinct character; and which texts hold a character that does not fold to
    ASCII. The regular-expression rewrites of _parse_fold are left out: the caller sends
    every text they would change to normalise_name."""
    counts = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    chars = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    distinct, which = np.unique(chars, return_inverse=True)
    outs = [chr(c).casefold().translate(names._PARSE_TABLE) for c in distinct.tolist()]
    ascii_ok = np.fromiter((o.isascii() for o in outs), dtype=bool, count=len(outs))
    table = np.frombuffer("".join(outs).encode("ascii", "replace"), dtype=np.uint8)
    out_len = np.fromiter(map(len, outs), dtype=np.int64, count=len(outs))
    out_off = np.cumsum(out_len) - out_len
    lens = out_len.take(which)
    src = np.repeat(out_off.take(which) - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
    starts = np.cumsum(counts) - counts
    text_lens = np.add.reduceat(lens, starts)
    offsets = np.zeros(len(texts) + 1, dtype=np.int32)
    np.cumsum(text_lens, out=offsets[1:])
    folded = pa.StringArray.from_buffers(
        len(texts), pa.py_buffer(offsets), pa.py_buffer(table.take(src) if src.size else b"")
    )
    odd = np.add.reduceat((~ascii_ok).take(which).astype(np.int64), starts) > 0
    return folded, odd
