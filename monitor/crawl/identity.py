"""Is a post on this crawl one we stored before? Identity that survives site quirks.

Exact titles are a poor identity: a site re-renders a victim with an entity escaped twice,
cuts a long name with "…" on the listing but not on the detail page, fixes a typo, renames
"Clinical Diagnostics" to "Clinical Diagnostics NMDL", or our parser definition is fixed
and suddenly extracts the victim without the country suffix. A monitor that keys on the
raw title alerts again for every one of those. Here a post is the same as a stored one of
the same site when, in this order (each stored post is taken at most once):

1. its link path is the same (mirror host ignored; a renamed victim keeps its URL);
2. its folded victim/title is the same (entities, case, diacritics, punctuation ignored);
3. one folded name is a prefix of the other and the shorter was cut off, or is long
   enough not to be a coincidence (truncation);
4. the names are close by rapidfuzz (typo fixes, small renames), the publication dates, if
   both are known, agreeing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from rapidfuzz import fuzz

from monitor.textfold import fold_org, is_truncated

__all__ = ["KnownPost", "PostLike", "assign_posts", "post_key", "url_key"]

_PREFIX_MIN = 12  # a shared prefix this long is not a coincidence even without "…"
_PREFIX_MIN_CUT = 6  # ... and this long when the shorter one was visibly cut off
_FUZZY_MIN = 90.0
_BARE_PATHS = {"", "/", "/index.html", "/index.php"}


class PostLike(Protocol):
    victim: str | None
    title: str | None
    url: str | None
    published: object | None


@dataclass(frozen=True)
class KnownPost:
    """What identity needs of a stored post."""

    id: int
    key: str
    url_key: str | None
    published: str | None
    truncated: bool = False


def post_key(victim: str | None, title: str | None) -> str:
    """The folded name a post is known by: its victim, else its title."""
    return fold_org(victim) or fold_org(title)


def url_key(url: str | None) -> str | None:
    """A post link without scheme and host, so mirrors of one site agree; ``None`` for a
    link that names no post in particular (the listing itself, a bare "#")."""
    if not url:
        return None
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or "/"
    if path in _BARE_PATHS and not parts.query:
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def _published(post: PostLike) -> str | None:
    value = post.published
    if value is None:
        return None
    iso = getattr(value, "date", None)
    return str(iso()) if callable(iso) else str(value)[:10]


def _similarity(a: str, a_cut: bool, b: str, b_cut: bool) -> float:
    if not a or not b:
        return 0.0
    short, long_, short_cut = (a, b, a_cut) if len(a) <= len(b) else (b, a, b_cut)
    long_enough = len(short) >= _PREFIX_MIN or (short_cut and len(short) >= _PREFIX_MIN_CUT)
    if long_enough and long_.startswith(short):
        return 99.0
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


def assign_posts(current: Sequence[PostLike], known: Sequence[KnownPost],
                 *, threshold: float = _FUZZY_MIN) -> list[int | None]:
    """For each current post, the id of the stored post it is, or ``None`` for a new one."""
    result: list[int | None] = [None] * len(current)
    free = {k.id: k for k in known}
    by_url: dict[str, int] = {}
    by_key: dict[str, int] = {}
    for k in known:
        if k.url_key:
            by_url.setdefault(k.url_key, k.id)
        if k.key:
            by_key.setdefault(k.key, k.id)
    keys = [post_key(p.victim, p.title) for p in current]
    cuts = [is_truncated(p.victim or p.title or "") for p in current]
    for i, post in enumerate(current):
        hit = by_url.get(url_key(post.url) or "")
        if hit is not None and hit in free:
            result[i] = hit
            del free[hit]
    for i in range(len(current)):
        if result[i] is None and keys[i]:
            hit = by_key.get(keys[i])
            if hit is not None and hit in free:
                result[i] = hit
                del free[hit]
    pending = [i for i in range(len(current)) if result[i] is None and keys[i]]
    if not pending or not free:
        return result
    scored: list[tuple[float, int, int]] = []
    for i in pending:
        date = _published(current[i])
        for k in free.values():
            score = _similarity(keys[i], cuts[i], k.key, k.truncated)
            if score >= threshold and not (date and k.published and date != k.published):
                scored.append((score, i, k.id))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    for _score, i, kid in scored:
        if result[i] is None and kid in free:
            result[i] = kid
            del free[kid]
    return result
