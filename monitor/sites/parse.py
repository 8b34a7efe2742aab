"""The two entry points the crawler calls: :func:`parse_listing` and :func:`parse_detail`."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.errors import SiteConfigError
from monitor.sites.model import (
    Detail,
    HtmlParserSpec,
    JsonParserSpec,
    Listing,
    PluginParserSpec,
    Site,
)

__all__ = ["parse_detail", "parse_listing"]


def parse_listing(site: Site, body: bytes, url: str, content_type: str | None = None, *,
                  now: datetime | None = None) -> Listing:
    """Posts on one listing page of ``site`` (fetched from ``url``, which resolves links).

    ``now`` anchors countdowns and "3 days ago" (default: the current time). A page that is
    not the listing (login wall, CAPTCHA, DDoS guard, error page, HTML where JSON was
    expected) gives ``status="blocked"`` with a reason, never an exception.

    :raises SiteParseError: only a parser plugin can cause this (it raised, or returned
        something other than a :class:`Listing`).
    """
    now = now or datetime.now(UTC)
    parser = site.parser
    if isinstance(parser, HtmlParserSpec):
        from monitor.sites.html import parse_html_listing

        return parse_html_listing(site, parser, body, url, content_type, now)
    if isinstance(parser, JsonParserSpec):
        from monitor.sites.jsonapi import parse_json_listing

        return parse_json_listing(site, parser, body, url, content_type, now)
    from monitor.sites.plugin import run_plugin

    result = run_plugin(site, parser, "listing", body, url, content_type, now)
    assert isinstance(result, Listing)  # noqa: S101 - run_plugin checked it
    return result


def parse_detail(site: Site, body: bytes, url: str, content_type: str | None = None, *,
                 now: datetime | None = None) -> Detail:
    """What a post's own page adds (description, files, dates); see :func:`parse_listing`.

    :raises SiteConfigError: the site has no detail selectors (check ``site.has_detail``).
    :raises SiteParseError: a parser plugin raised or returned something else.
    """
    now = now or datetime.now(UTC)
    parser = site.parser
    if not site.has_detail:
        raise SiteConfigError(f"{site.source}: site {site.name} has no detail-page parser "
                              f"(add a [sites.{site.name}.parser.detail] table)")
    if isinstance(parser, HtmlParserSpec) and parser.detail is not None:
        from monitor.sites.html import parse_html_detail

        return parse_html_detail(site, parser.detail, body, url, content_type, now)
    if isinstance(parser, JsonParserSpec) and parser.detail is not None:
        from monitor.sites.jsonapi import parse_json_detail

        return parse_json_detail(site, parser.detail, body, url, content_type, now)
    from monitor.sites.plugin import run_plugin

    assert isinstance(parser, PluginParserSpec)  # noqa: S101 - has_detail checked it
    result = run_plugin(site, parser, "detail", body, url, content_type, now)
    assert isinstance(result, Detail)  # noqa: S101 - run_plugin checked it
    return result
