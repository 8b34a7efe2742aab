"""What a site definition is, and what parsing a page gives: frozen dataclasses.

A :class:`Site` is built once by :mod:`monitor.sites.load` (which validates every value) or
directly in code (tests, the crawler's benchmarks). Parsing gives a :class:`Listing` of
:class:`ParsedPost` or a :class:`Detail`; their ``status`` tells the crawler whether an empty
result means "no posts" (``"empty"``) or "this was not the page we wanted" (``"blocked"``:
login wall, CAPTCHA, DDoS-guard interstitial, error page), so that a gate is never taken for
"every post was removed".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from monitor.errors import SiteParseError

if TYPE_CHECKING:
    from soupsieve import SoupSieve

__all__ = [
    "DOWNLOAD_MODES",
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
]

Status = Literal["ok", "empty", "blocked"]
DownloadMode = Literal["watchlist", "all", "never"]
DateOrder = Literal["dmy", "mdy"]
DOWNLOAD_MODES: tuple[str, ...] = ("watchlist", "all", "never")


# --- parser specifications -------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    """Where one field's value is on an HTML page.

    ``selector`` is a CSS selector relative to the post container (listing) or the document
    (detail page, ``next``); ``""`` means the container itself. ``attr`` names an attribute to
    read instead of the text (URL fields default to ``href``, then ``src``; date fields to a
    ``datetime`` attribute, then the text). ``regex``, when given, is searched in the value;
    its first group (or the whole match) becomes the value.
    """

    selector: str = ""
    attr: str | None = None
    regex: str | None = None

    @cached_property
    def css(self) -> SoupSieve | None:
        """The compiled selector (compiled once, on first use; the loader forces it).

        :raises soupsieve.SelectorSyntaxError: the selector is not valid CSS.
        """
        if not self.selector:
            return None
        import soupsieve

        return soupsieve.compile(self.selector)

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled ``regex``.

        :raises re.error: not a valid regular expression.
        """
        return re.compile(self.regex, re.IGNORECASE) if self.regex else None

    def describe(self) -> str:
        """The spec as an operator wrote it, for messages: ``a.title@href``."""
        text = self.selector + (f"@{self.attr}" if self.attr else "")
        return text + (f" ~ /{self.regex}/" if self.regex else "") or "(the element itself)"


@dataclass(frozen=True)
class HtmlDetailSpec:
    """Selectors applied to a post's own page (relative to the whole document)."""

    victim: Extract | None = None
    title: Extract | None = None
    published: Extract | None = None
    deadline: Extract | None = None
    description: Extract | None = None
    files: Extract | None = None


@dataclass(frozen=True)
class HtmlParserSpec:
    """A listing read with CSS selectors; ``post`` selects one container per post."""

    post: str
    victim: Extract | None = None
    title: Extract | None = None
    link: Extract | None = None
    published: Extract | None = None
    deadline: Extract | None = None
    description: Extract | None = None
    files: Extract | None = None
    next: Extract | None = None
    page_url: str | None = None
    first_page: int = 1
    start: str | None = None
    date_order: DateOrder = "dmy"
    detail: HtmlDetailSpec | None = None
    type: Literal["html"] = "html"

    @cached_property
    def post_css(self) -> SoupSieve:
        """The compiled ``post`` selector.

        :raises soupsieve.SelectorSyntaxError: not valid CSS.
        """
        import soupsieve

        return soupsieve.compile(self.post)


@dataclass(frozen=True)
class JsonField:
    """Where one field's value is in a JSON document.

    ``path`` is dotted (``company.name``); ``name[]`` (or a bare ``[]``) expands a list,
    ``name[0]`` picks an element; ``""`` is the object itself. ``template`` puts the value into
    text, e.g. ``"/post/{}"`` for an id (URL-quoted for URL fields); ``regex`` as for
    :class:`Extract`.
    """

    path: str
    template: str | None = None
    regex: str | None = None

    @cached_property
    def steps(self) -> tuple[tuple[str, Any], ...]:
        """The path as steps: ``("key", name)``, ``("index", i)``, ``("each", None)``.

        :raises ValueError: the path is malformed.
        """
        from monitor.sites.jsonpath import compile_path

        return compile_path(self.path)

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled ``regex``.

        :raises re.error: not a valid regular expression.
        """
        return re.compile(self.regex, re.IGNORECASE) if self.regex else None

    def describe(self) -> str:
        """The spec as an operator wrote it, for messages."""
        text = self.path or "(the object itself)"
        if self.template:
            text += f" -> {self.template}"
        return text + (f" ~ /{self.regex}/" if self.regex else "")


@dataclass(frozen=True)
class JsonDetailSpec:
    """Field paths applied to the JSON document fetched from a post's ``url``."""

    victim: JsonField | None = None
    title: JsonField | None = None
    published: JsonField | None = None
    deadline: JsonField | None = None
    description: JsonField | None = None
    files: JsonField | None = None


@dataclass(frozen=True)
class JsonParserSpec:
    """A JSON API: ``api`` (a path on the mirror, ``{n}`` = page number) and field paths."""

    api: str
    posts: JsonField = field(default_factory=lambda: JsonField(""))
    victim: JsonField | None = None
    title: JsonField | None = None
    link: JsonField | None = None
    published: JsonField | None = None
    deadline: JsonField | None = None
    description: JsonField | None = None
    files: JsonField | None = None
    next: JsonField | None = None
    first_page: int = 1
    date_order: DateOrder = "dmy"
    detail: JsonDetailSpec | None = None
    type: Literal["json"] = "json"


ListingFunction = Callable[..., "Listing"]
DetailFunction = Callable[..., "Detail"]


@dataclass(frozen=True)
class PluginParserSpec:
    """Python functions for the rare site that needs code (``module:function``).

    A listing function is called as ``fn(site, body, url, content_type, now)`` and returns a
    :class:`Listing`; a detail function likewise returns a :class:`Detail`. ``options`` is the
    plugin's own table, passed through unvalidated.
    """

    listing: str
    detail: str | None = None
    start: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)
    listing_fn: ListingFunction | None = field(default=None, compare=False, repr=False)
    detail_fn: DetailFunction | None = field(default=None, compare=False, repr=False)
    type: Literal["plugin"] = "plugin"


ParserSpec = HtmlParserSpec | JsonParserSpec | PluginParserSpec


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection (circuit + rendezvous) and between bytes read."""

    connect: float = 60.0
    read: float = 60.0


@dataclass(frozen=True)
class Site:
    """One leak site: where it is (mirrors), how often to look, how to read it."""

    name: str
    mirrors: tuple[str, ...]
    parser: ParserSpec
    interval: float = 3600.0
    timeout: Timeouts = field(default_factory=Timeouts)
    max_pages: int = 5
    download: DownloadMode = "watchlist"
    max_download_bytes: int = 4 * 1024**3
    max_page_bytes: int = 4 * 1024**2
    allow_direct: bool = False
    enabled: bool = True
    blocked_text: tuple[str, ...] = ()
    source: str = "(code)"

    @property
    def has_detail(self) -> bool:
        """Whether posts' own pages are worth fetching (the parser has detail selectors)."""
        p = self.parser
        if isinstance(p, PluginParserSpec):
            return p.detail is not None or p.detail_fn is not None
        return p.detail is not None


# --- parse results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedPost:
    """One post as the site shows it; text normalised, URLs absolute, dates aware UTC.

    ``published_raw``/``deadline_raw`` keep the text the dates were read from (a countdown
    such as ``13D 23h 59m`` becomes a deadline relative to the ``now`` given to the parser).
    ``raw`` holds each field's extracted text for debugging; it is not part of equality.
    """

    victim: str = ""
    title: str = ""
    url: str | None = None
    published: datetime | None = None
    published_raw: str | None = None
    deadline: datetime | None = None
    deadline_raw: str | None = None
    description: str = ""
    files: tuple[str, ...] = ()
    raw: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        """The victim, else the title: what identifies the post to a person."""
        return self.victim or self.title

    def with_detail(self, detail: Detail) -> ParsedPost:
        """This post completed with what its own page says.

        Values from the detail page win where they are present (a listing often truncates
        the description); files are the union, listing first.
        """
        if detail.status == "blocked":
            return self
        files = tuple(dict.fromkeys((*self.files, *detail.files)))
        return replace(
            self,
            victim=detail.victim or self.victim,
            title=detail.title or self.title,
            published=detail.published or self.published,
            published_raw=detail.published_raw or self.published_raw,
            deadline=detail.deadline or self.deadline,
            deadline_raw=detail.deadline_raw or self.deadline_raw,
            description=detail.description or self.description,
            files=files,
        )


@dataclass(frozen=True)
class Listing:
    """What one listing page gave.

    ``status``: ``"ok"`` (posts found), ``"empty"`` (the page parsed and genuinely lists no
    posts) or ``"blocked"`` (not the listing: see ``reason``). ``warnings`` are for the operator
    (selectors that matched nothing, dates that did not parse, limits hit).
    """

    status: Status
    posts: tuple[ParsedPost, ...] = ()
    next_url: str | None = None
    reason: str | None = None
    warnings: tuple[str, ...] = ()
    url: str = ""


@dataclass(frozen=True)
class Detail:
    """What a post's own page gave; empty fields mean "not on this page"."""

    status: Status
    victim: str = ""
    title: str = ""
    published: datetime | None = None
    published_raw: str | None = None
    deadline: datetime | None = None
    deadline_raw: str | None = None
    description: str = ""
    files: tuple[str, ...] = ()
    reason: str | None = None
    warnings: tuple[str, ...] = ()
    url: str = ""
    raw: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
