"""The ``[alerts]`` table and its ``[[alerts.endpoints]]``, validated once into frozen values.

Secrets are never in the configuration: an endpoint names a ``secret_file`` holding its
Standard Webhooks secret (``whsec_<base64>``), read when a deliverer is built
(:mod:`alerts.credentials`). A chat webhook URL is itself a bearer token, so it may come from
a ``url_file`` the same way. Errors name the file and the key path, e.g.
``cohortwatch.toml: at 'alerts.endpoints[1].format': ...``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alerts.errors import AlertConfigError
from alerts.model import EVENT_TYPES

__all__ = ["FORMATS", "AlertSettings", "Endpoint", "load_alert_settings", "url_problem"]

FORMATS = ("generic", "slack", "mattermost", "teams")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True)
class Endpoint:
    """One webhook receiver.

    ``trusted`` matters only for the ``generic`` format: only a trusted generic endpoint
    (the operator's own system) receives matched cohort refs. Chat formats go to third-party
    clouds and carry counts and ids only, whatever ``trusted`` says.
    """

    name: str
    url: str = ""
    url_file: str = ""
    format: str = "generic"
    secret_file: str = ""
    trusted: bool = False
    events: tuple[str, ...] = EVENT_TYPES

    @property
    def refs_allowed(self) -> bool:
        return self.trusted and self.format == "generic"

    def wants(self, alert_type: str) -> bool:
        """Whether this endpoint subscribed to ``alert_type``; a self-test goes everywhere."""
        return alert_type == "selftest.ping" or alert_type in self.events


@dataclass(frozen=True)
class AlertSettings:
    """Delivery policy. Times are seconds.

    Retries back off exponentially from ``initial_backoff`` to ``max_backoff`` (each delay
    drawn between half and all of its step, so receivers coming back are not hit by every
    sender at once) until an alert is ``give_up_after`` old: the default keeps trying for
    two days, so a receiver down over a weekend night still gets everything.
    """

    endpoints: tuple[Endpoint, ...] = ()
    initial_backoff: float = 30.0
    max_backoff: float = 3600.0
    give_up_after: float = 172800.0
    timeout: float = 10.0  # one request, connect to last byte
    concurrency: int = 8  # requests in flight over all endpoints (one per endpoint)
    refused_attempts: int = 5  # attempts before a 3xx/4xx answer makes an alert dead
    poll_interval: float = 5.0  # how often the outbox is looked at when nothing woke it
    base_dir: Path | None = None  # relative secret_file/url_file names: after credentials

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _err(source: str, where: str, message: str) -> AlertConfigError:
    return AlertConfigError(f"{source}: at '{where}': {message}")


def url_problem(url: str, *, trusted: bool) -> str | None:
    """What is wrong with a receiver URL, or None. Refs never travel in clear text over a
    network: a trusted endpoint needs ``https`` unless it is on this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL"
    if trusted and parts.scheme == "http" and not _is_loopback(parts.hostname):
        return ("a trusted endpoint receives cohort refs and needs https (plain http only "
                "to this machine)")
    return None


def _events(value: Any, where: str, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _err(source, where, "expected a non-empty list of alert types")
    chosen: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _err(source, f"{where}[{i}]", "expected a string")
        if item.endswith(".*"):
            matched = [t for t in EVENT_TYPES if t.startswith(item[:-1])]
        else:
            matched = [item] if item in EVENT_TYPES else []
        if not matched:
            raise _err(source, f"{where}[{i}]", f"unknown alert type {item!r} (known: "
                       f"{', '.join(EVENT_TYPES)}; or a prefix such as 'dataset.*')")
        chosen += [t for t in matched if t not in chosen]
    return tuple(chosen)


def _endpoint(data: Any, where: str, source: str) -> Endpoint:
    if not isinstance(data, dict):
        raise _err(source, where, "expected a table")
    known = [f.name for f in fields(Endpoint)]
    values: dict[str, Any] = {}
    for key, value in data.items():
        at = f"{where}.{key}"
        if key not in known:
            raise _err(source, at, f"unknown key (known: {', '.join(sorted(known))})")
        if key == "trusted":
            if not isinstance(value, bool):
                raise _err(source, at, "expected true or false")
            values[key] = value
        elif key == "events":
            values[key] = _events(value, at, source)
        elif not isinstance(value, str) or not value:
            raise _err(source, at, "expected a non-empty string")
        else:
            values[key] = value
    if "name" not in values:
        raise _err(source, where, "missing 'name'")
    name = values["name"]
    if not set(name) <= _NAME_CHARS or len(name) > 64:
        raise _err(source, f"{where}.name", "use lower-case letters, digits and - _ . "
                   "(at most 64)")
    if values.get("format", "generic") not in FORMATS:
        raise _err(source, f"{where}.format", f"expected one of {', '.join(FORMATS)}")
    if ("url" in values) == ("url_file" in values):
        raise _err(source, where, "give exactly one of 'url' and 'url_file' (a file for "
                   "URLs that carry a token, as Slack's and Teams' do)")
    if "url" in values:
        problem = url_problem(values["url"], trusted=bool(values.get("trusted")))
        if problem:
            raise _err(source, f"{where}.url", problem)
    if values.get("format", "generic") == "generic" and "secret_file" not in values:
        raise _err(source, where, "missing 'secret_file' (the receiver of a generic "
                   "endpoint verifies every request with its Standard Webhooks secret)")
    return Endpoint(**values)


def load_alert_settings(data: Any, source: str) -> AlertSettings:
    """Validate the ``[alerts]`` table of ``source`` (the config file's name).

    Relative ``secret_file``/``url_file`` names are looked up in ``$CREDENTIALS_DIRECTORY``
    first, then next to the configuration file.

    :raises AlertConfigError: unknown key, wrong type, bad URL, duplicate endpoint name.
    """
    if not isinstance(data, dict):
        raise AlertConfigError(f"{source}: at 'alerts': expected a table")
    defaults = AlertSettings()
    numbers = [f.name for f in fields(AlertSettings) if f.name not in ("endpoints", "base_dir")]
    values: dict[str, Any] = {}
    for key, value in data.items():
        at = f"{source}: at 'alerts.{key}'"
        if key == "endpoints":
            if not isinstance(value, list):
                raise AlertConfigError(f"{at}: expected [[alerts.endpoints]] tables")
            endpoints = [_endpoint(item, f"alerts.endpoints[{i}]", source)
                         for i, item in enumerate(value)]
            names = [e.name for e in endpoints]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise AlertConfigError(f"{at}: endpoint names must be unique "
                                       f"({', '.join(dupes)} repeated)")
            values["endpoints"] = tuple(endpoints)
            continue
        if key not in numbers:
            raise AlertConfigError(f"{at}: unknown key (known: "
                                   f"{', '.join(sorted(['endpoints', *numbers]))})")
        default = getattr(defaults, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AlertConfigError(f"{at}: expected a number")
        if isinstance(default, int) and not isinstance(value, int):
            raise AlertConfigError(f"{at}: expected a whole number")
        if value <= 0:
            raise AlertConfigError(f"{at}: must be greater than 0")
        values[key] = value
    settings = AlertSettings(**values, base_dir=Path(source).parent)
    if settings.max_backoff < settings.initial_backoff:
        raise AlertConfigError(f"{source}: at 'alerts.max_backoff': must not be less than "
                               "initial_backoff")
    return settings
