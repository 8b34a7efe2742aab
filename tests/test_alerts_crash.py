"""``kill -9`` mid-delivery, again and again: every alert still arrives, each ``webhook-id``
is processed once by a receiver that deduplicates on it, and nothing known to be delivered
is sent again. Raw arrivals (duplicates included) are reported."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import run, start
from test_alerts_cli import enqueue, setup
from webhook_receiver import Answer, Receiver

from alerts import Outbox
from matchers.store import open_db

ALERTS = 10  # per endpoint
KILLS = 6


@pytest.fixture
async def receiver() -> Any:
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.mark.crash
async def test_sigkill_mid_delivery_loses_nothing_and_processes_each_id_once(
        tmp_path: Path, receiver: Receiver, record_property: Any) -> None:
    # Slow answers, so that a kill lands while requests are in flight.
    receiver.default["a"] = Answer(delay=0.4)
    receiver.default["b"] = Answer(delay=0.4)
    state, config = setup(tmp_path, receiver, [{"name": "a", "trusted": True}, {"name": "b"}])
    ids = enqueue(state, config, ALERTS)
    rng = random.Random(5)
    mid_request = 0
    for _ in range(KILLS):
        before = len(receiver.arrivals)
        proc = start("--config", config, "alerts", "flush", "--deadline", "60", state=state)
        end = time.monotonic() + 20
        while not (receiver.in_flight and len(receiver.arrivals) > before):
            assert proc.proc.poll() is None, proc.result()
            assert time.monotonic() < end, "flush sent nothing"
            await asyncio.sleep(0.005)
        await asyncio.sleep(rng.uniform(0.0, 0.35))
        mid_request += bool(receiver.in_flight)
        proc.proc.kill()  # SIGKILL: no clean-up of any kind
        await asyncio.to_thread(proc.proc.communicate)
    assert mid_request >= KILLS // 2
    await asyncio.sleep(0.5)  # the receiver finishes what the killed processes sent
    for _ in range(3):  # leases of the killed attempts run out after timeout + 2 s
        final = await asyncio.to_thread(run, "--config", config, "alerts", "flush",
                                        "--deadline", "30", state=state)
        if final.returncode == 0:
            break
    assert final.returncode == 0, final

    expected = {(name, i) for name in ("a", "b") for i in ids}
    assert set(receiver.processed) == expected  # every alert arrived ...
    assert set(receiver.processed.values()) == {1}  # ... and was processed once
    raw = Counter((a.path, a.webhook_id) for a in receiver.arrivals)
    duplicates = sum(raw.values()) - len(expected)
    # A kill can interrupt at most one request per endpoint (each sends one at a time);
    # only those can be sent again. A row recorded as delivered never is.
    assert duplicates <= 2 * KILLS, raw
    assert all(a.verified for a in receiver.arrivals)
    db = open_db(state)
    try:
        rows = Outbox(db).rows()
    finally:
        db.conn.close()
    assert {r.status for r in rows} == {"delivered"} and len(rows) == len(expected)
    report = (f"kill -9 x{KILLS} ({mid_request} mid-request): {len(expected)} alerts, "
              f"{sum(raw.values())} raw arrivals, {duplicates} duplicates deduplicated, "
              f"max attempts {max(r.attempts for r in rows)}")
    record_property("alert_crash", report)
    sys.stderr.write(report + "\n")
