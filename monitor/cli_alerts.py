"""``cohortwatch alerts test|list|flush|enable`` and ``cohortwatch export misp``: the outbox
by hand, and fingerprints for other CERTs. Registered on the main group by
:mod:`monitor.cli`; the work is done by :mod:`alerts`."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
import sqlite_utils

from alerts.errors import AlertConfigError, AlertError
from alerts.misp import TLP_LEVELS, misp_event
from alerts.model import selftest_alert
from alerts.outbox import Outbox
from matchers.archives import sigterm_raises
from monitor.context import Context

if TYPE_CHECKING:
    from alerts.deliver import DeliveryCounts

__all__ = ["alerts_group", "export_group"]


def _stamp(text: str | None) -> str:
    return text[:19].replace("T", " ") if text else "-"


def _require_endpoints(obj: Context) -> None:
    if not obj.config.alerts.endpoints:
        raise AlertConfigError(f"no webhook endpoints configured in {obj.config.source}: add "
                               "[[alerts.endpoints]] tables (see README, Alerts)")


@click.group("alerts")
def alerts_group() -> None:
    """Signed webhook alerts: test the endpoints, list and flush the outbox."""


@alerts_group.command("test")
@click.pass_obj
def alerts_test(obj: Context) -> None:
    """Send a signed selftest.ping to every endpoint now (not retried). Exit 0: every
    endpoint accepted it; 1: at least one did not; 2: configuration error."""
    _require_endpoints(obj)
    outbox = Outbox(obj.db)
    alert = selftest_alert()

    async def go():
        from alerts.deliver import Deliverer  # aiohttp: only for commands that send

        async with Deliverer(outbox, obj.config.alerts) as deliverer:
            outbox.enqueue(alert, obj.config.alerts.endpoints)
            return await deliverer.deliver_alert(alert.id, retry=False)

    with sigterm_raises():
        results = asyncio.run(go())
    for r in results:
        if r.outcome == "delivered":
            click.echo(f"{r.endpoint}: delivered (HTTP {r.status}, {r.seconds:.2f} s)")
        elif r.outcome == "disabled":
            click.echo(f"{r.endpoint}: disabled — it answered 410 Gone; "
                       f"`cohortwatch alerts enable {r.endpoint}` after fixing the receiver")
        else:
            click.echo(f"{r.endpoint}: failed: {r.error}")
    click.echo(f"alert id {alert.id}")
    if any(r.outcome != "delivered" for r in results):
        raise SystemExit(1)


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead", "disabled"]),
              help="Only rows in this state.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="Newest rows shown.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_obj
def alerts_list(obj: Context, status: str | None, limit: int, as_json: bool) -> None:
    """The outbox, newest first: alert id, type, endpoint, state, attempts, next attempt,
    last error; and endpoints disabled by a 410 answer. Bodies are not shown."""
    outbox = Outbox(obj.db)
    rows = [r.public() for r in outbox.rows(status=status, limit=limit)]
    disabled = outbox.disabled()
    if as_json:
        click.echo(json.dumps({
            "rows": rows, "pending": outbox.depth(), "counts": outbox.counts(),
            "disabled_endpoints": [{"name": n, "since": d["disabled_at"], "reason": d["reason"]}
                                   for n, d in sorted(disabled.items())],
        }, ensure_ascii=False))
        return
    for name, d in sorted(disabled.items()):
        click.echo(f"endpoint {name}: DISABLED since {_stamp(d['disabled_at'])} "
                   f"({d['reason']}); `cohortwatch alerts enable {name}` sends again")
    if not rows:
        click.echo("the outbox is empty" if status is None else f"no {status} alerts")
        return
    click.echo(f"{'id':>5}  {'alert':<37} {'type':<22} {'endpoint':<14} {'status':<9} "
               f"{'tries':>5}  {'next attempt':<19}  last error")
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['webhook_id']:<37} {r['type']:<22} {r['endpoint']:<14} "
                   f"{r['status']:<9} {r['attempts']:>5}  {_stamp(r['next_attempt']):<19}  "
                   f"{r['last_error'] or ''}".rstrip())
    click.echo(f"{outbox.depth()} pending")


@alerts_group.command("flush")
@click.option("--deadline", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS", help="Stop after this long, or when the next retry falls "
              "after it.")
@click.pass_obj
def alerts_flush(obj: Context, deadline: float) -> None:
    """Deliver what is due now, and retries that come due before the deadline. Exit 0: no
    alert is left pending; 1: some are (the daemon retries them later)."""
    _require_endpoints(obj)
    outbox = Outbox(obj.db)
    end = time.time() + deadline

    async def go() -> tuple[DeliveryCounts, float | None]:
        from alerts.deliver import Deliverer, DeliveryCounts

        total = DeliveryCounts()

        async with Deliverer(outbox, obj.config.alerts) as deliverer:
            while True:
                done = await deliverer.deliver_due()
                for key in vars(total):
                    setattr(total, key, getattr(total, key) + getattr(done, key))
                upcoming = [t for name in deliverer.targets
                            if (t := deliverer.next_attempt_at(name)) is not None]
                if not upcoming:
                    return total, None
                soonest = min(upcoming)
                if soonest > end:
                    return total, soonest
                await asyncio.sleep(min(max(soonest - time.time(), 0.05), 5.0))

    with sigterm_raises():
        total, soonest = asyncio.run(go())
    pending = sum(outbox.depth(name) for name in (e.name for e in obj.config.alerts.endpoints))
    line = (f"delivered {total.delivered}, retrying {total.retrying}, dead {total.dead}, "
            f"disabled {total.disabled}; {pending} pending")
    if soonest is not None:
        moment = datetime.fromtimestamp(soonest, UTC).isoformat(timespec="seconds")
        line += f" (next attempt {moment})"
    click.echo(line)
    if pending:
        raise SystemExit(1)


@alerts_group.command("enable")
@click.argument("name")
@click.pass_obj
def alerts_enable(obj: Context, name: str) -> None:
    """Send to an endpoint again after it answered 410 Gone; its held alerts go out."""
    outbox = Outbox(obj.db)
    if name not in outbox.disabled():
        raise AlertError(f"endpoint {name!r} is not disabled (`cohortwatch alerts list` "
                         "shows disabled endpoints)")
    rows = outbox.enable_endpoint(name)
    click.echo(f"endpoint {name}: enabled; {rows} alerts pending again")


# --------------------------------------------------------------------------- export


@click.group("export")
def export_group() -> None:
    """Export what cohortwatch found for other tools (counts and fingerprints only)."""


_AGO = re.compile(r"(\d+)([dhm])")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    if m := _AGO.fullmatch(value.strip()):
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m[2]]
        return datetime.now(UTC) - timedelta(**{unit: int(m[1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected an ISO 8601 date or time, or e.g. 7d / 12h",
                                 param_hint="--since") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sightings(db: sqlite_utils.Database, dataset_id: int) -> list[dict[str, Any]]:
    if not {"post_files", "posts"} <= set(db.table_names()):
        return []  # no crawl ever ran here: datasets came from check-dataset
    return [dict(r) for r in db.query(
        "select p.site as site, p.url as post_url, f.url as file_url, "
        "p.watch_entry as watch_entry, p.first_seen as first_seen from post_files f "
        "join posts p on p.id = f.post_id where f.dataset_id = ? order by f.id",
        [dataset_id])]


def _by_method(db: sqlite_utils.Database, dataset_id: int) -> dict[str, int] | None:
    if "events" not in db.table_names():
        return None
    for row in db.query("select data from events where type = 'dataset.matched' and "
                        "dataset_id = ? order by id limit 1", [dataset_id]):
        found = json.loads(row["data"] or "{}").get("by_method")
        if isinstance(found, dict):
            return {k: int(v) for k, v in found.items()}
    return None


@export_group.command("misp")
@click.option("--dataset", "dataset_ids", type=int, multiple=True, metavar="ID",
              help="This dataset (repeatable; ids from `cohortwatch datasets list`).")
@click.option("--since", metavar="WHEN", help="Datasets first seen since an ISO date/time "
              "or for the last 7d / 12h.")
@click.option("--tlp", type=click.Choice(TLP_LEVELS), default="amber", show_default=True,
              help="TLP tag of the event.")
@click.pass_obj
def export_misp(obj: Context, dataset_ids: tuple[int, ...], since: str | None,
                tlp: str) -> None:
    """Print MISP event JSON for scanned datasets: SHA-256 and TLSH of the files, size,
    record and match counts, the leak post and file URLs — never refs or personal data.
    One --dataset prints {"Event": ...}; otherwise {"response": [{"Event": ...}, ...]}."""
    from matchers.history import dataset_row, list_datasets

    db = obj.db
    if dataset_ids:
        ids = list(dict.fromkeys(dataset_ids))
    else:
        start = _since(since)
        ids = [r["id"] for r in list_datasets(db)
               if start is None or datetime.fromisoformat(r["first_seen"]) >= start]
    events = []
    for dataset_id in ids:
        row = dataset_row(db, dataset_id)
        if row is None:
            raise AlertError(f"no dataset {dataset_id}; `cohortwatch datasets list` shows "
                             "the ids")
        events.append(misp_event(row, _sightings(db, dataset_id),
                                 by_method=_by_method(db, dataset_id), tlp=tlp))
    if len(dataset_ids) == 1:
        click.echo(json.dumps(events[0], ensure_ascii=False, indent=2))
    else:
        click.echo(json.dumps({"response": events}, ensure_ascii=False, indent=2))
