"""Parser plugins: ``module:function`` for the rare site that declarative parsing cannot read.

Functions are imported once, when the configuration is loaded, so a typo is a config error at
start-up rather than a failure at the first crawl. A plugin is the operator's own code, so
anything it raises while parsing is wrapped in :class:`SiteParseError` naming the site: one
broken plugin never takes the crawl of other sites down with it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from monitor.sites.model import Detail, Listing, PluginParserSpec, Site, SiteParseError

__all__ = ["import_function", "run_plugin"]

_DOTTED = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")


def import_function(spec: str) -> Callable[..., Any]:
    """The callable named by ``module:function`` (attribute paths such as ``mod:Cls.fn`` too).

    :raises ValueError: malformed name, module not importable, attribute missing or not
        callable; the message says which.
    """
    if not _DOTTED.fullmatch(spec):
        raise ValueError(f"expected 'package.module:function', got {spec!r}")
    module_name, _, attr = spec.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:  # the operator's module failed while importing
        raise ValueError(f"importing module {module_name!r} failed: "
                         f"{type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no {attr!r}") from None
    if not callable(target):
        raise ValueError(f"{spec!r} is not callable")
    return target


def run_plugin(site: Site, spec: PluginParserSpec, kind: str, body: bytes, url: str,
               content_type: str | None, now: datetime) -> Listing | Detail:
    """Call the site's ``listing`` or ``detail`` function and check what it returned.

    :raises SiteParseError: the plugin raised, or returned something that is not a
        :class:`Listing` (:class:`Detail`).
    """
    fn = spec.listing_fn if kind == "listing" else spec.detail_fn
    expected = Listing if kind == "listing" else Detail
    if fn is None:
        name = spec.listing if kind == "listing" else spec.detail
        fn = import_function(name) if name else None
    if fn is None:
        raise SiteParseError(f"site {site.name}: the plugin has no {kind} function")
    try:
        result = fn(site, body, url, content_type, now)
    except Exception as exc:
        raise SiteParseError(f"site {site.name}: parser plugin {kind} function failed: "
                             f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    if not isinstance(result, expected):
        raise SiteParseError(f"site {site.name}: parser plugin returned "
                             f"{type(result).__name__}, expected {expected.__name__}")
    return result
