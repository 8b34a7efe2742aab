"""``cohortwatch alerts test|list|flush|enable`` and ``export misp`` as an operator runs them,
against a real webhook receiver on 127.0.0.1 (:mod:`webhook_receiver`)."""

from __future__ import annotations

import asyncio
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, assert_clean_error, run
from webhook_receiver import Answer, Receiver, make_secret

from alerts import Alert, Outbox, alert_id, load_alert_settings
from matchers.history import record_dataset
from matchers.store import open_db
from monitor.crawl.store import CrawlStore

REFS = ["C0000123", "C0000456"]


@pytest.fixture
async def receiver() -> Any:
    r = await Receiver().start()
    yield r
    await r.stop()


def setup(tmp_path: Path, receiver: Receiver, endpoints: list[dict[str, Any]],
          extra: str = "") -> tuple[Path, Path]:
    """A state directory and a configuration with ``endpoints`` on the receiver; each gets
    a secret file beside the configuration unless it says ``secret = False``."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    lines = ["[alerts]", "timeout = 2.0", "initial_backoff = 0.2", "max_backoff = 1.0", extra]
    for i, e in enumerate(endpoints):
        lines.append("[[alerts.endpoints]]")
        if e.pop("secret", True):
            secret = make_secret(i + 3)
            (tmp_path / f"{e['name']}.secret").write_text(secret)
            (tmp_path / f"{e['name']}.secret").chmod(0o600)
            receiver.secrets[e["name"]] = secret
            e["secret_file"] = f"{e['name']}.secret"
        e.setdefault("url", receiver.url(e["name"]))
        lines += [f"{k} = {json.dumps(v)}" for k, v in e.items()]
    config = tmp_path / "cohortwatch.toml"
    config.write_text("\n".join(lines) + "\n")
    return state, config


def enqueue(state: Path, config: Path, count: int) -> list[str]:
    """``count`` dataset.matched alerts in the state's outbox, as the daemon commits them."""
    settings = load_alert_settings(tomllib.loads(config.read_text())["alerts"], str(config))
    db = open_db(state)
    try:
        outbox = Outbox(db)
        ids = []
        for n in range(count):
            alert = Alert(type="dataset.matched", id=alert_id(f"dataset.matched:{n}:c"),
                          timestamp=datetime.now(UTC),
                          data={"site": "lab", "dataset_id": n + 1, "members_matched": 2,
                                "by_method": {"bsn": 2}, "refs": REFS})
            outbox.enqueue(alert, settings.endpoints)
            ids.append(alert.id)
        return ids
    finally:
        db.conn.close()


async def cli(*args: str | Path, state: Path, config: Path | None = None) -> Result:
    head: tuple[str | Path, ...] = ("--config", config) if config else ()
    return await asyncio.to_thread(run, *head, *args, state=state)


async def test_alerts_test_reports_each_endpoint(tmp_path: Path, receiver: Receiver) -> None:
    receiver.default["chat"] = Answer(404)
    state, config = setup(tmp_path, receiver, [
        {"name": "ops", "trusted": True}, {"name": "chat", "format": "slack", "secret": False}])
    result = await cli("alerts", "test", state=state, config=config)
    assert result.returncode == 1, result
    lines = result.stdout.splitlines()
    assert lines[0] == "chat: failed: HTTP 404 (a test alert is not retried)", result
    assert lines[1].startswith("ops: delivered (HTTP 204, "), result
    (ops,) = receiver.of("ops")
    assert ops.verified is True and ops.json()["type"] == "selftest.ping"
    assert lines[2] == f"alert id {ops.webhook_id}"
    listed = (await cli("alerts", "list", "--json", state=state, config=config)).json()
    assert {(r["endpoint"], r["status"]) for r in listed["rows"]} == {
        ("ops", "delivered"), ("chat", "dead")}
    assert listed["pending"] == 0
    receiver.default["chat"] = Answer(204)
    again = await cli("alerts", "test", state=state, config=config)
    assert again.returncode == 0, again


async def test_flush_delivers_and_list_shows_what_is_left(tmp_path: Path,
                                                          receiver: Receiver) -> None:
    state, config = setup(tmp_path, receiver, [
        {"name": "ops"}, {"name": "down", "url": "http://127.0.0.1:9/hook/down"}])
    ids = enqueue(state, config, 3)
    flush = await cli("alerts", "flush", "--deadline", "0", state=state, config=config)
    assert flush.returncode == 1, flush  # the 'down' endpoint still has alerts pending
    assert flush.stdout.startswith("delivered 3, retrying 1, dead 0, disabled 0; 3 pending")
    assert "(next attempt 20" in flush.stdout
    assert {i for (_, i) in receiver.processed} == set(ids)
    listed = await cli("alerts", "list", state=state, config=config)
    assert listed.returncode == 0, listed
    assert "cannot connect" in listed.stdout and listed.stdout.endswith("3 pending\n")
    assert sum(" delivered " in line for line in listed.stdout.splitlines()) == 3
    only = (await cli("alerts", "list", "--status", "pending", "--json", state=state,
                      config=config)).json()
    assert {r["endpoint"] for r in only["rows"]} == {"down"}
    assert all(r["next_attempt"] for r in only["rows"])
    assert "body" not in only["rows"][0]  # bodies (refs for trusted endpoints) stay inside
    assert not any(ref in listed.stdout for ref in REFS)


async def test_410_shows_as_disabled_until_enabled(tmp_path: Path, receiver: Receiver) -> None:
    receiver.default["gone"] = Answer(410)
    state, config = setup(tmp_path, receiver, [{"name": "gone"}])
    enqueue(state, config, 2)
    flush = await cli("alerts", "flush", state=state, config=config)
    assert flush.stdout.startswith("delivered 0, retrying 0, dead 0, disabled 1; 0 pending")
    listed = await cli("alerts", "list", state=state, config=config)
    assert listed.stdout.startswith("endpoint gone: DISABLED since "), listed
    assert "HTTP 410 Gone" in listed.stdout and "cohortwatch alerts enable gone" in listed.stdout
    receiver.default["gone"] = Answer(204)
    enabled, wrong = await asyncio.gather(
        cli("alerts", "enable", "gone", state=state, config=config),
        cli("alerts", "enable", "nope", state=state, config=config))
    assert enabled.stdout == "endpoint gone: enabled; 2 alerts pending again\n", enabled
    assert_clean_error(wrong)
    assert "'nope' is not disabled" in wrong.stderr
    flushed = await cli("alerts", "flush", state=state, config=config)
    assert flushed.returncode == 0 and flushed.stdout.startswith("delivered 2,"), flushed


async def test_configuration_errors_exit_2_with_one_line(tmp_path: Path,
                                                         receiver: Receiver) -> None:
    state, config = setup(tmp_path, receiver, [{"name": "ops"}])
    bad = tmp_path / "bad.toml"
    bad.write_text("[alerts]\nretries = 3\n")
    nothing = tmp_path / "none.toml"
    nothing.write_text("[alerts]\ntimeout = 5\n")
    (tmp_path / "ops.secret").chmod(0o644)
    unknown, unsafe, empty = await asyncio.gather(
        cli("alerts", "list", state=state, config=bad),
        cli("alerts", "flush", state=state, config=config),
        cli("alerts", "test", state=state, config=nothing))
    for result in (unknown, unsafe, empty):
        assert_clean_error(result, forbidden=[receiver.secrets["ops"]])
    assert f"{bad}: at 'alerts.retries': unknown key" in unknown.stderr
    assert "endpoint 'ops': secret file" in unsafe.stderr and "chmod 600" in unsafe.stderr
    assert "no webhook endpoints configured" in empty.stderr


async def test_export_misp_carries_fingerprints_not_refs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    db = open_db(state)
    try:
        dataset_id = record_dataset(
            db, sha256="ef" * 32, size=2048, records=100, files=1, cohort="screening",
            members_matched=2, fingerprint={"sha256_files": ["ef" * 32],
                                            "tlsh_files": ["T1" + "A" * 70],
                                            "records": {"distinct": 99,
                                                        "distinct_exact": True}})
        store = CrawlStore(db)
        post = store.insert_post({"site": "lab", "key": "k", "url": "http://leak.onion/p/1",
                                  "victim": "Clinical Diagnostics NMDL",
                                  "first_seen": "2025-07-06T10:00:00+00:00",
                                  "watch_entry": "Clinical Diagnostics NMDL"})
        store.add_files(post, ["http://leak.onion/f/dump.zip"])
        (f,) = store.files(post)
        store.update_file(f["id"], datetime.now(UTC), status="matched", dataset_id=dataset_id)
        store.add_event("dataset.matched", datetime.now(UTC), dedupe="d1", site="lab",
                        post_id=post, dataset_id=dataset_id,
                        data={"by_method": {"bsn": 1, "name_dob": 1}, "refs": REFS})
    finally:
        db.conn.close()
    one, recent, missing = await asyncio.gather(
        cli("export", "misp", "--dataset", str(dataset_id), "--tlp", "green", state=state),
        cli("export", "misp", "--since", "1d", state=state),
        cli("export", "misp", "--dataset", "99", state=state))
    event = one.json()["Event"]
    assert {"name": "tlp:green"} in event["Tag"]
    attrs = {(a["type"], a["value"]) for a in event["Attribute"]}
    assert ("sha256", "ef" * 32) in attrs and ("tlsh", "T1" + "A" * 70) in attrs
    assert ("link", "http://leak.onion/p/1") in attrs
    assert ("url", "http://leak.onion/f/dump.zip") in attrs
    assert ("text", "Clinical Diagnostics NMDL") in attrs
    assert ("counter", "1") in attrs and ("counter", "2") in attrs
    for result in (one, recent):
        assert not any(ref in result.stdout for ref in REFS) and "screening" not in result.stdout
    assert [e["Event"]["uuid"] for e in recent.json()["response"]] == [event["uuid"]]
    assert_clean_error(missing)
    assert "no dataset 99" in missing.stderr
