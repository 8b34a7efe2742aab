"""Which URL to fetch: a site's first listing page on a mirror, and numbered next pages.

A ``page_url`` pattern such as ``"/page/{n}"`` or ``"?page={n}"`` is resolved against the
page just read, whose own number is found by matching the same pattern against its URL (the
first page, which usually has no number, counts as ``first_page``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from monitor.sites.model import HtmlParserSpec, JsonParserSpec, PluginParserSpec, Site
from monitor.sites.text import absolute_url

__all__ = ["current_page", "listing_url", "page_number_url"]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(re.escape(pattern).replace(re.escape("{n}"), r"(\d{1,9})"))


def current_page(pattern: str, url: str, first_page: int) -> int:
    """The page number of ``url`` under ``pattern`` (``first_page`` when it has none)."""
    parts = urlsplit(url)
    where = parts.path + ("?" + parts.query if parts.query else "")
    matches = list(_pattern_regex(pattern).finditer(where))
    m = matches[-1] if matches else None  # the last match counts
    return int(m.group(1)) if m else first_page


def page_number_url(pattern: str, url: str, first_page: int) -> str | None:
    """The URL of the page after ``url`` under ``pattern``."""
    n = current_page(pattern, url, first_page) + 1
    nxt = absolute_url(url, pattern.replace("{n}", str(n)))
    return nxt if nxt != url else None


def listing_url(site: Site, mirror: str | None = None) -> str:
    """The first listing page (HTML) or API call (JSON) of ``site`` on ``mirror``.

    ``mirror`` defaults to the site's first. A parser's ``start`` (or JSON ``api``) path is
    resolved against the mirror URL, so ``"/blog"`` replaces a mirror's path and ``"blog"``
    extends it.
    """
    base = mirror or site.mirrors[0]
    parser = site.parser
    if isinstance(parser, JsonParserSpec):
        path: str | None = parser.api.replace("{n}", str(parser.first_page))
    elif isinstance(parser, HtmlParserSpec | PluginParserSpec):
        path = parser.start
    else:  # pragma: no cover - the union is exhaustive
        path = None
    if not path:
        return base
    return absolute_url(base, path) or base
