"""Alerts as the daemon uses them: outbox, signed delivery, retries, payloads, settings.

Every delivery goes to a real aiohttp receiver on 127.0.0.1 (:mod:`webhook_receiver`) that
verifies signatures with the reference ``standardwebhooks`` library and deduplicates on
``webhook-id``. Backoffs are set to fractions of a second so the retry paths run in
real time, quickly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from webhook_receiver import Answer, Receiver, make_secret

from alerts import (
    Alert,
    AlertSettings,
    Deliverer,
    InvalidAlertError,
    Outbox,
    WebhookSecretError,
    alert_from_event,
    alert_id,
    load_alert_settings,
    misp_event,
    render,
)
from alerts.credentials import parse_secret
from alerts.deliver import resolve_target
from alerts.policy import backoff, judge_status, parse_retry_after
from alerts.settings import Endpoint
from matchers.errors import ConfigError
from matchers.store import open_db
from monitor.config import load_config

REFS = ["C0000123", "C0000456", "C0000789"]
LEAK_TEXT = ["Clinical Diagnostics NMDL", "NMDL full dump, 485k patients",
             "http://leaksiteexample.onion/post/42", "http://leaksiteexample.onion/f/dump.zip"]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    database = open_db(state)
    yield database
    database.conn.close()


@pytest.fixture
async def receiver() -> Any:
    r = await Receiver().start()
    yield r
    await r.stop()


def dataset_alert(n: int = 1, *, when: datetime | None = None) -> Alert:
    return Alert(
        type="dataset.matched", id=alert_id(f"dataset.matched:{n:064x}:screening"),
        timestamp=when or datetime.now(UTC),
        data={"site": "lab", "post": {"id": 42, "victim": LEAK_TEXT[0], "title": LEAK_TEXT[1],
                                      "url": LEAK_TEXT[2], "published": "2025-07-06",
                                      "deadline": None, "first_seen": "2025-07-06T10:00:00+00:00"},
              "file": LEAK_TEXT[3], "dataset_id": 7, "sha256": "ab" * 32, "bytes": 123456,
              "records": 5000, "fingerprint": {"tlsh_files": ["T1" + "0" * 70]},
              "cohort": "screening", "members_matched": 3,
              "by_method": {"bsn": 2, "bsn_corrected": 0, "name_dob": 1}, "refs": REFS})


def watch_alert() -> Alert:
    return Alert(type="post.watchlist_matched", id=alert_id("post.watchlist_matched:42"),
                 timestamp=datetime.now(UTC),
                 data={"site": "lab", "post": {"id": 42, "victim": LEAK_TEXT[0],
                                               "title": LEAK_TEXT[1], "url": LEAK_TEXT[2]},
                       "entry": "Clinical Diagnostics NMDL", "score": 0.97, "field": "victim"})


def settings(tmp_path: Path, receiver: Receiver | None, endpoints: list[dict[str, Any]],
             port: int | None = None, **policy: Any) -> AlertSettings:
    """Settings through the real loader; each endpoint gets a secret file unless it says
    ``secret: False``, and a URL on the receiver unless it names one."""
    for i, e in enumerate(endpoints):
        if e.pop("secret", True):
            secret = make_secret(i + 1)
            path = tmp_path / f"{e['name']}.secret"
            path.write_text(secret + "\n")
            path.chmod(0o600)
            e.setdefault("secret_file", path.name)
            if receiver is not None:
                receiver.secrets[e["name"]] = secret
        if "url" not in e and "url_file" not in e:
            e["url"] = (receiver.url(e["name"]) if receiver is not None
                        else f"http://127.0.0.1:{port}/hook/{e['name']}")
    policy = {"initial_backoff": 0.05, "max_backoff": 0.2, "timeout": 2.0, **policy}
    return load_alert_settings({"endpoints": endpoints, **policy},
                               str(tmp_path / "cohortwatch.toml"))


async def run_until(deliverer: Deliverer, done: Callable[[], bool], timeout: float = 8.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run_forever(stop))
    try:
        end = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < end, "condition not reached in time"
            assert not task.done(), task
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def statuses(outbox: Outbox) -> dict[tuple[str, str], str]:
    return {(r.endpoint, r.webhook_id): r.status for r in outbox.rows()}


class StepClock:
    """Real time plus one second more at every reading: each attempt gets a later
    ``webhook-timestamp`` without the test waiting, and backoffs are always over."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        self.shift += 1.0
        return time.time() + self.shift


# --------------------------------------------------------------------------- signing


async def test_signature_verifies_with_the_reference_library(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    s = settings(tmp_path, receiver, [{"name": "own", "trusted": True}])
    outbox = Outbox(db)
    alert = dataset_alert()
    assert outbox.enqueue(alert, s.endpoints) == 1
    async with Deliverer(outbox, s) as deliverer:
        counts = await deliverer.deliver_due()
    assert (counts.attempted, counts.delivered) == (1, 1)
    (arrival,) = receiver.arrivals
    assert arrival.verified is True
    assert arrival.webhook_id == alert.id
    assert abs(int(arrival.timestamp) - time.time()) < 5
    assert arrival.headers["webhook-signature"].startswith("v1,")
    assert arrival.headers["content-type"] == "application/json"
    assert arrival.headers["user-agent"].startswith("cohortwatch/")
    body = arrival.json()
    assert list(body) == ["type", "timestamp", "data"]
    assert body["type"] == "dataset.matched"
    assert body["timestamp"].endswith("Z")
    assert body["data"]["refs"] == REFS  # trusted generic endpoint
    assert statuses(outbox) == {("own", alert.id): "delivered"}


async def test_a_wrong_secret_is_rejected_by_the_receiver(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    s = settings(tmp_path, receiver, [{"name": "own"}], refused_attempts=1)
    receiver.secrets["own"] = make_secret(99)  # the receiver expects another secret
    outbox = Outbox(db)
    outbox.enqueue(dataset_alert(), s.endpoints)
    async with Deliverer(outbox, s) as deliverer:
        await deliverer.deliver_due()
    assert receiver.arrivals[0].verified is False
    (row,) = outbox.rows()
    assert (row.status, row.last_status) == ("dead", 401)


async def test_retries_keep_id_and_body_and_are_signed_anew(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.script["own"] = [Answer(500), Answer(503)]
    s = settings(tmp_path, receiver, [{"name": "own"}])
    outbox = Outbox(db)
    alert = dataset_alert()
    outbox.enqueue(alert, s.endpoints)
    async with Deliverer(outbox, s, clock=StepClock()) as deliverer:
        counts = await deliverer.deliver_due()
    assert (counts.retrying, counts.delivered) == (2, 1)
    arrivals = receiver.of("own")
    assert len(arrivals) == 3
    assert {a.webhook_id for a in arrivals} == {alert.id}
    assert len({a.body for a in arrivals}) == 1
    stamps = [int(a.timestamp) for a in arrivals]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3  # fresh timestamp per attempt
    assert len({a.headers["webhook-signature"] for a in arrivals}) == 3
    assert all(a.verified for a in arrivals)
    (row,) = outbox.rows()
    assert (row.status, row.attempts) == ("delivered", 3)


# --------------------------------------------------------------------------- failures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_receiver_down_then_up_loses_nothing(
        tmp_path: Path, db: sqlite_utils.Database) -> None:
    port = _free_port()
    receiver = Receiver()
    s = settings(tmp_path, receiver, [{"name": "own", "url": f"http://127.0.0.1:{port}/hook/own"}])
    outbox = Outbox(db)
    alerts = [dataset_alert(n) for n in range(5)]
    for alert in alerts:
        outbox.enqueue(alert, s.endpoints)
    deliverer = Deliverer(outbox, s)
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run_forever(stop))
    try:
        await asyncio.sleep(0.6)  # nobody listening: connection refused, backing off
        rows = outbox.rows()
        assert all(r.status == "pending" for r in rows)
        tried = [r for r in rows if r.attempts]
        assert tried and all("cannot connect" in (r.last_error or "") for r in tried)
        # The endpoint is held after each failure: one probe per (growing) backoff step,
        # not every queued alert in every step.
        assert sum(r.attempts for r in rows) <= 6
        await receiver.start(port)
        end = time.monotonic() + 8
        while len(receiver.processed) < 5:
            assert time.monotonic() < end, receiver.processed
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await receiver.stop()
    assert set(receiver.processed) == {("own", a.id) for a in alerts}
    assert set(receiver.processed.values()) == {1}
    assert set(statuses(outbox).values()) == {"delivered"}
    assert max(r.attempts for r in outbox.rows()) > 1


async def test_slow_receiver_times_out_and_the_retry_is_delivered(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.script["own"] = [Answer(delay=1.0)]
    s = settings(tmp_path, receiver, [{"name": "own"}], timeout=0.3)
    outbox = Outbox(db)
    alert = dataset_alert()
    outbox.enqueue(alert, s.endpoints)
    async with Deliverer(outbox, s) as deliverer:
        first = await deliverer.deliver_due()
        (row,) = outbox.rows()
        assert first.retrying == 1 and row.last_error == "timed out after 0.3 s"
        await asyncio.sleep(0.25)
        second = await deliverer.deliver_due()
    assert second.delivered == 1
    await asyncio.sleep(0.8)  # the first, slow request finishes on the receiver's side
    assert [a.webhook_id for a in receiver.of("own")] == [alert.id, alert.id]
    assert receiver.processed == {("own", alert.id): 1}


async def test_429_retry_after_is_honoured(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.script["own"] = [Answer(429, headers={"Retry-After": "1"})]
    s = settings(tmp_path, receiver, [{"name": "own"}], initial_backoff=0.01)
    outbox = Outbox(db)
    outbox.enqueue(dataset_alert(), s.endpoints)
    deliverer = Deliverer(outbox, s)
    await run_until(deliverer, lambda: len(receiver.processed) == 1)
    first, second = receiver.of("own")
    assert second.at - first.at >= 0.95


def test_retry_after_as_seconds_and_http_date() -> None:
    now = time.time()
    assert parse_retry_after("120", now) == 120.0
    later = datetime.fromtimestamp(now, UTC) + timedelta(seconds=90)
    assert parse_retry_after(format_datetime(later, usegmt=True), now) == pytest.approx(90, abs=1)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
    assert judge_status(503, "7", now).retry_after == 7.0


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    s = AlertSettings(initial_backoff=30, max_backoff=3600)
    for attempts, step in [(1, 30), (2, 60), (3, 120), (8, 3600), (40, 3600)]:
        delays = [backoff(attempts, s) for _ in range(200)]
        assert step / 2 <= min(delays) and max(delays) <= step
        assert max(delays) - min(delays) > step / 10  # jittered


async def test_500_backs_off_then_gives_up_at_the_age_limit(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.default["own"] = Answer(500)
    s = settings(tmp_path, receiver, [{"name": "own"}], initial_backoff=0.05,
                 max_backoff=0.2, give_up_after=0.8)
    outbox = Outbox(db)
    outbox.enqueue(dataset_alert(), s.endpoints)
    deliverer = Deliverer(outbox, s)
    await run_until(deliverer, lambda: outbox.rows()[0].status == "dead")
    (row,) = outbox.rows()
    assert "HTTP 500" in (row.last_error or "") and "gave up" in (row.last_error or "")
    arrivals = receiver.of("own")
    assert 3 <= len(arrivals) == row.attempts
    gaps = [b.at - a.at for a, b in itertools.pairwise(arrivals)]
    assert gaps[0] < 0.15 and max(gaps) >= 0.09  # backing off from initial_backoff
    assert arrivals[-1].at - arrivals[0].at <= 1.0  # none after the give-up age
    assert outbox.depth() == 0


async def test_410_disables_the_endpoint_and_not_the_others(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.default["gone"] = Answer(410)
    s = settings(tmp_path, receiver, [{"name": "gone"}, {"name": "own"}])
    outbox = Outbox(db)
    first, second, third = dataset_alert(1), dataset_alert(2), dataset_alert(3)
    outbox.enqueue(first, s.endpoints)
    outbox.enqueue(second, s.endpoints)
    async with Deliverer(outbox, s) as deliverer:
        counts = await deliverer.deliver_due()
        assert (counts.delivered, counts.disabled) == (2, 1)
        assert len(receiver.of("gone")) == 1  # no second request after 410
        assert set(outbox.disabled()) == {"gone"}
        assert statuses(outbox)[("gone", second.id)] == "disabled"
        outbox.enqueue(third, s.endpoints)  # new alerts wait, not sent
        assert statuses(outbox)[("gone", third.id)] == "disabled"
        assert statuses(outbox)[("own", third.id)] == "pending"
        await deliverer.deliver_due()
        assert len(receiver.of("gone")) == 1
        results = await deliverer.deliver_alert(third.id)
        assert [(r.endpoint, r.outcome) for r in results] == [("gone", "disabled"),
                                                              ("own", "skipped")]
        receiver.default["gone"] = Answer(204)  # the operator fixed the receiver
        assert outbox.enable_endpoint("gone") == 3
        await deliverer.deliver_due()
    assert set(statuses(outbox).values()) == {"delivered"}
    assert {i for (p, i) in receiver.processed if p == "gone"} == {first.id, second.id, third.id}


async def test_a_new_url_enables_an_endpoint_disabled_by_410(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.default["old"] = Answer(410)
    s = settings(tmp_path, receiver, [{"name": "own", "url": receiver.url("old")}])
    outbox = Outbox(db)
    outbox.enqueue(dataset_alert(), s.endpoints)
    async with Deliverer(outbox, s) as deliverer:
        await deliverer.deliver_due()
    assert set(outbox.disabled()) == {"own"}
    async with Deliverer(outbox, s) as deliverer:  # same URL: stays disabled
        await deliverer.deliver_due()
    assert set(outbox.disabled()) == {"own"}
    moved = settings(tmp_path, receiver, [{"name": "own"}])
    async with Deliverer(outbox, moved) as deliverer:
        await deliverer.deliver_due()
    assert outbox.disabled() == {} and set(statuses(outbox).values()) == {"delivered"}


async def test_redirect_is_a_failure_and_is_not_followed(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.default["own"] = Answer(307, headers={"Location": "/elsewhere/own"})
    s = settings(tmp_path, receiver, [{"name": "own"}], refused_attempts=3)
    outbox = Outbox(db)
    outbox.enqueue(dataset_alert(), s.endpoints)
    async with Deliverer(outbox, s, clock=StepClock()) as deliverer:
        counts = await deliverer.deliver_due()
    assert (counts.retrying, counts.dead) == (2, 1)
    assert receiver.elsewhere == []
    (row,) = outbox.rows()
    assert row.status == "dead" and row.attempts == 3 and row.last_status == 307
    assert "redirect not followed" in (row.last_error or "")


async def test_a_refused_alert_does_not_hold_the_next_one(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.script["own"] = [Answer(400)]
    s = settings(tmp_path, receiver, [{"name": "own"}])
    outbox = Outbox(db)
    bad, good = dataset_alert(1), dataset_alert(2)
    outbox.enqueue(bad, s.endpoints)
    outbox.enqueue(good, s.endpoints)
    async with Deliverer(outbox, s) as deliverer:
        counts = await deliverer.deliver_due()
    assert (counts.retrying, counts.delivered) == (1, 1)
    assert statuses(outbox) == {("own", bad.id): "pending", ("own", good.id): "delivered"}


async def test_one_endpoint_hanging_does_not_delay_another(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.default["stuck"] = Answer(delay=3.0)
    s = settings(tmp_path, receiver, [{"name": "stuck"}, {"name": "own"}], timeout=1.5)
    outbox = Outbox(db)
    alerts = [dataset_alert(n) for n in range(3)]
    for alert in alerts:
        outbox.enqueue(alert, s.endpoints)
    started = time.monotonic()
    deliverer = Deliverer(outbox, s)
    await run_until(deliverer, lambda: sum(p == "own" for p, _ in receiver.processed) == 3)
    assert receiver.of("own")[-1].at - started < 1.0
    assert len(receiver.of("stuck")) == 1  # one attempt in flight, the others held back
    assert all(r.status == "pending" for r in outbox.rows() if r.endpoint == "stuck")


async def test_stop_finishes_the_attempt_in_flight_and_keeps_the_outbox(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    receiver.default["own"] = Answer(delay=0.3)
    s = settings(tmp_path, receiver, [{"name": "own"}])
    outbox = Outbox(db)
    for n in range(4):
        outbox.enqueue(dataset_alert(n), s.endpoints)
    deliverer = Deliverer(outbox, s)
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run_forever(stop))
    while not receiver.in_flight:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    rows = outbox.rows()
    assert [r.status for r in rows].count("delivered") == 1
    assert outbox.depth() == 3 and all(r.attempts == 0 for r in rows if r.status == "pending")


# --------------------------------------------------------------------------- payloads


async def test_refs_only_to_a_trusted_generic_endpoint_and_chat_shapes(
        tmp_path: Path, db: sqlite_utils.Database, receiver: Receiver) -> None:
    s = settings(tmp_path, receiver, [
        {"name": "own", "trusted": True}, {"name": "partner"},
        {"name": "slack", "format": "slack", "trusted": True},
        {"name": "mm", "format": "mattermost", "secret": False},
        {"name": "teams", "format": "teams", "secret": False},
    ])
    outbox = Outbox(db)
    outbox.enqueue(dataset_alert(), s.endpoints)
    outbox.enqueue(watch_alert(), s.endpoints)
    async with Deliverer(outbox, s) as deliverer:
        counts = await deliverer.deliver_due()
    assert counts.delivered == 10
    bodies = {(a.path, a.json()["type"] if "type" in a.json() and a.path in ("own", "partner")
               else a.webhook_id): a for a in receiver.arrivals}
    own = bodies[("own", "dataset.matched")].json()["data"]
    assert own["refs"] == REFS
    partner = bodies[("partner", "dataset.matched")].json()["data"]
    assert "refs" not in partner
    assert partner["members_matched"] == 3 and partner["by_method"]["bsn"] == 2
    assert partner["post"]["victim"] == LEAK_TEXT[0]  # the operator's own system
    for a in receiver.arrivals:
        if a.path == "own":
            continue
        text = a.body.decode()
        assert not any(ref in text for ref in REFS), (a.path, text)
        if a.path != "partner":  # third-party clouds: nothing written by a leak site
            assert not any(t in text for t in LEAK_TEXT[1:]), (a.path, text)
            assert "Clinical Diagnostics NMDL" not in text or "Watchlist entry" in text
    for a in receiver.arrivals:
        if a.path in ("mm", "teams"):
            assert a.verified is None and "webhook-signature" not in a.headers
        else:
            assert a.verified is True
    slack = [a.json() for a in receiver.of("slack")]
    matched = next(b for b in slack if "Cohort members" in b["text"])
    assert matched["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "Cohort members found in a posted dataset"}}
    facts = matched["blocks"][1]["fields"]
    assert {"type": "mrkdwn", "text": "*Members matched*\n3"} in facts
    assert {"type": "mrkdwn", "text": "*Report*\ncohortwatch datasets show 7"} in facts
    mm = next(a.json() for a in receiver.of("mm") if "Cohort" in a.body.decode())
    assert mm["text"] == "**Cohort members found in a posted dataset**"
    fields = {f["title"]: f["value"] for f in mm["attachments"][0]["fields"]}
    assert fields["By method"] == "bsn 2, bsn_corrected 0, name_dob 1"
    assert fields["Dataset"] == "7" and fields["Site"] == "lab"
    teams = next(a.json() for a in receiver.of("teams") if "Cohort" in a.body.decode())
    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][1]["type"] == "FactSet"
    watched = next(a.json() for a in receiver.of("teams") if "Watched" in a.body.decode())
    facts_w = {f["title"]: f["value"] for f in watched["attachments"][0]["content"]["body"][1]
               ["facts"]}
    assert facts_w["Watchlist entry"] == "Clinical Diagnostics NMDL"


def test_chat_text_cannot_carry_markup_or_leak_site_text() -> None:
    hostile = Alert(type="dataset.matched", id="msg_x", timestamp=datetime.now(UTC),
                    data={"site": "<!channel> *lab*", "cohort": "c`o`h", "members_matched": "x",
                          "post": {"id": "1; drop", "title": "Jan de Vries"},
                          "refs": REFS, "description": "Jan de Vries"})
    for fmt in ("slack", "mattermost", "teams"):
        text = render(hostile, Endpoint(name="c", url="https://x.test/", format=fmt)).decode()
        assert "Vries" not in text and "C0000" not in text
        assert "<!channel>" not in text and "`" not in text
    generic = json.loads(render(hostile, Endpoint(name="g", url="https://x.test/",
                                                  secret_file="s", trusted=False)))  # noqa: S106
    assert "refs" not in generic["data"]


# --------------------------------------------------------------------------- outbox


async def test_enqueue_is_idempotent_and_survives_reopening(
        tmp_path: Path, receiver: Receiver) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    s = settings(tmp_path, receiver, [{"name": "own"}, {"name": "chat", "format": "slack",
                                                         "events": ["dataset.*"]}])
    alert = dataset_alert()
    db = open_db(state)
    outbox = Outbox(db)
    assert outbox.enqueue(alert, s.endpoints) == 2
    assert outbox.enqueue(alert, s.endpoints) == 0
    assert outbox.enqueue(watch_alert(), s.endpoints) == 1  # chat only wants dataset.*
    db.conn.close()
    db = open_db(state)  # as after a restart or kill -9
    outbox = Outbox(db)
    assert outbox.depth() == 3 and outbox.enqueue(alert, s.endpoints) == 0
    async with Deliverer(outbox, s) as deliverer:
        await deliverer.deliver_due()
        assert outbox.enqueue(alert, s.endpoints) == 0  # delivered: never again
        await deliverer.deliver_due()
    assert len(receiver.arrivals) == 3
    assert outbox.counts() == {"own": {"delivered": 2}, "chat": {"delivered": 1}}
    db.conn.close()


def test_a_claim_is_compare_and_set_and_a_lease(tmp_path: Path,
                                                db: sqlite_utils.Database) -> None:
    s = settings(tmp_path, None, [{"name": "own"}], port=9)
    outbox = Outbox(db)
    other = Outbox(db)  # as another process would
    outbox.enqueue(dataset_alert(), s.endpoints)
    now = time.time()
    (row,) = outbox.due(now)
    assert outbox.claim(row.id, now, now + 5)
    assert not other.claim(row.id, now, now + 5)
    assert outbox.due(now + 1) == []  # leased: not due while the request may be running
    assert [r.id for r in outbox.due(now + 6)] == [row.id]  # a killed sender's row comes back
    assert outbox.rows()[0].attempts == 1


def test_rows_of_an_endpoint_no_longer_configured_expire_at_the_give_up_age(
        tmp_path: Path, db: sqlite_utils.Database) -> None:
    s = settings(tmp_path, None, [{"name": "old"}], port=9)
    outbox = Outbox(db)
    outbox.enqueue(dataset_alert(), s.endpoints)
    assert outbox.expire_unconfigured(["new"], time.time() - 3600) == 0
    assert outbox.expire_unconfigured(["new"], time.time() + 1) == 1
    assert outbox.rows()[0].last_error == "endpoint no longer configured"


def test_alert_from_an_event_row_has_a_stable_id() -> None:
    row = {"id": 5, "type": "dataset.matched", "at": "2025-07-06T12:00:00",
           "dedupe": "dataset.matched:abc:screening", "data": json.dumps({"members_matched": 2})}
    a, b = alert_from_event(row), alert_from_event(dict(row, id=99))
    assert a.id == b.id == alert_id("dataset.matched:abc:screening")
    assert a.id.startswith("msg_") and len(a.id) == 36
    assert a.timestamp == datetime(2025, 7, 6, 12, tzinfo=UTC)
    assert a.data == {"members_matched": 2}
    with pytest.raises(InvalidAlertError):
        alert_from_event(dict(row, type="dataset.exploded"))
    with pytest.raises(InvalidAlertError):
        Alert(type="site.up", id="msg_1", timestamp=datetime(2025, 1, 1))  # noqa: DTZ001


# --------------------------------------------------------------------------- settings


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cohortwatch.toml"
    path.write_text(text)
    return str(path)


_EP = '[[alerts.endpoints]]\nname = "own"\nurl = "https://hooks.example.org/x"\n' \
      'secret_file = "own.secret"\n'


@pytest.mark.parametrize(("text", "where"), [
    ("[alerts]\nbackof = 1\n", "'alerts.backof': unknown key"),
    ("[alerts]\ntimeout = 0\n", "'alerts.timeout': must be greater than 0"),
    ("[alerts]\nconcurrency = 2.5\n", "'alerts.concurrency': expected a whole number"),
    ("[alerts]\ninitial_backoff = 60\nmax_backoff = 30\n", "'alerts.max_backoff'"),
    (_EP + 'urll = "x"\n', "'alerts.endpoints[0].urll': unknown key"),
    (_EP + 'format = "discord"\n', "'alerts.endpoints[0].format': expected one of"),
    (_EP + "trusted = 1\n", "'alerts.endpoints[0].trusted': expected true or false"),
    (_EP + 'events = ["dataset.matchd"]\n', "'alerts.endpoints[0].events[0]': unknown alert"),
    (_EP + 'events = "dataset.matched"\n', "'alerts.endpoints[0].events': expected a non-empty"),
    (_EP + 'url_file = "u"\n', "'alerts.endpoints[0]': give exactly one of 'url'"),
    (_EP + _EP, "'alerts.endpoints': endpoint names must be unique"),
    (_EP.replace('name = "own"', 'name = "Own Hook"'), "'alerts.endpoints[0].name'"),
    (_EP.replace("https://hooks", "ftp://hooks"), "'alerts.endpoints[0].url': expected an http"),
    (_EP.replace("https://", "http://") + "trusted = true\n",
     "'alerts.endpoints[0].url': a trusted endpoint receives cohort refs and needs https"),
    (_EP.replace('secret_file = "own.secret"\n', ""), "'alerts.endpoints[0]': missing "
                                                      "'secret_file'"),
    ('[[alerts.endpoints]]\nurl = "https://x.org/"\nsecret_file = "s"\n',
     "'alerts.endpoints[0]': missing 'name'"),
])
def test_config_errors_name_file_and_key_path(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: at ")
    assert where in str(err.value)


def test_config_is_read_into_frozen_settings(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "[alerts]\ngive_up_after = 3600\n" + _EP +
                             'events = ["dataset.*", "site.down"]\n'
                             '[[alerts.endpoints]]\nname = "chat"\nformat = "teams"\n'
                             'url_file = "teams.url"\n'))
    a = cfg.alerts
    assert a.give_up_after == 3600 and a.timeout == 10.0
    own, chat = a.endpoints
    assert own.events == ("dataset.matched", "dataset.reposted", "site.down")
    assert own.wants("selftest.ping") and not own.wants("site.up")
    assert not own.refs_allowed and chat.format == "teams" and not chat.secret_file
    assert a.base_dir == tmp_path
    with pytest.raises(AttributeError):
        own.trusted = True  # type: ignore[misc]


def test_secrets_come_from_the_credentials_directory_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "own.secret").write_text(make_secret(7))
    (creds / "own.secret").chmod(0o400)
    (tmp_path / "own.secret").write_text(make_secret(8))  # beside the config: not used
    (tmp_path / "own.secret").chmod(0o600)
    s = load_alert_settings({"endpoints": [{"name": "own", "url": "https://x.org/",
                                            "secret_file": "own.secret"}]},
                            str(tmp_path / "c.toml"))
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert resolve_target(s.endpoints[0], s.base_dir).secret == parse_secret(make_secret(7), "")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert resolve_target(s.endpoints[0], s.base_dir).secret == parse_secret(make_secret(8), "")


@pytest.mark.parametrize(("content", "mode", "message"), [
    (None, 0o600, "not found (looked in: "),
    (make_secret(1), 0o644, "can be read by others; fix it with `chmod 600"),
    ("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", 0o600, "expected a secret of the form whsec_"),
    ("whsec_not*base64!", 0o600, "is not base64"),
    ("whsec_c2hvcnQ=", 0o600, "holds 5 bytes"),
    ("", 0o600, "is empty"),
])
def test_unusable_secret_files_are_refused_without_showing_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, mode: int,
        message: str) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    if content is not None:
        (tmp_path / "own.secret").write_text(content)
        (tmp_path / "own.secret").chmod(mode)
    s = load_alert_settings({"endpoints": [{"name": "own", "url": "https://x.org/",
                                            "secret_file": "own.secret"}]},
                            str(tmp_path / "c.toml"))
    outbox_db = sqlite_utils.Database(memory=True)
    with pytest.raises(WebhookSecretError) as err:
        Deliverer(Outbox(outbox_db), s)
    assert str(err.value).startswith("endpoint 'own': ")
    assert message in str(err.value)
    if content:
        assert content not in str(err.value)


def test_a_url_file_keeps_a_token_bearing_url_out_of_the_config(tmp_path: Path) -> None:
    (tmp_path / "slack.url").write_text("https://hooks.slack.test/services/T0/B0/token\n")
    (tmp_path / "slack.url").chmod(0o600)
    s = load_alert_settings({"endpoints": [{"name": "chat", "format": "slack",
                                            "url_file": "slack.url"}]},
                            str(tmp_path / "c.toml"))
    target = resolve_target(s.endpoints[0], s.base_dir)
    assert target.url.endswith("/token") and target.secret is None
    assert "token" not in repr(target)
    (tmp_path / "slack.url").write_text("hooks.slack.test/no-scheme")
    with pytest.raises(WebhookSecretError, match="expected an http"):
        resolve_target(s.endpoints[0], s.base_dir)


# --------------------------------------------------------------------------- MISP


def test_misp_event_has_fingerprints_and_counts_but_no_refs() -> None:
    dataset = {"id": 7, "sha256": "ab" * 32, "bytes": 123456, "records": 5000, "files": 2,
               "cohort": "screening", "members_matched": 3,
               "first_seen": "2025-07-06T12:00:00+00:00",
               "fingerprint": {"sha256_files": ["cd" * 32], "tlsh_files": ["T1" + "0" * 70],
                               "records": {"distinct": 4990, "distinct_exact": True}}}
    sightings = [{"site": "lab", "post_url": LEAK_TEXT[2], "file_url": LEAK_TEXT[3],
                  "watch_entry": "Clinical Diagnostics NMDL", "first_seen": "2025-07-06"}]
    event = misp_event(dataset, sightings, by_method={"bsn": 2, "name_dob": 1})
    again = misp_event(dataset, sightings, by_method={"bsn": 2, "name_dob": 1})
    assert event == again  # stable UUIDs: MISP updates instead of duplicating
    e = event["Event"]
    assert e["date"] == "2025-07-06" and {"name": "tlp:amber"} in e["Tag"]
    kinds = {(a["type"], a["value"]) for a in e["Attribute"]}
    assert ("sha256", "ab" * 32) in kinds and ("sha256", "cd" * 32) in kinds
    assert ("tlsh", "T1" + "0" * 70) in kinds and ("size-in-bytes", "123456") in kinds
    assert ("link", LEAK_TEXT[2]) in kinds and ("url", LEAK_TEXT[3]) in kinds
    assert ("counter", "3") in kinds and ("counter", "5000") in kinds
    text = json.dumps(event)
    assert not any(ref in text for ref in REFS) and "screening" not in text
    assert misp_event(dataset, tlp="red")["Event"]["Tag"][0] == {"name": "tlp:red"}


def test_the_example_configuration_documents_the_defaults() -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "cohortwatch.example.toml"
    a = load_config(str(example)).alerts
    numbers = {k: v for k, v in vars(a).items() if k not in ("endpoints", "base_dir")}
    assert numbers == {k: v for k, v in vars(AlertSettings()).items()
                       if k not in ("endpoints", "base_dir")}
    assert [(e.name, e.format, e.refs_allowed) for e in a.endpoints] == [
        ("soc", "generic", True), ("team-chat", "slack", False)]
