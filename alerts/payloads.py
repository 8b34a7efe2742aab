"""Request bodies: the generic JSON envelope and thin Slack, Mattermost and Teams messages.

``generic`` is the Standard Webhooks envelope ``{"type", "timestamp", "data"}`` with the
event's facts — site, post (victim, title, URL, times as the leak site shows them), dataset
fingerprint and counts per method. Matched cohort refs (``data.refs``) stay in only for an
endpoint marked ``trusted``: the operator's own system, which maps refs to people.

The chat formats go to third-party clouds. They are built from an allow-list: the alert
type, names the operator configured (site, watchlist entry, cohort), numbers (members
matched per method, records, failures) and ids (dataset, post, alert) — never refs and never
text taken from a leak site or a posted file (victim, title, description, URLs, file names
may be anything a criminal wrote, including people's names). The report behind the id is
read on the host (``cohortwatch datasets show ID``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from alerts.errors import InvalidAlertError
from alerts.model import Alert
from alerts.settings import Endpoint

__all__ = ["chat_facts", "envelope", "render"]

_TITLES = {
    "post.watchlist_matched": "Watched organisation named on a leak site",
    "post.reappeared": "A removed leak post is back",
    "dataset.matched": "Cohort members found in a posted dataset",
    "dataset.reposted": "A dataset seen before was posted again",
    "site.down": "Leak site unreachable",
    "site.up": "Leak site reachable again",
    "parser.broken": "Leak-site parser finds no posts",
    "tor.unhealthy": "Tor is not usable",
    "selftest.ping": "cohortwatch test alert",
}
_COLOURS = {"dataset.matched": "#c0392b", "dataset.reposted": "#c0392b",
            "post.watchlist_matched": "#e67e22", "post.reappeared": "#e67e22",
            "selftest.ping": "#2e86c1", "site.up": "#27ae60"}
_METHODS = ("bsn", "bsn_corrected", "name_dob")
# Configured names are shown only in these characters: no markup reaches a chat renderer.
_UNSAFE = re.compile(r"[^\w .,'&()/+-]")


def _iso(alert: Alert) -> str:
    return alert.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidAlertError(f"alert data is not plain JSON ({exc})") from None


def _without_refs(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_refs(v) for k, v in value.items() if k != "refs"}
    if isinstance(value, list | tuple):
        return [_without_refs(v) for v in value]
    return value


def envelope(alert: Alert, *, refs: bool) -> dict[str, Any]:
    """The generic body as a dict; ``refs`` says whether cohort refs may stay in."""
    data = dict(alert.data) if refs else _without_refs(alert.data)
    return {"type": alert.type, "timestamp": _iso(alert), "data": data}


def _name(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _UNSAFE.sub("", value.strip())[:80] or None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def chat_facts(alert: Alert) -> list[tuple[str, str]]:
    """(label, value) pairs a chat message may carry, from the allow-list only."""
    d = alert.data
    facts: list[tuple[str, str]] = []

    def add(label: str, value: Any, convert: Callable[[Any], Any]) -> None:
        shown = convert(value)
        if shown is not None:
            facts.append((label, f"{shown:,}" if isinstance(shown, int) else shown))

    add("Site", d.get("site"), _name)
    if alert.type == "post.watchlist_matched":
        add("Watchlist entry", d.get("entry"), _name)
    post = d.get("post")
    if isinstance(post, Mapping):
        add("Post", post.get("id"), _count)
    add("Cohort", d.get("cohort"), _name)
    add("Members matched", d.get("members_matched"), _count)
    by_method = d.get("by_method")
    if isinstance(by_method, Mapping):
        parts = [f"{m} {_count(by_method.get(m)) or 0:,}" for m in _METHODS if m in by_method]
        if parts:
            facts.append(("By method", ", ".join(parts)))
    add("Records", d.get("records"), _count)
    add("Dataset", d.get("dataset_id"), _count)
    first = d.get("first_sighting")
    if isinstance(first, Mapping):
        add("First seen as dataset", first.get("id"), _count)
    add("Failed cycles", d.get("failures"), _count)
    if _count(d.get("dataset_id")) is not None:
        facts.append(("Report", f"cohortwatch datasets show {_count(d['dataset_id'])}"))
    return facts


def _footer(alert: Alert) -> str:
    return f"cohortwatch · {alert.type} · alert {alert.id} · {_iso(alert)}"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(alert: Alert) -> dict[str, Any]:
    title = _TITLES[alert.type]
    facts = chat_facts(alert)
    fallback = "; ".join([title, *(f"{k}: {v}" for k, v in facts)])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}}]
    if facts:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{k}*\n{_slack_escape(v)}"} for k, v in facts[:10]]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": _slack_escape(_footer(alert))}]})
    return {"text": _slack_escape(fallback), "blocks": blocks}


def _mattermost(alert: Alert) -> dict[str, Any]:
    title = _TITLES[alert.type]
    facts = chat_facts(alert)
    return {
        "username": "cohortwatch",
        "text": f"**{title}**",
        "attachments": [{
            "fallback": "; ".join([title, *(f"{k}: {v}" for k, v in facts)]),
            "color": _COLOURS.get(alert.type, "#7f8c8d"),
            "fields": [{"short": True, "title": k, "value": v} for k, v in facts],
            "footer": _footer(alert),
        }],
    }


def _teams(alert: Alert) -> dict[str, Any]:
    """An Adaptive Card in the message envelope that Teams' Workflows webhooks take."""
    facts = [{"title": k, "value": v} for k, v in chat_facts(alert)]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _TITLES[alert.type], "weight": "Bolder",
         "size": "Medium", "wrap": True}]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    body.append({"type": "TextBlock", "text": _footer(alert), "isSubtle": True,
                 "size": "Small", "wrap": True})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}


_CHAT = {"slack": _slack, "mattermost": _mattermost, "teams": _teams}


def render(alert: Alert, endpoint: Endpoint) -> bytes:
    """The exact bytes sent to ``endpoint`` for ``alert`` (the same on every attempt).

    :raises InvalidAlertError: ``alert.data`` holds something JSON cannot carry.
    """
    if endpoint.format == "generic":
        return _dumps(envelope(alert, refs=endpoint.refs_allowed))
    return _dumps(_CHAT[endpoint.format](alert))
