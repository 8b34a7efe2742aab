"""JSON APIs read with field paths (some groups serve their blog as JSON to a JS front end).

A body that is not JSON is never an exception: an HTML page where JSON was expected is a gate
(DDoS guard, login) or an error page, and garbage is reported as ``blocked`` with the reason,
so the crawler does not read it as "no posts".
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from monitor.sites.blocked import text_gate_reason
from monitor.sites.fields import FieldCounts
from monitor.sites.jsonpath import resolve, scalars
from monitor.sites.model import (
    Detail,
    JsonDetailSpec,
    JsonField,
    JsonParserSpec,
    Listing,
    ParsedPost,
    Site,
)
from monitor.sites.pages import page_number_url
from monitor.sites.text import MAX_DESCRIPTION, MAX_FIELD, absolute_url, clean_text, decode_body

__all__ = ["parse_json_detail", "parse_json_listing"]

MAX_POSTS = 1000
MAX_FILES = 500
_FIELDS = ("victim", "title", "link", "published", "deadline", "description", "files")


def _document(site: Site, body: bytes, content_type: str | None) -> tuple[Any, str | None]:
    """The decoded JSON, or (None, why not)."""
    if len(body) > site.max_page_bytes:
        return None, f"JSON response larger than max_page_bytes ({site.max_page_bytes:,})"
    text = decode_body(body, content_type).lstrip("\ufeff \t\r\n")
    if not text:
        return None, "empty response where JSON was expected"
    if text.startswith("<"):
        from monitor.sites.blocked import gate_reason
        from monitor.sites.html import load_page

        page = load_page(body, content_type, site.max_page_bytes)
        visible = clean_text(page.soup.get_text(" "), 50_000)
        reason = gate_reason(page.soup, visible, site.blocked_text)
        return None, reason or "an HTML page where JSON was expected"
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        reason = text_gate_reason("", text[:5000], site.blocked_text)
        return None, reason or f"response is not JSON ({str(exc)[:80]})"


def _values(doc: Any, spec: JsonField, many: bool) -> list[str]:
    out: list[str] = []
    for value in scalars(resolve(doc, spec.steps)):
        candidates = [value]
        if spec.pattern is not None:
            found = spec.pattern.findall(value[:MAX_DESCRIPTION])
            candidates = [f if isinstance(f, str) else f[0] for f in found]
        for v in candidates:
            if v.strip():
                out.append(v)
                if not many:
                    return out
        if len(out) >= MAX_FILES:
            break
    return out


class _Reader(FieldCounts):
    """Reads fields of JSON objects and counts what was missing (warnings)."""

    noun, found_nothing, unit = "path", "found nothing", "value"

    def text(self, doc: Any, name: str, spec: JsonField | None, raw: dict[str, str],
             limit: int = MAX_FIELD) -> str:
        if spec is None:
            return ""
        values = _values(doc, spec, many=False)
        value = ""
        if values:
            value = clean_text(_template(spec, values[0], url=False), limit, markup=True)
        if value:
            raw[name] = value[:300]
        else:
            self.missing[name] += 1
        return value

    def urls(self, doc: Any, name: str, spec: JsonField | None, raw: dict[str, str],
             many: bool) -> list[str]:
        if spec is None:
            return []
        out = []
        for value in _values(doc, spec, many=many):
            if url := absolute_url(self.url, _template(spec, value, url=True)):
                out.append(url)
        out = list(dict.fromkeys(out))[:MAX_FILES]
        if out:
            raw[name] = out[0][:300] if not many else f"{len(out)} link(s)"
        else:
            self.missing[name] += 1
        return out

    def date(self, doc: Any, name: str, spec: JsonField | None, raw: dict[str, str],
             future: bool) -> tuple[datetime | None, str | None]:
        if spec is None:
            return None, None
        values = _values(doc, spec, many=False)
        if not values:
            self.missing[name] += 1
            return None, None
        text = clean_text(_template(spec, values[0], url=False), MAX_FIELD, markup=True)
        return self.dated(name, text, raw, future)


def _template(spec: JsonField, value: str, url: bool) -> str:
    if not spec.template:
        return value
    return spec.template.replace("{}", quote(value, safe="/:") if url else value)


def _post(reader: _Reader, spec: JsonParserSpec | JsonDetailSpec, item: Any,
          raw: dict[str, str]) -> dict[str, Any]:
    published, published_raw = reader.date(item, "published", spec.published, raw, future=False)
    deadline, deadline_raw = reader.date(item, "deadline", spec.deadline, raw, future=True)
    return {
        "victim": reader.text(item, "victim", spec.victim, raw),
        "title": reader.text(item, "title", spec.title, raw),
        "description": reader.text(item, "description", spec.description, raw, MAX_DESCRIPTION),
        "files": tuple(reader.urls(item, "files", spec.files, raw, many=True)),
        "published": published, "published_raw": published_raw,
        "deadline": deadline, "deadline_raw": deadline_raw,
    }


def parse_json_listing(site: Site, spec: JsonParserSpec, body: bytes, url: str,
                       content_type: str | None, now: datetime) -> Listing:
    """One API response: posts at ``spec.posts``, the next page, and the status."""
    doc, problem = _document(site, body, content_type)
    if problem:
        return Listing("blocked", reason=problem, url=url)
    found = resolve(doc, spec.posts.steps)
    if not found:
        keys = ", ".join(list(doc)[:10]) if isinstance(doc, dict) else type(doc).__name__
        reason = text_gate_reason("", json.dumps(doc)[:4000], site.blocked_text)
        return Listing("blocked", url=url, reason=reason or (
            f"path 'posts' ({spec.posts.describe()}) is not in the response (it has: {keys})"))
    items: list[Any] = []
    for value in found:
        if isinstance(value, list):
            items.extend(value[: MAX_POSTS + 1])
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            items.extend(list(value.values())[: MAX_POSTS + 1])  # posts keyed by id
        elif isinstance(value, dict):
            items.append(value)
        else:
            return Listing("blocked", url=url, reason=(
                f"path 'posts' ({spec.posts.describe()}) is a {type(value).__name__}, "
                "not a list of objects"))
    warnings = []
    if len(items) > MAX_POSTS:
        warnings.append(f"only the first {MAX_POSTS} posts of the response were read")
        items = items[:MAX_POSTS]
    reader = _Reader(url, now, spec.date_order)
    posts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        raw: dict[str, str] = {}
        fields = _post(reader, spec, item, raw)
        links = reader.urls(item, "link", spec.link, raw, many=False)
        post = ParsedPost(url=links[0] if links else None, raw=raw, **fields)
        if post.name or post.url:
            posts.append(post)
    if len(posts) < len(items):
        warnings.append(f"{len(items) - len(posts)} item(s) at 'posts' had no victim, title "
                        "or link")
    specs = {name: getattr(spec, name) for name in _FIELDS}
    warnings += reader.warnings(specs, len(items), "posts") if items else []
    if not posts:
        return Listing("empty", warnings=tuple(warnings), url=url)
    return Listing("ok", tuple(posts), _next_url(spec, doc, url), None, tuple(warnings), url)


def _next_url(spec: JsonParserSpec, doc: Any, url: str) -> str | None:
    if spec.next is not None:
        values = _values(doc, spec.next, many=False)
        if not values or values[0] in ("false", "null", "0", ""):
            return None
        value = values[0]
        if value.isdigit() and "{n}" in spec.api and not spec.next.template:
            value = spec.api.replace("{n}", value)
        nxt = absolute_url(url, _template(spec.next, value, url=True))
        return nxt if nxt != url else None
    if "{n}" in spec.api:
        return page_number_url(spec.api, url, spec.first_page)
    return None


def parse_json_detail(site: Site, spec: JsonDetailSpec, body: bytes, url: str,
                      content_type: str | None, now: datetime) -> Detail:
    """A post's own API response read with the ``detail`` field paths."""
    doc, problem = _document(site, body, content_type)
    if problem:
        return Detail("blocked", reason=problem, url=url)
    order = site.parser.date_order if isinstance(site.parser, JsonParserSpec) else "dmy"
    reader = _Reader(url, now, order)
    raw: dict[str, str] = {}
    fields = _post(reader, spec, doc, raw)
    specs = {name: getattr(spec, name, None) for name in _FIELDS}
    warnings = tuple(reader.warnings(specs, 1, "response"))
    found = any(fields[k] for k in ("victim", "title", "description", "files", "published_raw",
                                    "deadline_raw"))
    return Detail("ok" if found else "empty", warnings=warnings, url=url, raw=raw, **fields)
