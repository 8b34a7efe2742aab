"""``/metrics``, ``/healthz`` and ``/readyz``: the values a scrape shows after crawls are
recorded in a real state database, no personal value in any label, and the endpoints over
a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlite_utils
from prometheus_client.parser import text_string_to_metric_families

from alerts.model import Alert
from alerts.outbox import Outbox
from alerts.settings import Endpoint
from matchers.errors import ConfigError
from matchers.history import record_dataset
from matchers.store import DB_NAME, open_db
from monitor.config import load_config
from monitor.crawl import CrawlOutcome, CrawlStore
from monitor.metrics import Metrics, safe_label
from monitor.ops_http import OpsServer, serve_ops
from monitor.ops_settings import MetricsSettings, parse_listen
from monitor.tor.status import BootstrapStatus, TorHealth

VICTIM = "Jan de Vries Huisartsenpraktijk"  # a person's name as a leak site might print it
REF = "C0000123"
FILE_URL = "http://127.0.0.1:1/files/uitslag_J_de_Vries.zip"
WHEN = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)

HEALTHY = TorHealth(BootstrapStatus(100, "done", "Done"), True, True, False)
BOOTSTRAPPING = TorHealth(BootstrapStatus(45, "requesting_descriptors", "Asking for relay "
                                          "descriptors"), False, True, False)


def _state(tmp_path: Path) -> Path:
    """A state database as a crawler leaves it: two sites, a post naming a person, events
    (one dataset.matched with a cohort ref), a dataset, a cohort and an outbox."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    db = open_db(state)
    store = CrawlStore(db)
    store.update_site("lab", state="up", failures=0, first_crawl=WHEN.isoformat(),
                      last_success=WHEN.isoformat(), last_attempt=WHEN.isoformat(),
                      next_due="2025-07-06T13:00:00+00:00", last_posts=2, baseline_done=1)
    store.update_site("flaky", state="down", failures=4, first_crawl=WHEN.isoformat(),
                      last_attempt=WHEN.isoformat(), parser_broken=1,
                      last_error="mirror 1: connection refused")
    store.update_site("dropped", state="up", first_crawl=WHEN.isoformat())  # not configured
    store.mirror_result("lab", "http://127.0.0.1:1/", ok=True, when=WHEN)
    store.mirror_result("flaky", "http://127.0.0.1:2/", ok=False, when=WHEN, error="refused")
    pid = store.insert_post({"site": "lab", "key": "k1", "victim": VICTIM, "title": VICTIM,
                             "first_seen": WHEN.isoformat(), "last_seen": WHEN.isoformat()})
    store.insert_post({"site": "lab", "key": "k2", "victim": "Acme B.V.",
                       "first_seen": WHEN.isoformat(), "last_seen": WHEN.isoformat(),
                       "removed_at": WHEN.isoformat()})
    store.add_files(pid, [FILE_URL])
    store.add_event("post.watchlist_matched", WHEN, dedupe="w1", site="lab", post_id=pid,
                    data={"victim": VICTIM})
    store.add_event("dataset.matched", WHEN, dedupe="d1", site="lab", post_id=pid,
                    data={"file": FILE_URL, "by_method": {"bsn": 3, "name_dob": 1},
                          "refs": [REF]})
    store.add_event("site.down", WHEN, dedupe="s1", site="flaky")
    with db.conn:  # damaged rows must not break a scrape
        db.conn.execute("insert into events (type, at, dedupe, data) values "
                        "('dataset.matched', ?, 'bad1', '{not json'), "
                        "('dataset.matched', ?, 'bad2', '{\"by_method\": 7}')",
                        (WHEN.isoformat(), WHEN.isoformat()))
    record_dataset(db, sha256="ab" * 32, size=10, records=5, files=1, cohort="screening-2025",
                   members_matched=4, fingerprint={})
    record_dataset(db, sha256="cd" * 32, size=10, records=5, files=1, cohort="screening-2025",
                   members_matched=0, fingerprint={})
    with db.conn:
        db["cohorts"].insert({"name": "screening-2025", "created": WHEN.isoformat(),
                              "updated": WHEN.isoformat(), "key_check": "x", "members": 1000})
        db["cohorts"].insert({"name": "Jan de Vries", "created": WHEN.isoformat(),
                              "updated": WHEN.isoformat(), "key_check": "x", "members": 1})
    fill_outbox(db)
    db.conn.close()
    return state / DB_NAME


def fill_outbox(db: sqlite_utils.Database) -> None:
    """Through the alerts stage's own Outbox: endpoint cert has 2 pending, 1 delivered and
    1 dead alert; endpoint chat was disabled by a 410 with 1 alert held back."""
    outbox = Outbox(db, clock=lambda: WHEN.timestamp())
    cert = Endpoint("cert", url="http://127.0.0.1:1/")
    chat = Endpoint("chat", url="http://127.0.0.1:2/")
    for i in range(4):
        outbox.enqueue(Alert("site.down", f"a{i}", WHEN, {"site": "flaky"}), [cert])
    rows = outbox.rows(status="pending")
    outbox.mark_delivered(rows[0].id, WHEN.timestamp(), 200)
    outbox.mark_dead(rows[1].id, "gave up")
    outbox.enqueue(Alert("site.down", "b1", WHEN, {"site": "flaky"}), [chat])
    outbox.disable_endpoint("chat", "410 Gone")


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) → value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _outcome(site: str, status: str, **counts: int) -> CrawlOutcome:
    return CrawlOutcome(site, ok=status in ("ok", "empty"), status=status, **counts)


def test_scrape_after_crawls(tmp_path: Path) -> None:
    metrics = Metrics(_state(tmp_path), sites=["lab", "flaky", "fresh"])
    metrics.record_crawl(_outcome("lab", "ok", posts_seen=2, new_posts=2, watch_matches=1,
                                  files_downloaded=1, members_matched=4), seconds=3.5)
    metrics.record_crawl(_outcome("lab", "ok", posts_seen=2, removed=1, reappeared=1))
    metrics.record_crawl(_outcome("flaky", "failed"))
    metrics.record_crawl(_outcome("flaky", "tor_unavailable"))
    metrics.record_delivery("cert", "delivered")
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    v = _values(body.decode())

    assert v[("cohortwatch_crawls_total", (("site", "lab"), ("status", "ok")))] == 2
    assert v[("cohortwatch_crawls_total", (("site", "flaky"), ("status", "failed")))] == 1
    assert v[("cohortwatch_crawl_failures_total", (("site", "flaky"),))] == 2
    assert v[("cohortwatch_crawl_failures_total", (("site", "lab"),))] == 0
    assert v[("cohortwatch_crawl_failures_total", (("site", "fresh"),))] == 0
    assert v[("cohortwatch_crawl_duration_seconds_total", (("site", "lab"),))] == 3.5
    assert v[("cohortwatch_posts_seen_total", (("site", "lab"),))] == 4
    assert v[("cohortwatch_posts_new_total", (("site", "lab"),))] == 2
    assert v[("cohortwatch_posts_removed_total", (("site", "lab"),))] == 1
    assert v[("cohortwatch_posts_reappeared_total", (("site", "lab"),))] == 1
    assert v[("cohortwatch_watchlist_matches_total", (("site", "lab"),))] == 1
    assert v[("cohortwatch_files_downloaded_total", (("site", "lab"),))] == 1
    assert v[("cohortwatch_crawl_members_matched_total", (("site", "lab"),))] == 4
    assert v[("cohortwatch_webhook_deliveries_total",
              (("endpoint", "cert"), ("result", "delivered")))] == 1

    # From the database: configured sites only, a never-crawled one as unknown.
    assert v[("cohortwatch_state_db_up", ())] == 1
    assert v[("cohortwatch_site_state", (("site", "lab"), ("state", "up")))] == 1
    assert v[("cohortwatch_site_state", (("site", "flaky"), ("state", "down")))] == 1
    assert v[("cohortwatch_site_state", (("site", "fresh"), ("state", "unknown")))] == 1
    assert not any(dict(labels).get("site") == "dropped" for _, labels in v)
    assert v[("cohortwatch_site_consecutive_failures", (("site", "flaky"),))] == 4
    assert v[("cohortwatch_site_parser_broken", (("site", "flaky"),))] == 1
    assert v[("cohortwatch_site_posts_listed", (("site", "lab"),))] == 2
    assert v[("cohortwatch_site_last_success_timestamp_seconds",
              (("site", "lab"),))] == WHEN.timestamp()
    assert ("cohortwatch_site_last_success_timestamp_seconds", (("site", "flaky"),)) not in v
    assert v[("cohortwatch_site_next_due_timestamp_seconds",
              (("site", "lab"),))] == WHEN.timestamp() + 3600
    assert v[("cohortwatch_site_mirrors", (("site", "flaky"), ("state", "down")))] == 1
    assert v[("cohortwatch_posts", (("site", "lab"), ("state", "listed")))] == 1
    assert v[("cohortwatch_posts", (("site", "lab"), ("state", "removed")))] == 1
    assert v[("cohortwatch_events_total", (("type", "dataset.matched"),))] == 3
    assert v[("cohortwatch_events_total", (("type", "site.down"),))] == 1
    assert v[("cohortwatch_members_matched_total", (("method", "bsn"),))] == 3
    assert v[("cohortwatch_members_matched_total", (("method", "name_dob"),))] == 1
    assert v[("cohortwatch_members_matched_total", (("method", "bsn_corrected"),))] == 0
    assert v[("cohortwatch_datasets_scanned_total", ())] == 2
    assert v[("cohortwatch_datasets_matched_total", ())] == 1
    assert v[("cohortwatch_cohorts_enrolled", ())] == 2
    assert v[("cohortwatch_cohort_members", (("cohort", "screening-2025"),))] == 1000
    assert v[("cohortwatch_outbox_depth", ())] == 2
    assert v[("cohortwatch_outbox_messages", (("status", "dead"),))] == 1
    assert v[("cohortwatch_outbox_messages", (("status", "disabled"),))] == 1
    assert v[("cohortwatch_outbox_endpoint_messages",
              (("endpoint", "cert"), ("status", "pending")))] == 2
    assert v[("cohortwatch_outbox_endpoint_disabled", (("endpoint", "chat"),))] == 1
    assert ("cohortwatch_outbox_endpoint_disabled", (("endpoint", "cert"),)) not in v
    assert v[("cohortwatch_outbox_oldest_pending_timestamp_seconds", ())] == WHEN.timestamp()
    assert ("cohortwatch_tor_healthy", ()) not in v  # never checked: no alert on it
    assert all(name.startswith("cohortwatch_") for name, _ in v)
    metrics.close()


def test_no_personal_value_in_labels_or_anywhere(tmp_path: Path) -> None:
    """A victim's name (posts), a cohort ref and a file name (events) and a cohort named
    like a person never reach the scrape; the odd cohort name becomes its id."""
    metrics = Metrics(_state(tmp_path))  # sites=None: every site the database knows
    metrics.record_crawl(_outcome("lab", "ok", posts_seen=2))
    text = metrics.render()[0].decode()
    for raw in (VICTIM, "Vries", REF, "uitslag", FILE_URL, "connection refused"):
        assert raw not in text
    labels = {value for family in text_string_to_metric_families(text)
              for s in family.samples for value in s.labels.values()}
    assert "cohort-2" in labels and "dropped" in labels
    assert all(" " not in value for value in labels)
    metrics.close()


def test_safe_label() -> None:
    assert safe_label("lab-2_a.b") == "lab-2_a.b"
    assert safe_label("Jan de Vries") == "other"
    assert safe_label("x" * 65, "long") == "long"
    assert safe_label("") == "other"


def test_database_values_survive_a_restart(tmp_path: Path) -> None:
    """A new process (a new Metrics) shows what the database says without any crawl."""
    path = _state(tmp_path)
    v = _values(Metrics(path, sites=["lab"]).render()[0].decode())
    assert v[("cohortwatch_site_last_success_timestamp_seconds",
              (("site", "lab"),))] == WHEN.timestamp()
    assert v[("cohortwatch_events_total", (("type", "post.watchlist_matched"),))] == 1


def test_outbox_depth_is_read_at_scrape_time(tmp_path: Path) -> None:
    path = _state(tmp_path)
    metrics = Metrics(path, process=False)
    assert _values(metrics.render()[0].decode())[("cohortwatch_outbox_depth", ())] == 2
    db = sqlite_utils.Database(sqlite3.connect(path))
    outbox = Outbox(db)
    for row in outbox.rows(status="pending"):
        outbox.mark_delivered(row.id, WHEN.timestamp(), 200)
    v = _values(metrics.render()[0].decode())
    assert v[("cohortwatch_outbox_depth", ())] == 0
    assert ("cohortwatch_outbox_oldest_pending_timestamp_seconds", ()) not in v
    with db.conn:
        db.conn.execute("drop table alert_outbox")  # no alerts stage yet: 0, not an error
    db.conn.close()
    v = _values(metrics.render()[0].decode())
    assert v[("cohortwatch_outbox_depth", ())] == 0 and v[("cohortwatch_state_db_up", ())] == 1


def test_a_missing_database_is_state_db_up_0(tmp_path: Path) -> None:
    path = _state(tmp_path)
    metrics = Metrics(path, sites=["lab"])
    metrics.record_crawl(_outcome("lab", "ok"))
    path.unlink()
    v = _values(metrics.render()[0].decode())
    assert v[("cohortwatch_state_db_up", ())] == 0
    assert v[("cohortwatch_crawls_total", (("site", "lab"), ("status", "ok")))] == 1


def test_tor_gauges(tmp_path: Path) -> None:
    metrics = Metrics(None, process=False)
    metrics.set_tor(BOOTSTRAPPING)
    v = _values(metrics.render()[0].decode())
    assert v[("cohortwatch_tor_bootstrap_percent", ())] == 45
    assert v[("cohortwatch_tor_healthy", ())] == 0
    assert v[("cohortwatch_tor_network_live", ())] == 1
    metrics.set_tor(None, "Tor's control port 127.0.0.1:9051 did not answer")
    v = _values(metrics.render()[0].decode())
    assert v[("cohortwatch_tor_control_up", ())] == 0
    assert v[("cohortwatch_tor_bootstrap_percent", ())] == 45  # as last seen
    metrics.set_tor(HEALTHY)
    v = _values(metrics.render()[0].decode())
    assert v[("cohortwatch_tor_healthy", ())] == 1 and v[("cohortwatch_tor_control_up", ())] == 1


# -- configuration ----------------------------------------------------------------------------


def test_metrics_listen_config(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    assert load_config(None).metrics == MetricsSettings()
    assert MetricsSettings().address() == ("127.0.0.1", 9464)
    cfg.write_text('[metrics]\nlisten = ""\n')
    assert load_config(str(cfg)).metrics.address() is None
    cfg.write_text('[metrics]\nlisten = "[::1]:9999"\n')
    assert load_config(str(cfg)).metrics.address() == ("::1", 9999)
    for text, message in [('listen = "0.0.0.0:9464"', "not a loopback address"),
                          ('listen = "192.168.1.5:9464"', "not a loopback address"),
                          ('listen = "metrics.example:9464"', "not a loopback address"),
                          ('listen = "9464"', "expected host:port"),
                          ('listen = "127.0.0.1:70000"', "expected host:port"),
                          ("listen = 9464", "expected a string"),
                          ('port = "9464"', "unknown key")]:
        cfg.write_text(f"[metrics]\n{text}\n")
        with pytest.raises(ConfigError, match=message) as err:
            load_config(str(cfg))
        assert str(cfg) in str(err.value) and "metrics." in str(err.value)
    assert parse_listen("localhost:0") == ("localhost", 0)


# -- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[OpsServer, Path]]:
    path = _state(tmp_path)
    metrics = Metrics(path, sites=["lab", "flaky"])
    async with serve_ops("127.0.0.1:0", metrics, stale_after=30.0) as server:
        assert server is not None
        yield server, path
    metrics.close()


async def _get(url: str, **headers: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_metrics_endpoint(served: tuple[OpsServer, Path]) -> None:
    server, _ = served
    assert server.host == "127.0.0.1" and server.port > 0
    server.metrics.record_crawl(_outcome("lab", "ok", posts_seen=2))
    status, content_type, text = await _get(server.url + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    v = _values(text)
    assert v[("cohortwatch_crawls_total", (("site", "lab"), ("status", "ok")))] == 1
    assert v[("cohortwatch_outbox_depth", ())] == 2
    assert VICTIM not in text and REF not in text
    status, content_type, text = await _get(
        server.url + "/metrics", Accept="application/openmetrics-text; version=1.0.0")
    assert status == 200 and content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    assert (await _get(server.url + "/nothing"))[0] == 404


async def test_healthz_and_readyz(served: tuple[OpsServer, Path]) -> None:
    server, path = served
    m = server.metrics
    status, content_type, text = await _get(server.url + "/healthz")
    assert status == 200 and content_type.startswith("application/json")
    body = json.loads(text)
    assert body["status"] == "ok" and body["database"] == "ok" and body["tor"] is None
    assert (await _get(server.url + "/readyz"))[0] == 200  # Tor not checked: not required

    m.heartbeat()
    m.set_tor(BOOTSTRAPPING)
    status, _, text = await _get(server.url + "/healthz")
    body = json.loads(text)
    assert status == 200, body  # Tor bootstrapping is shown, not a liveness failure
    assert body["tor"]["bootstrap_percent"] == 45 and body["heartbeat_age_seconds"] < 5
    status, _, text = await _get(server.url + "/readyz")
    assert status == 503 and "tor: bootstrap at 45%" in json.loads(text)["problems"][0]
    m.set_tor(None, "Tor's control port 127.0.0.1:9 did not answer within 3 s")
    assert (await _get(server.url + "/readyz"))[0] == 503
    m.set_tor(HEALTHY)
    assert (await _get(server.url + "/readyz"))[0] == 200

    assert m.last_heartbeat is not None
    m.last_heartbeat -= 60  # the scheduler stopped going round a minute ago
    status, _, text = await _get(server.url + "/healthz")
    assert status == 503 and "scheduler has not gone round" in json.loads(text)["problems"][0]
    m.heartbeat()

    path.unlink()  # the database is gone under the daemon
    status, _, text = await _get(server.url + "/healthz")
    body = json.loads(text)
    assert status == 503 and body["status"] == "failing" and body["database"] == "error"
    assert "missing" in body["problems"][0]


async def test_healthz_when_the_database_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    path.write_bytes(b"not a database at all" * 100)
    metrics = Metrics(path, process=False)
    async with OpsServer(metrics, "127.0.0.1", 0) as server:
        status, _, text = await _get(server.url + "/healthz")
        assert status == 503 and "state database" in text
        status, _, text = await _get(server.url + "/metrics")
        assert status == 200 and "cohortwatch_state_db_up 0.0" in text
    metrics.close()


async def test_serve_ops_disabled_refused_and_busy(tmp_path: Path) -> None:
    metrics = Metrics(None, process=False)
    async with serve_ops(MetricsSettings(listen=""), metrics) as server:
        assert server is None
    with pytest.raises(ConfigError, match="not a loopback address"):
        async with serve_ops("0.0.0.0:0", metrics):
            pass
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=r"metrics\.listen"):
            async with serve_ops(f"127.0.0.1:{port}", metrics):
                pass
