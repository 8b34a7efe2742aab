"""Leak-site definitions and their declarative parsers.

Owns: the site model (mirrors, interval, timeouts, download policy, parser spec) loaded and
validated from TOML (``[sites.NAME]`` tables, ``config/sites/*.toml``); v3 onion address
checks; parsing a fetched page into posts (CSS selectors, JSON field paths, or a plugin),
with dates normalised to UTC and gates (login wall, CAPTCHA, DDoS guard) reported as
``"blocked"``. Does not fetch anything: the crawler fetches (over Tor) and calls
:func:`parse_listing` / :func:`parse_detail` with the bytes.
"""

from monitor.sites.load import load_config_sites, load_site, load_sites_file
from monitor.sites.model import (
    Detail,
    Extract,
    HtmlDetailSpec,
    HtmlParserSpec,
    JsonDetailSpec,
    JsonField,
    JsonParserSpec,
    Listing,
    ParsedPost,
    ParserSpec,
    PluginParserSpec,
    Site,
    SiteParseError,
    Status,
    Timeouts,
)
from monitor.sites.onion import check_onion_host, onion_address
from monitor.sites.pages import listing_url
from monitor.sites.parse import parse_detail, parse_listing

__all__ = [
    "Detail",
    "Extract",
    "HtmlDetailSpec",
    "HtmlParserSpec",
    "JsonDetailSpec",
    "JsonField",
    "JsonParserSpec",
    "Listing",
    "ParsedPost",
    "ParserSpec",
    "PluginParserSpec",
    "Site",
    "SiteParseError",
    "Status",
    "Timeouts",
    "check_onion_host",
    "listing_url",
    "load_config_sites",
    "load_site",
    "load_sites_file",
    "onion_address",
    "parse_detail",
    "parse_listing",
]
