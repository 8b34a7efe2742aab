"""``cohortwatch sites check``: run a site's parser on a saved page and show everything.

This is how an operator writes a site definition: save the page from Tor Browser, write the
TOML, run the check, and repeat until every field is extracted and no warning is left. The
text form is for that loop; ``--json`` (schema ``cohortwatch.sites-check/1``) is for scripts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.errors import SiteConfigError
from monitor.sites.model import Detail, Listing, ParsedPost, PluginParserSpec, Site
from monitor.sites.pages import listing_url
from monitor.sites.parse import parse_detail, parse_listing

__all__ = ["CheckResult", "check_saved_page", "find_site", "render_json", "render_text",
           "sites_table"]

SCHEMA = "cohortwatch.sites-check/1"
_FIELDS = ("victim", "title", "link", "published", "deadline", "description", "files")


@dataclass(frozen=True)
class CheckResult:
    """A parser run on a saved page: which site, page, URL, and what came out."""

    site: Site
    file: str
    url: str
    result: Listing | Detail


def find_site(sites: tuple[Site, ...], name: str) -> Site:
    """The configured site called ``name``.

    :raises SiteConfigError: no such site; the message lists the configured ones.
    """
    for site in sites:
        if site.name == name:
            return site
    known = ", ".join(s.name for s in sites) or "none (is --config set?)"
    raise SiteConfigError(f"no site named {name!r}; configured sites: {known}")


def check_saved_page(site: Site, file: Path, *, url: str | None = None, detail: bool = False,
                     now: datetime | None = None) -> CheckResult:
    """Parse ``file`` as a listing (or detail) page of ``site``.

    ``url`` is where the page was saved from (resolves relative links); default: the site's
    listing URL on its first mirror.

    :raises SiteConfigError: the file cannot be read, or ``detail`` for a site without a
        detail parser.
    :raises SiteParseError: a parser plugin failed.
    """
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise SiteConfigError(f"{file}: cannot read the saved page ({exc.strerror})") from None
    page_url = url or listing_url(site)
    content_type = "application/json" if file.suffix.lower() == ".json" else None
    if detail:
        result: Listing | Detail = parse_detail(site, body, page_url, content_type, now=now)
    else:
        result = parse_listing(site, body, page_url, content_type, now=now)
    return CheckResult(site, str(file), page_url, result)


def _when(moment: datetime | None, raw: str | None) -> str:
    if raw is None:
        return "-"
    if moment is None:
        return f"(not a date) {raw!r}"
    return f"{moment:%Y-%m-%d %H:%M} UTC  ({raw!r})"


def _configured(site: Site, detail: bool) -> set[str]:
    """Names of the fields the site's parser has a selector or path for."""
    spec: Any = site.parser
    if detail:
        spec = getattr(spec, "detail", None)
    if spec is None or isinstance(spec, PluginParserSpec):
        return set(_FIELDS)
    return {name for name in _FIELDS if getattr(spec, name, None) is not None}


def _post_lines(number: int, post: ParsedPost | Detail, configured: set[str]) -> list[str]:
    def show(name: str, value: str) -> str:
        return value if name in configured else "(no selector)"

    lines = [f"{number:>3}. victim:      {show('victim', post.victim or '-')}"]
    lines.append(f"     title:       {show('title', post.title or '-')}")
    if isinstance(post, ParsedPost):
        lines.append(f"     link:        {show('link', post.url or '-')}")
    published = _when(post.published, post.published_raw)
    deadline = _when(post.deadline, post.deadline_raw)
    lines.append(f"     published:   {show('published', published)}")
    lines.append(f"     deadline:    {show('deadline', deadline)}")
    description = post.description.replace("\n", " ")
    if len(description) > 100:
        description = description[:99] + "…"
    lines.append(f"     description: {show('description', description or '-')}")
    lines.append(f"     files:       {show('files', str(len(post.files)))}")
    lines += [f"       {f}" for f in post.files[:20]]
    if len(post.files) > 20:
        lines.append(f"       … and {len(post.files) - 20} more")
    return lines


def render_text(check: CheckResult) -> str:
    """What an operator reads while writing a site definition."""
    r = check.result
    kind = "detail page" if isinstance(r, Detail) else "listing"
    out = [f"site {check.site.name} ({check.site.parser.type} parser, {kind}) from {check.file}",
           f"  page URL: {check.url}"]
    status = r.status + (f": {r.reason}" if r.reason else "")
    if isinstance(r, Listing):
        out.append(f"  status:   {status} ({len(r.posts)} posts)")
        out.append(f"  next:     {r.next_url or '-'}")
        out.append("")
        configured = _configured(check.site, detail=False)
        for i, post in enumerate(r.posts, 1):
            out += _post_lines(i, post, configured)
    else:
        out.append(f"  status:   {status}")
        out.append("")
        if r.status == "ok":
            out += _post_lines(1, r, _configured(check.site, detail=True))
    if r.warnings:
        out.append("")
        out.append("warnings:")
        out += [f"  - {w}" for w in r.warnings]
    return "\n".join(out)


def _post_json(post: ParsedPost | Detail) -> dict[str, Any]:
    data: dict[str, Any] = {"victim": post.victim, "title": post.title}
    if isinstance(post, ParsedPost):
        data["url"] = post.url
    data |= {
        "published": post.published.isoformat() if post.published else None,
        "published_raw": post.published_raw,
        "deadline": post.deadline.isoformat() if post.deadline else None,
        "deadline_raw": post.deadline_raw,
        "description": post.description,
        "files": list(post.files),
        "raw": dict(post.raw),
    }
    return data


def render_json(check: CheckResult) -> str:
    """One JSON object (schema ``cohortwatch.sites-check/1``)."""
    r = check.result
    data: dict[str, Any] = {
        "schema": SCHEMA, "site": check.site.name, "parser": check.site.parser.type,
        "file": check.file, "url": check.url, "page": "detail" if isinstance(r, Detail)
        else "listing", "status": r.status, "reason": r.reason, "warnings": list(r.warnings),
    }
    if isinstance(r, Listing):
        data["next_url"] = r.next_url
        data["posts"] = [_post_json(p) for p in r.posts]
    else:
        data["detail"] = _post_json(r)
    return json.dumps(data, ensure_ascii=False, indent=1)


def sites_table(sites: tuple[Site, ...]) -> list[dict[str, Any]]:
    """One row per site for ``sites list`` (no URLs beyond the mirrors' hosts)."""
    rows = []
    for s in sites:
        rows.append({
            "name": s.name, "parser": s.parser.type, "mirrors": list(s.mirrors),
            "interval": s.interval, "max_pages": s.max_pages, "download": s.download,
            "detail": s.has_detail, "enabled": s.enabled, "allow_direct": s.allow_direct,
            "source": s.source,
        })
    return rows
