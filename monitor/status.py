"""``cohortwatch status``: what an operator asks first — is Tor usable, is each site read,
are alerts getting out, what is enrolled.

Read from the state database (:mod:`monitor.state_view`, the same questions ``/metrics``
asks) and from Tor's control port, probed once with a short timeout: an unreachable Tor
is part of the answer, never an error. It works beside a running daemon (reads only) and
without the secret key (cohorts are listed from their table, not loaded), so an operator
can run it although the key is a credential of the service alone.

The JSON form (``--json``) is one object with ``"schema": "cohortwatch.status/1"``; keys
may be added, none change meaning. Nothing in it is personal: sites by configured name,
mirrors by count (their addresses may carry access tokens), cohorts by name and size.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import state_view as view
from monitor.context import Context
from monitor.errors import TorError, TorUnavailableError
from monitor.tor.control import TorControl
from monitor.tor.settings import TorSettings

__all__ = ["SCHEMA", "collect_status", "probe_tor", "render_text"]

SCHEMA = "cohortwatch.status/1"


async def probe_tor(settings: TorSettings, state_dir: Path, timeout: float = 3.0
                    ) -> dict[str, Any]:
    """Connect to Tor's control port as the ``[tor]`` table says (for ``managed``: the
    port or socket our managed tor left in ``STATE_DIR/tor``) and read its health.

    Never raises for Tor's state: ``reachable`` is false and ``error`` says why.
    """
    out: dict[str, Any] = {"configured": bool(settings.control or settings.managed),
                           "managed": settings.managed, "control": settings.control or None,
                           "reachable": False, "error": None, "healthy": None,
                           "bootstrap_percent": None, "bootstrap": None,
                           "circuit_established": None, "network_live": None,
                           "dormant": None, "problems": []}
    if not out["configured"]:
        out["error"] = "no control port configured (tor.control is empty)"
        return out
    # Each step under its own timeout, never an outer one: TorControl.connect closes what
    # it opened when its timeout fires (which frees its worker thread), but not when it is
    # cancelled from outside — and asyncio.run would then wait for that thread forever.
    try:
        control = await _connect(settings, state_dir, timeout, out)
    except TorError as exc:
        out["error"] = str(exc)
        return out
    try:
        health = await asyncio.wait_for(control.health(), timeout)
    except TorError as exc:
        out["error"] = str(exc)
        return out
    except TimeoutError:
        out["error"] = f"Tor's {control.where} did not answer within {timeout:g} s"
        return out
    finally:
        await control.close()  # also frees a worker thread still waiting for an answer
    out.update(reachable=True, healthy=health.healthy,
               bootstrap_percent=health.bootstrap.percent,
               bootstrap=health.bootstrap.describe(),
               circuit_established=health.circuit_established,
               network_live=health.network_live, dormant=health.dormant,
               problems=health.problems())
    return out


async def _connect(settings: TorSettings, state_dir: Path, timeout: float,
                   out: dict[str, Any]) -> TorControl:
    """:raises TorError: nothing to connect to, or the connection failed."""
    if not settings.managed:
        return await TorControl.from_settings(settings, timeout=timeout)
    data_dir = state_dir / "tor"
    cookie = data_dir / "control_auth_cookie"
    sock = data_dir / "control.sock"
    if sock.exists():
        out["control"] = str(sock)
        return await TorControl.connect(socket_path=sock, cookie_path=cookie, timeout=timeout)
    try:
        text = (data_dir / "control-port").read_text(encoding="utf-8")
    except OSError:
        text = ""
    match = re.search(r"PORT=[^\s:]+:(\d+)", text)
    if match is None:
        raise TorUnavailableError(f"the managed tor is not running (no control port in "
                                  f"{data_dir}; it runs inside `cohortwatch run`)")
    out["control"] = f"127.0.0.1:{match.group(1)}"
    return await TorControl.connect(port=int(match.group(1)), cookie_path=cookie,
                                    timeout=timeout)


def collect_status(ctx: Context, *, tor_timeout: float = 3.0,
                   now: datetime | None = None) -> dict[str, Any]:
    """Everything ``cohortwatch status`` shows, as the JSON object it prints.

    :raises StateError: no state directory, or its database is unusable.
    """
    conn = ctx.db.conn
    tables = view.table_names(conn)
    rows = {r["name"]: r for r in view.site_rows(conn, tables)}
    mirrors = view.mirror_counts(conn, tables)
    posts = view.post_counts(conn, tables)
    sites = []
    configured = {s.name: s for s in ctx.config.sites}
    for name in [*configured, *sorted(set(rows) - set(configured))]:
        site, row = configured.get(name), rows.get(name, {})
        counts = dict(mirrors.get(name, {}))
        if site is not None:
            counts["unknown"] = max(0, len(site.mirrors) - counts.get("up", 0)
                                    - counts.get("down", 0))
        sites.append({
            "name": name,
            "configured": site is not None,
            "enabled": bool(site.enabled) if site is not None else False,
            "state": row.get("state") or "unknown",
            "crawled": bool(row.get("first_crawl")),
            "failures": int(row.get("failures") or 0),
            "last_success": row.get("last_success"),
            "last_attempt": row.get("last_attempt"),
            "next_due": row.get("next_due"),
            "parser_broken": bool(row.get("parser_broken")),
            "baseline_done": bool(row.get("baseline_done")),
            "posts_listed": int(row.get("last_posts") or 0),
            "posts": posts.get(name, {"listed": 0, "removed": 0}),
            "mirrors": {k: counts.get(k, 0) for k in ("up", "down", "unknown")},
            "last_error": row.get("last_error") or None,
        })
    outbox = view.outbox_counts(conn, tables)
    events = view.event_counts(conn, tables)
    return {
        "schema": SCHEMA,
        "generated": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "state_dir": str(ctx.state_dir),
        "tor": asyncio.run(probe_tor(ctx.config.tor, ctx.state_dir, tor_timeout)),
        "sites": sites,
        "outbox": {"present": False} if outbox is None else {
            "present": True, "depth": outbox.depth, "dead": outbox.dead,
            "disabled": outbox.disabled, "oldest_pending": outbox.oldest_pending,
            "by_status": outbox.by_status, "endpoints": outbox.by_endpoint,
            "disabled_endpoints": outbox.disabled_endpoints},
        "cohorts": [{k: c[k] for k in ("name", "members", "updated")}
                    for c in view.cohorts(conn, tables)],
        "datasets": view.dataset_counts(conn, tables),
        "members_matched": view.members_by_method(conn, tables),
        "events": {"total": sum(events.values()), "by_type": events},
    }


# -- human output -----------------------------------------------------------------------


def _ago(text: str | None, now: datetime) -> str:
    """``2025-07-06 12:00Z (3h ago)``, ``… (in 12m)``, or ``-``."""
    if not text:
        return "-"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    seconds = (now - when).total_seconds()
    span = abs(seconds)
    if span < 90:
        rel = f"{span:.0f}s"
    elif span < 5400:
        rel = f"{span / 60:.0f}m"
    elif span < 172800:
        rel = f"{span / 3600:.0f}h"
    else:
        rel = f"{span / 86400:.0f}d"
    rel = f"{rel} ago" if seconds >= 0 else f"in {rel}"
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M}Z ({rel})"


def _tor_lines(tor: dict[str, Any]) -> list[str]:
    where = tor.get("control") or "-"
    if not tor["configured"]:
        return ["not checked: no control port configured (tor.control is empty)"]
    if not tor["reachable"]:
        return [f"UNREACHABLE at {where}", f"  {tor['error']}"]
    head = "healthy" if tor["healthy"] else "NOT HEALTHY"
    lines = [f"{head} ({where}): bootstrap {tor['bootstrap']}, circuit "
             f"{'established' if tor['circuit_established'] else 'none'}, network "
             f"{'live' if tor['network_live'] else 'down'}"
             + (", dormant" if tor.get("dormant") else "")]
    lines += [f"  problem: {p}" for p in tor.get("problems", [])]
    return lines


def _site_table(sites: list[dict[str, Any]], now: datetime) -> list[str]:
    if not sites:
        return ["none configured ([sites.NAME] tables, see docs/sites.md)"]
    width = max(4, *(len(s["name"]) for s in sites))
    lines = [f"{'name':<{width}}  {'state':<7} {'last success':<27} {'fails':>5}  "
             f"{'next due':<27} {'mirrors':<9} posts"]
    for s in sites:
        if not s["crawled"]:
            note = "disabled" if s["configured"] and not s["enabled"] else "never crawled"
            lines.append(f"{s['name']:<{width}}  {'-':<7} {note}")
            continue
        state = s["state"] + ("!" if s["parser_broken"] else "")
        m = s["mirrors"]
        mirrors = f"{m['up']}/{m['up'] + m['down'] + m['unknown']} up"
        flags = []
        if s["parser_broken"]:
            flags.append("parser broken")
        if not s["configured"]:
            flags.append("not configured")
        elif not s["enabled"]:
            flags.append("disabled")
        lines.append(
            f"{s['name']:<{width}}  {state:<7} {_ago(s['last_success'], now):<27} "
            f"{s['failures']:>5}  {_ago(s['next_due'], now):<27} {mirrors:<9} "
            f"{s['posts']['listed']} listed, {s['posts']['removed']} removed"
            + (f"  [{', '.join(flags)}]" if flags else ""))
        if s["last_error"] and s["failures"]:
            lines.append(f"{'':<{width}}  why: {s['last_error']}")
    return lines


def render_text(status: dict[str, Any]) -> str:
    """The compact, aligned human form of :func:`collect_status`'s object."""
    now = datetime.fromisoformat(status["generated"])
    out = [f"cohortwatch status, {now.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z, "
           f"state {status['state_dir']}"]

    def section(title: str, lines: list[str]) -> None:
        out.append(f"{title:<9} {lines[0]}")
        out.extend(f"{'':<9} {line}" for line in lines[1:])

    section("tor", _tor_lines(status["tor"]))
    section("sites", _site_table(status["sites"], now))
    ob = status["outbox"]
    if not ob["present"]:
        section("outbox", ["no outbox yet (alerts are queued once `cohortwatch run` "
                           "delivers them)"])
    else:
        lines = [f"{ob['depth']} waiting, {ob['dead']} dead, {ob['disabled']} disabled"
                 + (f"; oldest waiting since {_ago(ob['oldest_pending'], now)}"
                    if ob["oldest_pending"] else "")]
        for ep in sorted(set(ob["endpoints"]) | set(ob["disabled_endpoints"])):
            by, since = ob["endpoints"].get(ep, {}), ob["disabled_endpoints"].get(ep)
            lines.append(f"  {ep}: " + ", ".join(f"{n} {st}" for st, n in sorted(by.items()))
                         + (f"  [DISABLED since {_ago(since, now)}: cohortwatch alerts "
                            f"enable {ep}]" if ep in ob["disabled_endpoints"] else ""))
        section("outbox", lines)
    cohorts = status["cohorts"]
    if cohorts:
        width = max(len(c["name"]) for c in cohorts)
        section("cohorts", [f"{c['name']:<{width}}  {c['members']:>10,} members  updated "
                            f"{c['updated'] or '-'}" for c in cohorts])
    else:
        section("cohorts", ["none enrolled (cohortwatch cohort enroll FILE --name NAME)"])
    ds, mm = status["datasets"], status["members_matched"]
    section("datasets", [f"{ds['scanned']} scanned, {ds['matched']} with cohort members; "
                         "members in alerts: "
                         + ", ".join(f"{k} {v}" for k, v in mm.items())])
    ev = status["events"]
    section("events", [f"{ev['total']} recorded" + (": " + ", ".join(
        f"{t} {n}" for t, n in ev["by_type"].items()) if ev["by_type"] else "")])
    return "\n".join(out)
