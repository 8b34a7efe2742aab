"""Prometheus metrics of the daemon (``/metrics``), in a registry of its own.

Two kinds of values, and the reason for each:

- **What this process did** since it started — crawls by site and outcome, posts seen and
  new, Tor's health as last checked, webhook deliveries — are counters and gauges the
  daemon feeds through :class:`Metrics` (:meth:`Metrics.record_crawl`,
  :meth:`Metrics.set_tor`, …). They start from zero at each start, as Prometheus expects.
- **What the state database says** — each site's state, failures, last success and next
  crawl time, posts listed and removed, events by type, datasets scanned and matched,
  members matched by method, cohorts and members, the alert outbox's depth — is read at
  every scrape by a collector (:class:`StateCollector`) on a read-only connection of its
  own. So ``/metrics`` is right right after a restart and never stale, a scrape never waits
  behind the daemon's writes for long, and it never writes.

The registry is not prometheus-client's global one, so tests and several daemons in one
process never collide. Every name starts with ``cohortwatch_``. Labels are configured site
names, outcome statuses, event types, match methods, outbox statuses and endpoint names
and cohort names that look like identifiers — never a victim name, a post text, a cohort
ref or a file name; anything else is replaced by a placeholder (:func:`safe_label`).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from matchers.errors import StateError
from monitor import state_view as view

__all__ = ["Metrics", "StateCollector", "StateReader", "safe_label"]

log = logging.getLogger(__name__)

PREFIX = "cohortwatch_"
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def safe_label(value: object, placeholder: str = "other") -> str:
    """``value`` as a label value if it looks like an identifier (``[A-Za-z0-9_.:-]``, at
    most 64 characters, no spaces), else ``placeholder``: a label never carries free text."""
    text = str(value)
    return text if _LABEL.fullmatch(text) else placeholder


class StateReader:
    """A read-only connection to the state database for scrapes and health probes.

    Its own connection (``mode=ro``): a scrape cannot write, and its short busy timeout
    means a database held by a long write is reported within ``busy_timeout`` seconds
    rather than stalling the probe. Thread-safe: the HTTP server reads in worker threads.
    The connection is reopened after an error, and a database file that was removed or
    replaced under the daemon is an error, not a silent read of the old inode.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 2.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        try:
            inode = self.path.stat().st_ino
        except OSError as exc:
            self._drop()
            raise StateError(f"state database {self.path} is missing "
                             f"({exc.strerror or exc})") from None
        if self._conn is not None and inode == self._inode:
            return self._conn
        self._drop()
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=self._busy_timeout, check_same_thread=False,
                                   isolation_level=None)
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path} cannot be opened ({exc})") from None
        self._conn, self._inode = conn, inode
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._inode = None

    def read(self, func: Any) -> Any:
        """``func(conn, tables)`` in one read transaction (a consistent snapshot).

        :raises StateError: the database is missing, unreadable, locked beyond the busy
            timeout, or not a database.
        """
        with self._lock:
            conn = self._open()
            try:
                conn.execute("begin")
                try:
                    return func(conn, view.table_names(conn))
                finally:
                    conn.execute("rollback")
            except sqlite3.Error as exc:
                self._drop()
                raise StateError(f"state database {self.path}: {exc}") from None

    def ping(self) -> None:
        """Does the database answer? (A read of its schema.)

        :raises StateError: see :meth:`read`.
        """
        self.read(lambda conn, _tables: conn.execute("select count(*) from sqlite_master"))

    def close(self) -> None:
        with self._lock:
            self._drop()


class StateCollector(Collector):
    """The metrics derived from the state database, computed at each scrape."""

    def __init__(self, reader: StateReader, sites: Iterable[str] | None = None) -> None:
        self.reader = reader
        self.sites: tuple[str, ...] | None = tuple(sites) if sites is not None else None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(PREFIX + "state_db_up",
                               "1 when the state database answered this scrape, else 0")
        try:
            families = self.reader.read(self._families)
        except StateError as exc:
            log.warning("metrics: state database unreadable", extra={"reason": str(exc)})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, conn: sqlite3.Connection, tables: set[str]) -> list[Metric]:
        out: list[Metric] = []
        rows = {r["name"]: r for r in view.site_rows(conn, tables)}
        names = sorted(rows) if self.sites is None else list(self.sites)

        state = GaugeMetricFamily(PREFIX + "site_state", "1 for the site's current state "
                                  "(up, down, unknown: never crawled or only Tor failed)",
                                  labels=["site", "state"])
        failures = GaugeMetricFamily(PREFIX + "site_consecutive_failures",
                                     "Failed crawl cycles in a row", labels=["site"])
        broken = GaugeMetricFamily(PREFIX + "site_parser_broken",
                                   "1 while the site's parser finds no posts where there "
                                   "were some", labels=["site"])
        listed = GaugeMetricFamily(PREFIX + "site_posts_listed",
                                   "Posts on the site's listing at its last successful crawl",
                                   labels=["site"])
        times = {
            "last_success": GaugeMetricFamily(
                PREFIX + "site_last_success_timestamp_seconds",
                "When the site was last read successfully (unix time)", labels=["site"]),
            "last_attempt": GaugeMetricFamily(
                PREFIX + "site_last_attempt_timestamp_seconds",
                "When the site was last tried (unix time)", labels=["site"]),
            "next_due": GaugeMetricFamily(
                PREFIX + "site_next_due_timestamp_seconds",
                "When the site's next crawl is due (unix time)", labels=["site"]),
        }
        for name in names:
            row = rows.get(name, {})
            site = safe_label(name)
            current = row.get("state") or "unknown"
            for s in ("up", "down", "unknown"):
                state.add_metric([site, s], 1 if current == s else 0)
            failures.add_metric([site], int(row.get("failures") or 0))
            broken.add_metric([site], 1 if row.get("parser_broken") else 0)
            listed.add_metric([site], int(row.get("last_posts") or 0))
            for column, family in times.items():
                when = view.iso_to_unix(row.get(column))
                if when is not None:
                    family.add_metric([site], when)
        out += [state, failures, broken, listed, *times.values()]

        mirrors = GaugeMetricFamily(PREFIX + "site_mirrors",
                                    "Mirrors (onion addresses) of a site by their last state",
                                    labels=["site", "state"])
        for site, by_state in sorted(view.mirror_counts(conn, tables).items()):
            if self.sites is None or site in self.sites:
                for s, n in sorted(by_state.items()):
                    mirrors.add_metric([safe_label(site), safe_label(s)], n)
        posts = GaugeMetricFamily(PREFIX + "posts", "Posts recorded, by site and whether "
                                  "they are still listed", labels=["site", "state"])
        for site, by_state in sorted(view.post_counts(conn, tables).items()):
            if self.sites is None or site in self.sites:
                for s, n in sorted(by_state.items()):
                    posts.add_metric([safe_label(site), s], n)
        out += [mirrors, posts]

        events = CounterMetricFamily(PREFIX + "events", "Events recorded for alerting, by "
                                     "type (each post or dataset at most once)",
                                     labels=["type"])
        for type_, n in view.event_counts(conn, tables).items():
            events.add_metric([safe_label(type_)], n)
        members = CounterMetricFamily(PREFIX + "members_matched", "Cohort members found in "
                                      "posted datasets (dataset.matched events), by method",
                                      labels=["method"])
        for method, n in view.members_by_method(conn, tables).items():
            members.add_metric([method], n)
        counts = view.dataset_counts(conn, tables)
        scanned = CounterMetricFamily(PREFIX + "datasets_scanned",
                                      "Datasets scanned (crawled or checked by hand)")
        scanned.add_metric([], counts["scanned"])
        matched = CounterMetricFamily(PREFIX + "datasets_matched",
                                      "Datasets in which cohort members were found")
        matched.add_metric([], counts["matched"])
        out += [events, members, scanned, matched]

        enrolled = view.cohorts(conn, tables)
        n_cohorts = GaugeMetricFamily(PREFIX + "cohorts_enrolled", "Cohorts enrolled")
        n_cohorts.add_metric([], len(enrolled))
        cohort_members = GaugeMetricFamily(PREFIX + "cohort_members",
                                           "Members enrolled per cohort", labels=["cohort"])
        for c in enrolled:
            cohort_members.add_metric([safe_label(c["name"], f"cohort-{c['id']}")],
                                      c["members"])
        out += [n_cohorts, cohort_members]

        outbox = view.outbox_counts(conn, tables)
        depth = GaugeMetricFamily(PREFIX + "outbox_depth",
                                  "Alerts committed but not yet delivered")
        depth.add_metric([], outbox.depth if outbox else 0)
        by_status = GaugeMetricFamily(PREFIX + "outbox_messages",
                                      "Alerts in the outbox by status", labels=["status"])
        by_endpoint = GaugeMetricFamily(PREFIX + "outbox_endpoint_messages",
                                        "Alerts in the outbox by endpoint and status",
                                        labels=["endpoint", "status"])
        disabled = GaugeMetricFamily(PREFIX + "outbox_endpoint_disabled",
                                     "1 for an endpoint disabled by a 410 Gone answer "
                                     "(cohortwatch alerts enable NAME)", labels=["endpoint"])
        oldest = GaugeMetricFamily(PREFIX + "outbox_oldest_pending_timestamp_seconds",
                                   "When the oldest undelivered alert was committed (unix "
                                   "time; absent when none waits)")
        if outbox:
            for s, n in sorted(outbox.by_status.items()):
                by_status.add_metric([safe_label(s)], n)
            for ep, statuses in sorted(outbox.by_endpoint.items()):
                for s, n in sorted(statuses.items()):
                    by_endpoint.add_metric([safe_label(ep), safe_label(s)], n)
            for ep in outbox.disabled_endpoints:
                disabled.add_metric([safe_label(ep)], 1)
            when = view.iso_to_unix(outbox.oldest_pending)
            if when is not None:
                oldest.add_metric([], when)
        out += [depth, by_status, by_endpoint, disabled, oldest]
        return out


# In-process counters: name → (help, label names). Kept by :class:`_Tally` rather than as
# prometheus-client ``Counter`` objects, which would add a ``*_created`` series to every
# labelled counter in the text format (prometheus-client can turn that off only for the
# whole process).
_COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "crawls": ("Crawl cycles by site and outcome (ok, empty, blocked, parser_broken, failed, "
               "tor_unavailable)", ("site", "status")),
    "crawl_failures": ("Crawl cycles that failed (failed, blocked, parser_broken, "
                       "tor_unavailable)", ("site",)),
    "crawl_duration_seconds": ("Time spent in crawl cycles, downloads and matching included "
                               "(divide by crawls for the mean)", ("site",)),
    "posts_seen": ("Posts read from listings", ("site",)),
    "posts_new": ("Posts seen for the first time", ("site",)),
    "posts_removed": ("Posts gone from a listing read to its end", ("site",)),
    "posts_reappeared": ("Removed posts listed again", ("site",)),
    "watchlist_matches": ("Posts matching the watchlist", ("site",)),
    "files_downloaded": ("Posted files downloaded for matching", ("site",)),
    "crawl_members_matched": ("Cohort members found in files posted on a site", ("site",)),
    "webhook_deliveries": ("Webhook delivery attempts by endpoint and result",
                           ("endpoint", "result")),
}
_PER_SITE = ("crawl_failures", "posts_new", "watchlist_matches")  # shown at 0 from the start


class _Tally:
    """Labelled counters under a lock (the daemon feeds them from the event loop, scrapes
    read them from a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[tuple[str, ...], float]] = {n: {} for n in _COUNTERS}

    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
        with self._lock:
            series = self._values[name]
            series[labels] = series.get(labels, 0.0) + amount

    def snapshot(self) -> dict[str, dict[tuple[str, ...], float]]:
        with self._lock:
            return {name: dict(series) for name, series in self._values.items()}


class _RunCollector(Collector):
    """What this process did and saw: the tally, Tor as last checked, the heartbeat."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        for name, series in m.tally.snapshot().items():
            doc, labels = _COUNTERS[name]
            family = CounterMetricFamily(PREFIX + name, doc, labels=list(labels))
            for values, amount in sorted(series.items()):
                family.add_metric(list(values), amount)
            yield family
        info = GaugeMetricFamily(PREFIX + "build_info", "The running cohortwatch version",
                                 labels=["version"])
        info.add_metric([safe_label(_version(), "unknown")], 1)
        yield info
        yield _gauge("start_time_seconds", "When the daemon started (unix time)", m.started)
        if m.heartbeat_time is not None:
            yield _gauge("heartbeat_timestamp_seconds", "When the daemon's scheduler last "
                         "went round (unix time)", m.heartbeat_time)
        yield from self._tor()

    def _tor(self) -> Iterator[Metric]:
        """Only once the daemon has checked Tor: no check (no control port configured) is
        not the same as an unhealthy Tor, and must not fire an alert."""
        m = self.metrics
        if m.tor_checked_time is None:
            return
        health = m.tor
        yield _gauge("tor_last_check_timestamp_seconds",
                     "When Tor's health was last checked (unix time)", m.tor_checked_time)
        yield _gauge("tor_control_up", "1 when Tor's control port answered the last health "
                     "check", 0 if health is None else 1)
        yield _gauge("tor_healthy", "1 when Tor is bootstrapped, has a circuit and sees the "
                     "network, at the last check", 1 if health is not None and health.healthy
                     else 0)
        if m.tor_bootstrap is not None:
            yield _gauge("tor_bootstrap_percent", "Tor's bootstrap progress at the last check "
                         "that reached its control port", m.tor_bootstrap)
        if health is not None:
            yield _gauge("tor_circuit_established", "1 when Tor reports an established "
                         "circuit", 1 if health.circuit_established else 0)
            yield _gauge("tor_network_live", "1 when Tor believes the network is up",
                         1 if health.network_live else 0)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, value=value)


class Metrics:
    """The daemon's metrics: feed it what happens, serve :attr:`registry`.

    ``db_path``: the state database (``STATE_DIR/cohortwatch.db``), read at each scrape;
    ``None`` serves only the in-process values. ``sites``: the configured site names, so
    every configured site is listed (also never-crawled ones) and no other name appears;
    ``None`` lists every site the database knows. ``process``: add the standard process
    metrics (``cohortwatch_process_resident_memory_bytes``, CPU, open files). Every
    method is cheap, thread-safe and never raises for a value it is given.
    """

    def __init__(self, db_path: str | Path | None = None, *,
                 sites: Iterable[str] | None = None, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.reader = StateReader(db_path) if db_path is not None else None
        self._state: StateCollector | None = None
        self.tally = _Tally()
        self.started = time.time()
        self.heartbeat_time: float | None = None  # unix time
        self.last_heartbeat: float | None = None  # monotonic, for /healthz
        self.tor: Any = None  # the last TorHealth; None: unreachable or never checked
        self.tor_error: str | None = None
        self.tor_bootstrap: int | None = None
        self.tor_checked_time: float | None = None  # unix time
        self.tor_checked_at: float | None = None  # monotonic, for /healthz
        if self.reader is not None:
            self._state = StateCollector(self.reader, sites)
            self.registry.register(self._state)
        self.registry.register(_RunCollector(self))
        if process and os.path.isdir("/proc/self"):
            ProcessCollector(namespace="cohortwatch", registry=self.registry)
        if sites is not None:
            self.set_sites(sites)

    # -- what the daemon calls -----------------------------------------------------------

    def set_sites(self, names: Iterable[str]) -> None:
        """The configured sites (at start and after a reload): listed even before their
        first crawl, with their failure, new-post and watchlist counters at zero."""
        names = tuple(names)
        if self._state is not None:
            self._state.sites = names
        for name in names:
            for counter in _PER_SITE:
                self.tally.inc(counter, (safe_label(name),), 0)

    def record_crawl(self, outcome: Any, seconds: float | None = None) -> None:
        """Count one :class:`monitor.crawl.CrawlOutcome` (``seconds``: how long it took)."""
        site = (safe_label(outcome.site),)
        self.tally.inc("crawls", (*site, safe_label(outcome.status)))
        if not outcome.ok:
            self.tally.inc("crawl_failures", site)
        if seconds is not None and seconds >= 0:
            self.tally.inc("crawl_duration_seconds", site, seconds)
        for name, value in (("posts_seen", outcome.posts_seen),
                            ("posts_new", outcome.new_posts),
                            ("posts_removed", outcome.removed),
                            ("posts_reappeared", outcome.reappeared),
                            ("watchlist_matches", outcome.watch_matches),
                            ("files_downloaded", outcome.files_downloaded),
                            ("crawl_members_matched", outcome.members_matched)):
            if value and value > 0:
                self.tally.inc(name, site, value)

    def set_tor(self, health: Any, error: str | None = None) -> None:
        """The result of a Tor health check: a :class:`monitor.tor.status.TorHealth`, or
        ``None`` when the control port did not answer (``error`` says why; it is shown in
        ``/healthz``, so pass the message of a :class:`~monitor.errors.TorError`)."""
        self.tor_checked_time = time.time()
        self.tor_checked_at = time.monotonic()
        self.tor, self.tor_error = health, error
        if health is not None:
            self.tor_bootstrap = int(health.bootstrap.percent)

    def heartbeat(self) -> None:
        """The scheduler went round: ``/healthz`` fails when this stops happening."""
        self.last_heartbeat = time.monotonic()
        self.heartbeat_time = time.time()

    def record_delivery(self, endpoint: str, result: str) -> None:
        """One webhook attempt to the configured ``endpoint`` (its name, not its URL):
        ``delivered``, ``retrying``, ``dead`` or ``disabled``."""
        self.tally.inc("webhook_deliveries", (safe_label(endpoint), safe_label(result)))

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition for an HTTP ``Accept`` header: ``(body, content type)``;
        Prometheus text unless OpenMetrics is asked for. Reads the state database."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def close(self) -> None:
        """Close the read-only database connection."""
        if self.reader is not None:
            self.reader.close()


def _version() -> str:
    try:
        return metadata.version("cohortwatch")
    except metadata.PackageNotFoundError:
        return "unknown"
