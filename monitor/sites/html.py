"""HTML listings and detail pages read with CSS selectors (beautifulsoup4 + soupsieve).

Pages come from criminals and may be built to hurt the parser, so a page is bounded before
and while it is parsed: at most ``max_page_bytes`` bytes and :data:`MAX_TAGS` tags are
parsed, elements nested deeper than :data:`MAX_DEPTH` are dropped (their text kept), at most
:data:`MAX_POSTS` posts are read, and every value is cut by :mod:`monitor.sites.text`.
Whatever is cut shows up as a warning. ``html.parser`` is used: through beautifulsoup4 it is as
fast as lxml (tree building dominates; measured in ``bench/sites_parse.py``), so lxml would
be a compiled dependency for nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bs4 import BeautifulSoup, Tag

from monitor.sites.blocked import gate_reason
from monitor.sites.fields import FieldCounts
from monitor.sites.model import (
    Detail,
    Extract,
    HtmlDetailSpec,
    HtmlParserSpec,
    Listing,
    ParsedPost,
    Site,
)
from monitor.sites.pages import page_number_url
from monitor.sites.text import MAX_DESCRIPTION, MAX_FIELD, absolute_url, clean_text, decode_body

__all__ = [
    "MAX_DEPTH", "MAX_POSTS", "MAX_TAGS", "extract", "load_page", "parse_html_detail",
    "parse_html_listing",
]

MAX_TAGS = 40_000   # a large real listing has a few thousand
MAX_DEPTH = 128     # real pages nest < 40 deep; bounds soupsieve's ancestor walks
MAX_POSTS = 1000
MAX_FILES = 500
_TAG_START = re.compile(rb"<[A-Za-z!/?]")
_URL_ATTRS = ("href", "src", "data-href", "data-url", "data-link")
_FIELDS = ("victim", "title", "link", "published", "deadline", "description", "files")


class _BoundedSoup(BeautifulSoup):
    """A BeautifulSoup whose tree is at most :data:`MAX_DEPTH` elements deep.

    Deeper start tags are dropped (and their end tags swallowed) while their text is kept,
    so a hostile page of 40,000 nested ``<div>`` cannot make each selector walk 40,000
    ancestors per element.
    """

    def reset(self) -> None:
        super().reset()
        self._dropped: Counter[str] = Counter()
        self.depth_cut = False

    def handle_starttag(self, name: str, namespace: Any, nsprefix: Any, attrs: Any,
                        *args: Any, **kwargs: Any) -> Tag | None:
        if len(self.tagStack) > MAX_DEPTH:
            self.depth_cut = True
            if name.lower() not in self.builder.empty_element_tags:
                self._dropped[name] += 1
            return None
        return super().handle_starttag(name, namespace, nsprefix, attrs, *args, **kwargs)

    def handle_endtag(self, name: str, nsprefix: Any = None) -> None:
        if self._dropped[name] > 0:
            self._dropped[name] -= 1
            return
        super().handle_endtag(name, nsprefix)


@dataclass
class _Page:
    soup: BeautifulSoup
    warnings: list[str] = field(default_factory=list)


def load_page(body: bytes, content_type: str | None, max_bytes: int) -> _Page:
    """``body`` parsed within the limits, with a warning for each limit it hit."""
    warnings = []
    if len(body) > max_bytes:
        warnings.append(f"page cut at max_page_bytes ({max_bytes:,} of {len(body):,} bytes)")
        body = body[:max_bytes]
    if body.count(b"<") > MAX_TAGS:
        for n, m in enumerate(_TAG_START.finditer(body), 1):
            if n > MAX_TAGS:
                warnings.append(f"page cut after {MAX_TAGS:,} tags")
                body = body[: m.start()]
                break
    soup = _BoundedSoup(decode_body(body, content_type), "html.parser")
    if soup.depth_cut:
        warnings.append(f"elements nested deeper than {MAX_DEPTH} were flattened")
    return _Page(soup, warnings)


def _text(tag: Tag, limit: int) -> str:
    return clean_text(tag.get_text(" "), limit)


def _attr(tag: Tag, name: str) -> str | None:
    value = tag.get(name)
    if isinstance(value, list):  # class, rel: multi-valued
        value = " ".join(value)
    return value


def _value(tag: Tag, ex: Extract, kind: str, limit: int) -> str | None:
    if ex.attr:
        return _attr(tag, ex.attr)
    if kind == "url":
        for name in _URL_ATTRS:
            if value := _attr(tag, name):
                return value
        return _text(tag, limit)
    if kind == "date" and (value := _attr(tag, "datetime")):
        return value
    return _text(tag, limit)


def _apply_regex(ex: Extract, value: str, many: bool) -> list[str]:
    pattern = ex.pattern
    if pattern is None:
        return [value]
    found = []
    for m in pattern.finditer(value[:MAX_DESCRIPTION]):
        found.append(m.group(1) if pattern.groups else m.group(0))
        if not many:
            break
    return found


def extract(scope: Tag, ex: Extract, kind: str = "text", many: bool = False,
            limit: int = MAX_FIELD) -> list[str]:
    """The values ``ex`` finds under ``scope``: the first non-empty one, or all (``many``).

    ``kind`` is ``"text"``, ``"url"`` (``href``/``src`` before the text) or ``"date"``
    (``datetime`` before the text). Values are raw (not yet normalised or resolved).
    """
    css = ex.css
    if css is None:
        targets = [scope]
    elif many or ex.pattern is not None:
        targets = css.select(scope, limit=MAX_FILES if many else 50)
    else:
        one = css.select_one(scope)
        targets = [one] if one is not None else []
    values: list[str] = []
    for target in targets:
        value = _value(target, ex, kind, limit)
        if not value:
            continue
        for v in _apply_regex(ex, value, many):
            if v.strip():
                values.append(v)
                if not many:
                    return values
    return values


class _Fields(FieldCounts):
    """Reads the configured fields of one scope and counts what was missing (warnings)."""

    def text(self, scope: Tag, name: str, ex: Extract | None, raw: dict[str, str],
             limit: int = MAX_FIELD) -> str:
        if ex is None:
            return ""
        many = name == "description"
        values = extract(scope, ex, "text", many=many, limit=limit)
        value = "\n".join(clean_text(v, limit) for v in values)[:limit]
        if not value:
            self.missing[name] += 1
        else:
            raw[name] = value[:300]
        return value

    def url_of(self, scope: Tag, name: str, ex: Extract | None, raw: dict[str, str]) -> str | None:
        if ex is None:
            return None
        for value in extract(scope, ex, "url"):
            raw[name] = value[:300]
            if url := absolute_url(self.url, value):
                return url
        self.missing[name] += 1
        return None

    def files(self, scope: Tag, ex: Extract | None, raw: dict[str, str]) -> tuple[str, ...]:
        if ex is None:
            return ()
        urls = [u for v in extract(scope, ex, "url", many=True) if (u := absolute_url(self.url, v))]
        files = tuple(dict.fromkeys(urls))[:MAX_FILES]
        if not files:
            self.missing["files"] += 1
        else:
            raw["files"] = f"{len(files)} link(s)"
        return files

    def date(self, scope: Tag, name: str, ex: Extract | None, raw: dict[str, str],
             future: bool) -> tuple[datetime | None, str | None]:
        if ex is None:
            return None, None
        values = extract(scope, ex, "date")
        if not values:
            self.missing[name] += 1
            return None, None
        return self.dated(name, clean_text(values[0], MAX_FIELD), raw, future)


def _specs(spec: HtmlParserSpec | HtmlDetailSpec) -> dict[str, Extract | None]:
    return {name: getattr(spec, name, None) for name in _FIELDS}


def parse_html_listing(site: Site, spec: HtmlParserSpec, body: bytes, url: str,
                       content_type: str | None, now: datetime) -> Listing:
    """One listing page: posts, the next page's URL, and ``ok``/``empty``/``blocked``."""
    page = load_page(body, content_type, site.max_page_bytes)
    containers = spec.post_css.select(page.soup, limit=MAX_POSTS + 1)
    warnings = page.warnings
    if len(containers) > MAX_POSTS:
        warnings.append(f"only the first {MAX_POSTS} posts of the page were read")
        containers = containers[:MAX_POSTS]
    fields = _Fields(url, now, spec.date_order)
    posts = []
    for container in containers:
        raw: dict[str, str] = {}
        victim = fields.text(container, "victim", spec.victim, raw)
        title = fields.text(container, "title", spec.title, raw)
        link = fields.url_of(container, "link", spec.link, raw)
        description = fields.text(container, "description", spec.description, raw,
                                  MAX_DESCRIPTION)
        files = fields.files(container, spec.files, raw)
        published, published_raw = fields.date(container, "published", spec.published, raw,
                                                future=False)
        deadline, deadline_raw = fields.date(container, "deadline", spec.deadline, raw,
                                             future=True)
        if not (victim or title or link):
            continue  # a container with nothing in it: a layout spacer, not a post
        posts.append(ParsedPost(victim, title, link, published, published_raw, deadline,
                                deadline_raw, description, files, raw))
    skipped = len(containers) - len(posts)
    if skipped:
        warnings.append(f"{skipped} element(s) matched by 'post' had no victim, title or link")
    warnings += fields.warnings(_specs(spec), len(containers), "posts") if containers else []
    if not posts:
        text = clean_text(page.soup.get_text(" "), 50_000)
        reason = gate_reason(page.soup, text, site.blocked_text)
        if reason:
            return Listing("blocked", reason=reason, warnings=tuple(warnings), url=url)
        warnings.append(f"selector 'post' ({spec.post}) matched no post on this page")
        return Listing("empty", warnings=tuple(warnings), url=url)
    return Listing("ok", tuple(posts), _next_url(spec, page.soup, url, fields), None,
                   tuple(warnings), url)


def _next_url(spec: HtmlParserSpec, soup: BeautifulSoup, url: str, fields: _Fields) -> str | None:
    if spec.next is not None:
        for value in extract(soup, spec.next, "url"):
            nxt = absolute_url(url, value)
            if nxt and nxt != url:
                return nxt
        return None
    if spec.page_url:
        return page_number_url(spec.page_url, url, spec.first_page)
    return None


def parse_html_detail(site: Site, spec: HtmlDetailSpec, body: bytes, url: str,
                      content_type: str | None, now: datetime) -> Detail:
    """A post's own page read with the ``detail`` selectors (relative to the document)."""
    page = load_page(body, content_type, site.max_page_bytes)
    order = site.parser.date_order if isinstance(site.parser, HtmlParserSpec) else "dmy"
    fields = _Fields(url, now, order)
    root = page.soup
    raw: dict[str, str] = {}
    victim = fields.text(root, "victim", spec.victim, raw)
    title = fields.text(root, "title", spec.title, raw)
    description = fields.text(root, "description", spec.description, raw, MAX_DESCRIPTION)
    files = fields.files(root, spec.files, raw)
    published, published_raw = fields.date(root, "published", spec.published, raw, future=False)
    deadline, deadline_raw = fields.date(root, "deadline", spec.deadline, raw, future=True)
    warnings = page.warnings + fields.warnings(_specs(spec), 1, "page")
    found = bool(victim or title or description or files or published_raw or deadline_raw)
    status = "ok"
    reason = None
    if not found:
        text = clean_text(root.get_text(" "), 50_000)
        reason = gate_reason(root, text, site.blocked_text)
        status = "blocked" if reason else "empty"
    return Detail(status, victim, title, published, published_raw, deadline, deadline_raw,
                  description, files, reason, tuple(warnings), url, raw)
