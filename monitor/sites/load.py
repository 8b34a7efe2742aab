"""Site definitions from TOML, validated once into :class:`~monitor.sites.model.Site`.

Sites are ``[sites.NAME]`` tables, in the main configuration or in ``*.toml`` files of the
sites directory (``sites_dir`` in the main configuration, default: ``sites/`` beside it), the
same form in both so a table can move between them. Everything is checked here, at start-up:
unknown keys, types and ranges, onion addresses (v3 checksum), CSS selectors (compiled with
soupsieve), regular expressions, JSON paths and plugin imports. Every error is a
:class:`~monitor.errors.SiteConfigError` naming the file and the key path::

    config/sites/nova.toml: at 'sites.nova.parser.post': invalid CSS selector ...
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from monitor.errors import SiteConfigError
from monitor.sites.model import (
    DOWNLOAD_MODES,
    Extract,
    HtmlDetailSpec,
    HtmlParserSpec,
    JsonDetailSpec,
    JsonField,
    JsonParserSpec,
    ParserSpec,
    PluginParserSpec,
    Site,
    Timeouts,
)
from monitor.sites.onion import check_onion_host, is_loopback_host

__all__ = ["CONFIG_KEYS", "load_config_sites", "load_site", "load_sites_file"]

CONFIG_KEYS = ("sites", "sites_dir")  # the main configuration's keys this module reads
MIN_INTERVAL = 60.0          # seconds; being polite to onion services and to Tor
MIN_INTERVAL_DIRECT = 1.0    # loopback test sites (allow_direct) may be crawled faster
MAX_INTERVAL = 7 * 86400.0
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ATTR = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")
_DETAIL_FIELDS = ("victim", "title", "published", "deadline", "description", "files")
_POST_FIELDS = ("victim", "title", "link", "published", "deadline", "description", "files")


class _Table:
    """One TOML table being read: typed getters that name the file and key path in errors;
    :meth:`known` makes every other key an error."""

    def __init__(self, data: Any, where: str, source: str) -> None:
        self.where, self.source = where, source
        if not isinstance(data, dict):
            raise self.error("", "expected a table")
        self.data = data

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if key else self.where

    def error(self, key: str, message: str) -> SiteConfigError:
        return SiteConfigError(f"{self.source}: at '{self.path(key)}': {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        return self.data[key]

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if key not in self.data:
            if required:
                raise self.error(key, "required")
            return default
        value = self.raw(key)
        if not isinstance(value, str):
            raise self.error(key, "expected a string")
        if not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise self.error(key, f"expected one of {', '.join(map(repr, choices))}")
        return value  # type: ignore[return-value]

    def flag(self, key: str, default: bool) -> bool:
        if key not in self.data:
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.error(key, "expected true or false")
        return value

    def number(self, key: str, default: float, low: float, high: float, *,
               whole: bool = False) -> Any:
        if key not in self.data:
            return default
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, "expected a number")
        if whole and not isinstance(value, int):
            raise self.error(key, "expected a whole number")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low:g} and {high:g}")
        return value

    def table(self, key: str) -> _Table | None:
        if key not in self.data:
            return None
        return _Table(self.raw(key), self.path(key), self.source)

    def known(self, *keys: str) -> None:
        """Declare the keys this table may have (for the 'unknown key' message)."""
        for key in self.data:
            if key not in keys:
                raise self.error(key, f"unknown key (known: {', '.join(sorted(keys))})")


# --- mirrors ----------------------------------------------------------------------------------


def _mirror(t: _Table, key: str, url: Any, allow_direct: bool) -> str:
    if not isinstance(url, str):
        raise t.error(key, "expected a URL string")
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        raise t.error(key, f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise t.error(key, "expected http://<address>.onion[/path]")
    if parts.username is not None or parts.password is not None:
        raise t.error(key, "credentials in a mirror URL are not allowed")
    if parts.query or parts.fragment:
        raise t.error(key, "a mirror is a base URL: no query or fragment (use the parser's "
                           "'start' or 'api' path)")
    if host.endswith(".onion"):
        problem = check_onion_host(host)
        if problem:
            raise t.error(key, f"invalid onion address: {problem}")
    elif not (allow_direct and is_loopback_host(host)):
        hint = ("only loopback URLs may be used, and only with allow_direct = true (tests, demo)"
                if is_loopback_host(host) else
                "leak sites are crawled as onion services; only loopback URLs with "
                "allow_direct = true (tests, demo) may be anything else")
        raise t.error(key, f"{host!r} is not an onion address: {hint}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


def _mirrors(t: _Table, allow_direct: bool) -> tuple[str, ...]:
    if not t.has("mirrors"):
        raise t.error("mirrors", "required: one or more onion URLs")
    value = t.raw("mirrors")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise t.error("mirrors", "expected a URL or a non-empty list of URLs")
    if len(items) > 50:
        raise t.error("mirrors", "at most 50 mirrors")
    out: list[str] = []
    for i, item in enumerate(items):
        key = f"mirrors[{i}]" if isinstance(value, list) else "mirrors"
        url = _mirror(t, key, item, allow_direct)
        if url in out:
            raise t.error(key, "listed twice")
        out.append(url)
    return tuple(out)


# --- selectors, paths -------------------------------------------------------------------------


def _split_attr(text: str) -> tuple[str, str | None]:
    """``"a.title@href"`` -> ``("a.title", "href")``; an ``@`` inside ``[...]`` is CSS."""
    selector, at, attr = text.rpartition("@")
    if at and _ATTR.fullmatch(attr) and selector.count("[") == selector.count("]"):
        return selector.strip(), attr
    return text.strip(), None


def _compile_css(t: _Table, key: str, selector: str) -> None:
    import soupsieve

    try:
        soupsieve.compile(selector)
    except (soupsieve.SelectorSyntaxError, NotImplementedError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise t.error(key, f"invalid CSS selector {selector!r}: {first}") from None


def _compile_regex(t: _Table, key: str, regex: str) -> None:
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise t.error(key, f"invalid regular expression {regex!r}: {exc}") from None
    if pattern.groups > 1:
        raise t.error(key, "a regex may have at most one group (its text becomes the value)")


def _extract(t: _Table, key: str) -> Extract | None:
    if not t.has(key):
        return None
    value = t.raw(key)
    if isinstance(value, str):
        selector, attr = _split_attr(value)
        if not selector and not attr:
            raise t.error(key, "empty selector (use '@attr' for the element's own attribute)")
        ex = Extract(selector, attr)
    else:
        sub = _Table(value, t.path(key), t.source)
        sub.known("selector", "attr", "regex")
        selector = sub.text("selector", "") or ""
        attr = sub.text("attr")
        if attr is not None and not _ATTR.fullmatch(attr):
            raise sub.error("attr", f"not an attribute name: {attr!r}")
        regex = sub.text("regex")
        if regex is not None:
            _compile_regex(sub, "regex", regex)
        if not selector and not attr and not regex:
            raise t.error(key, "give at least one of selector, attr, regex")
        ex = Extract(selector.strip(), attr, regex)
        t = sub
        key = "selector"
    if ex.selector:
        _compile_css(t, key, ex.selector)
    return ex


def _json_field(t: _Table, key: str, *, required: bool = False) -> JsonField | None:
    if not t.has(key):
        if required:
            raise t.error(key, "required")
        return None
    value = t.raw(key)
    where, owner = key, t
    if isinstance(value, str):
        spec = JsonField(value.strip())
    else:
        sub = _Table(value, t.path(key), t.source)
        sub.known("path", "template", "regex")
        path = sub.data.get("path", "")
        if not isinstance(path, str):
            raise sub.error("path", "expected a string")
        template = sub.text("template")
        if template is not None and "{}" not in template:
            raise sub.error("template", "must contain {} where the value goes")
        regex = sub.text("regex")
        if regex is not None:
            _compile_regex(sub, "regex", regex)
        spec = JsonField(path.strip(), template, regex)
        where, owner = "path", sub
    try:
        _ = spec.steps
    except ValueError as exc:
        raise owner.error(where, str(exc)) from None
    return spec


def _mirror_path(t: _Table, key: str, *, required: bool = False) -> str | None:
    value = t.text(key, required=required)
    if value is not None and ("://" in value or value.startswith("//")):
        raise t.error(key, "expected a path on the mirror (e.g. '/blog'), not a full URL")
    return value


# --- parsers ----------------------------------------------------------------------------------


def _html_parser(t: _Table) -> HtmlParserSpec:
    t.known("type", "post", *_POST_FIELDS, "next", "page_url", "first_page", "start",
            "date_order", "detail")
    post = t.text("post", required=True)
    assert post is not None  # noqa: S101 - required=True
    _compile_css(t, "post", post)
    values = {name: _extract(t, name) for name in (*_POST_FIELDS, "next")}
    if values["victim"] is None and values["title"] is None:
        raise t.error("victim", "give 'victim' or 'title' (or both): what names the post")
    page_url = t.text("page_url")
    if page_url is not None and page_url.count("{n}") != 1:
        raise t.error("page_url", "must contain {n} (the page number) once, e.g. '/page/{n}'")
    if page_url is not None and values["next"] is not None:
        raise t.error("page_url", "give 'next' or 'page_url', not both")
    detail = None
    if (d := t.table("detail")) is not None:
        d.known(*_DETAIL_FIELDS)
        detail = HtmlDetailSpec(**{name: _extract(d, name) for name in _DETAIL_FIELDS})
        if not any(getattr(detail, name) for name in _DETAIL_FIELDS):
            raise d.error("", "an empty detail table: give the selectors of the post's page")
    return HtmlParserSpec(
        post=post, **values, page_url=page_url,
        first_page=t.number("first_page", 1, 0, 1_000_000, whole=True),
        start=_mirror_path(t, "start"),
        date_order=t.choice("date_order", ("dmy", "mdy"), "dmy"),  # type: ignore[arg-type]
        detail=detail,
    )


def _json_parser(t: _Table) -> JsonParserSpec:
    t.known("type", "api", "posts", *_POST_FIELDS, "next", "first_page", "date_order", "detail")
    api = _mirror_path(t, "api", required=True)
    assert api is not None  # noqa: S101 - required=True
    if api.count("{n}") > 1:
        raise t.error("api", "{n} (the page number) may appear once")
    values = {name: _json_field(t, name) for name in (*_POST_FIELDS, "next")}
    if values["victim"] is None and values["title"] is None:
        raise t.error("victim", "give 'victim' or 'title' (or both): what names the post")
    detail = None
    if (d := t.table("detail")) is not None:
        d.known(*_DETAIL_FIELDS)
        detail = JsonDetailSpec(**{name: _json_field(d, name) for name in _DETAIL_FIELDS})
        if not any(getattr(detail, name) for name in _DETAIL_FIELDS):
            raise d.error("", "an empty detail table: give the field paths of the post's page")
    return JsonParserSpec(
        api=api, posts=_json_field(t, "posts") or JsonField(""), **values,
        first_page=t.number("first_page", 1, 0, 1_000_000, whole=True),
        date_order=t.choice("date_order", ("dmy", "mdy"), "dmy"),  # type: ignore[arg-type]
        detail=detail,
    )


def _plugin_parser(t: _Table) -> PluginParserSpec:
    from monitor.sites.plugin import import_function

    t.known("type", "listing", "detail", "start", "options")
    functions = {}
    for key in ("listing", "detail"):
        name = t.text(key, required=key == "listing")
        if name is not None:
            try:
                functions[key] = (name, import_function(name))
            except ValueError as exc:
                raise t.error(key, str(exc)) from None
    options = t.raw("options") if t.has("options") else {}
    if not isinstance(options, dict):
        raise t.error("options", "expected a table")
    listing = functions["listing"]
    detail = functions.get("detail")
    return PluginParserSpec(
        listing=listing[0], detail=detail[0] if detail else None,
        start=_mirror_path(t, "start"), options=options,
        listing_fn=listing[1], detail_fn=detail[1] if detail else None,
    )


def _parser(t: _Table) -> ParserSpec:
    p = t.table("parser")
    if p is None:
        raise t.error("parser", "required: a table with type = \"html\", \"json\" or \"plugin\"")
    kind = p.choice("type", ("html", "json", "plugin"), "") if p.has("type") else None
    if kind is None:
        raise p.error("type", 'required: "html", "json" or "plugin"')
    return {"html": _html_parser, "json": _json_parser, "plugin": _plugin_parser}[kind](p)


# --- sites ------------------------------------------------------------------------------------


_SITE_KEYS = ("mirrors", "parser", "interval", "timeout", "max_pages", "download",
              "max_download_bytes", "max_page_bytes", "allow_direct", "enabled", "blocked_text")
_DEFAULT = {f.name: f.default for f in fields(Site) if not callable(f.default_factory)}


def _timeouts(t: _Table) -> Timeouts:
    if not t.has("timeout"):
        return Timeouts()
    value = t.data["timeout"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = t.number("timeout", 60.0, 1, 600)
        return Timeouts(float(seconds), float(seconds))
    sub = t.table("timeout")
    assert sub is not None  # noqa: S101 - has() checked
    sub.known("connect", "read")
    default = Timeouts()
    return Timeouts(float(sub.number("connect", default.connect, 1, 600)),
                    float(sub.number("read", default.read, 1, 600)))


def load_site(name: str, data: Any, *, source: str, where: str | None = None) -> Site:
    """One site from its table (``[sites.NAME]``); ``source`` is the file, for messages.

    :raises SiteConfigError: anything wrong, naming ``source`` and the key path.
    """
    where = where or f"sites.{name}"
    t = _Table(data, where, source)
    if not _NAME.fullmatch(name):
        raise t.error("", "a site name is 1-63 lowercase letters, digits, '-' or '_', "
                          "starting with a letter or digit")
    t.known(*_SITE_KEYS)
    allow_direct = t.flag("allow_direct", False)
    mirrors = _mirrors(t, allow_direct)
    low = MIN_INTERVAL_DIRECT if allow_direct else MIN_INTERVAL
    blocked = t.raw("blocked_text") if t.has("blocked_text") else []
    if not isinstance(blocked, list) or not all(isinstance(b, str) and b.strip() for b in blocked):
        raise t.error("blocked_text", "expected a list of non-empty strings")
    return Site(
        name=name,
        mirrors=mirrors,
        parser=_parser(t),
        interval=float(t.number("interval", _DEFAULT["interval"], low, MAX_INTERVAL)),
        timeout=_timeouts(t),
        max_pages=t.number("max_pages", _DEFAULT["max_pages"], 1, 1000, whole=True),
        download=t.choice("download", DOWNLOAD_MODES, "watchlist"),  # type: ignore[arg-type]
        max_download_bytes=t.number("max_download_bytes", _DEFAULT["max_download_bytes"],
                                    1, 2**50, whole=True),
        max_page_bytes=t.number("max_page_bytes", _DEFAULT["max_page_bytes"], 1024,
                                64 * 1024**2, whole=True),
        allow_direct=allow_direct,
        enabled=t.flag("enabled", True),
        blocked_text=tuple(b.strip() for b in blocked),
        source=source,
    )


def _sites_table(data: Any, source: str) -> list[Site]:
    if not isinstance(data, dict):
        raise SiteConfigError(f"{source}: at 'sites': expected tables [sites.NAME]")
    return [load_site(str(name), table, source=source) for name, table in data.items()]


def load_sites_file(path: Path) -> list[Site]:
    """The sites of one file of the sites directory (``[sites.NAME]`` tables only).

    :raises SiteConfigError: unreadable file, bad TOML or an invalid site.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteConfigError(f"{path}: cannot read site definitions ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteConfigError(f"{path}: not valid TOML ({exc})") from None
    for key in data:
        if key != "sites":
            raise SiteConfigError(f"{path}: at '{key}': unknown key (a site file holds "
                                  "[sites.NAME] tables)")
    return _sites_table(data.get("sites", {}), str(path))


def load_config_sites(data: dict[str, Any], config_path: Path) -> dict[str, Any]:
    """The ``sites`` and ``sites_dir`` of the main configuration, as ``Config`` fields.

    Sites come from the ``[sites.NAME]`` tables of the configuration, then from each
    ``*.toml`` of the sites directory in name order. A missing default directory means no
    sites; a ``sites_dir`` that was given must exist.

    :raises SiteConfigError: an invalid site, an unreadable file, a missing ``sites_dir``, or
        a name defined twice (both places are named).
    """
    source = str(config_path)
    explicit = "sites_dir" in data
    if explicit:
        value = data["sites_dir"]
        if not isinstance(value, str) or not value.strip():
            raise SiteConfigError(f"{source}: at 'sites_dir': expected a directory path")
        sites_dir = config_path.parent / Path(value).expanduser()
    else:
        sites_dir = config_path.parent / "sites"
    sites = _sites_table(data.get("sites", {}), source)
    if sites_dir.is_dir():
        for path in sorted(sites_dir.glob("*.toml")):
            sites += load_sites_file(path)
    elif explicit:
        raise SiteConfigError(f"{source}: at 'sites_dir': {sites_dir} is not a directory")
    seen: dict[str, Site] = {}
    for site in sites:
        if site.name in seen:
            raise SiteConfigError(f"{site.source}: at 'sites.{site.name}': site defined twice "
                                  f"(also in {seen[site.name].source})")
        seen[site.name] = site
    return {"sites": tuple(sites), "sites_dir": sites_dir if sites_dir.is_dir() else None}
