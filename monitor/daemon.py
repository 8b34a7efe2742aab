"""``cohortwatch run``: the crawler, the matcher and alert delivery as one long-lived service.

One asyncio event loop, a :class:`asyncio.TaskGroup` of long-running tasks:

- the **scheduler** starts a crawl task for each site whose next crawl time has come,
  at most ``crawler.concurrency`` at once and never two for one site; matching of posted
  files runs in worker threads (:class:`~monitor.crawl.DatasetMatcher`), so crawling,
  heartbeats and delivery never stall behind a multi-GB scan;
- **Tor**: the system tor's control port (or a managed tor) is connected, its bootstrap
  awaited and its health checked every minute; an unhealthy Tor raises ``tor.unhealthy``
  once per incident. Crawling does not wait for Tor: a crawl while Tor is down records
  "tor_unavailable" and no site is declared down;
- **alerts**: events the crawler recorded go into the durable outbox and are delivered;
- **operations**: ``/metrics`` and ``/healthz`` on 127.0.0.1, sd_notify (READY once the
  configuration, key, database and cohort indexes are loaded — not waiting for Tor;
  STATUS= a one-line summary; WATCHDOG=1 from the event loop itself).

SIGTERM and SIGINT stop gracefully: crawl tasks are cancelled (downloads abort, their
private directories are removed), a scan in a worker thread stops at its next batch, the
database is left consistent and undelivered alerts stay in the outbox for the next start.
SIGHUP re-reads the configuration and site definitions; an invalid new configuration is
logged and the old one stays in force (Tor settings take effect at the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts import Deliverer, Outbox, alert_from_event
from matchers.archives import Terminated
from matchers.errors import CohortwatchError
from matchers.resident import ResidentCohorts
from matchers.scan import ScanOptions
from matchers.store import DB_NAME, is_storage_full
from monitor import systemd
from monitor.config import Config, load_config
from monitor.context import Context
from monitor.crawl import Crawler, CrawlStore, DatasetMatcher
from monitor.crawl.crawler import temp_root_for
from monitor.crawl.datasets import sweep_stale
from monitor.crawl.session import open_tor
from monitor.crawl.store import utcnow
from monitor.metrics import Metrics
from monitor.ops_http import serve_ops
from monitor.watchlist import Watchlist

__all__ = ["Daemon", "run_daemon"]

log = logging.getLogger(__name__)

TICK = 5.0  # seconds between looks at the schedule
TOR_CHECK = 60.0  # seconds between Tor health checks
TOR_UNHEALTHY_AFTER = 3  # failed health checks in a row before tor.unhealthy


@dataclass
class DaemonState:
    """What the daemon is doing, for STATUS=, /healthz and logs."""

    started: float = field(default_factory=time.monotonic)
    crawls: int = 0
    failures: int = 0
    inflight: set[str] = field(default_factory=set)
    tor: str = "not checked"
    last_loop: float = field(default_factory=time.monotonic)

    def summary(self, sites: int) -> str:
        return (f"{sites} sites, {len(self.inflight)} crawling, {self.crawls} crawls "
                f"({self.failures} failed), tor {self.tor}")


class Daemon:
    """The service; :meth:`run` returns when asked to stop."""

    def __init__(self, state_dir: Any, config_option: str | None) -> None:
        self.state_dir = state_dir
        self.config_option = config_option
        self.config: Config = load_config(config_option)
        self.ctx = Context(state_dir, self.config)
        self.state = DaemonState()
        self.stop = asyncio.Event()
        self.halt = threading.Event()  # read by scan threads at each batch
        self.crawler: Crawler | None = None
        self._tor: Any = None
        self.metrics: Metrics | None = None
        self.outbox: Outbox | None = None
        self.deliverer: Deliverer | None = None
        self.resident = ResidentCohorts()
        self._not_before: dict[str, float] = {}  # site → no crawl before (monotonic)

    # -- start-up ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Everything READY=1 promises: configuration, key, database, cohort indexes.

        :raises CohortwatchError: a missing key, an unusable database, a bad config.
        """
        store = self.ctx.store  # key and database
        sweep_stale(temp_root_for(self.state_dir))  # raw data a killed run left behind
        # Loaded once, here: a cohort that cannot be used fails the start, not the first
        # posted file, and no scan waits for a million members to be read.
        cohorts = self.resident.load_enrolled(store)
        log.info("daemon prepared", extra={"sites": len(self.config.sites),
                                           "cohorts": len(cohorts)})

    def _count_delivery(self, result: Any) -> None:
        if self.metrics is not None and result.outcome != "skipped":  # skipped: no attempt
            self.metrics.record_delivery(result.endpoint, result.outcome)

    def _scan_progress(self, *_args: Any) -> None:
        if self.halt.is_set():
            raise Terminated

    def _make_crawler(self, fetcher: Any, tor: Any) -> Crawler:
        cfg = self.config
        options = ScanOptions(limits=cfg.limits, settings=cfg.matching,
                              archive_limits=cfg.archives)
        matcher = DatasetMatcher(self.ctx.open_cohort_store, options,
                                 concurrency=cfg.crawler.match_concurrency,
                                 temp_root=temp_root_for(self.state_dir),
                                 progress=self._scan_progress, resident=self.resident)
        return Crawler(store=CrawlStore(self.ctx.db), fetcher=fetcher,
                       watchlist=Watchlist(cfg.watchlist), settings=cfg.crawler,
                       matcher=matcher, tor=tor)

    # -- the service ---------------------------------------------------------------------

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT (or :attr:`stop` is set)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.metrics = Metrics(self.state_dir / DB_NAME,
                               sites=[s.name for s in self.config.sites])
        self.outbox = Outbox(self.ctx.db)
        try:
            async with (serve_ops(self.config.metrics, self.metrics) as ops,
                        Deliverer(self.outbox, self.config.alerts,
                                  on_attempt=self._count_delivery) as deliverer,
                        asyncio.TaskGroup() as tg):
                self.deliverer = deliverer
                if ops is not None:
                    log.info("serving /metrics and /healthz", extra={"url": ops.url})
                # The heartbeat first: a managed tor may take minutes to bootstrap and the
                # watchdog must not kill us meanwhile. READY=1 does not wait for Tor.
                tg.create_task(self._heartbeat(), name="heartbeat")
                self.bridge_events()  # events recorded while we were not running
                systemd.ready(self.state.summary(len(self.config.sites)))
                tg.create_task(self._service(tg), name="service")
                tg.create_task(deliverer.run_forever(self.stop), name="alerts")
                await self.stop.wait()
                raise _Stopping
        except* _Stopping:
            pass  # how the task group is told to cancel its tasks: a normal stop
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            log.info("daemon stopped", extra={"crawls": self.state.crawls})

    async def _service(self, tg: asyncio.TaskGroup) -> None:
        self.state.tor = "starting"
        async with open_tor(self.ctx, wait=False) as (fetcher, tor):
            self._tor = tor
            self.crawler = self._make_crawler(fetcher, tor)
            await asyncio.gather(self._schedule(tg), self._watch_tor())

    def bridge_events(self) -> int:
        """Events the crawler recorded since the last call → the alert outbox.

        The cursor is committed after the outbox rows; a crash in between enqueues the same
        events again, which :meth:`Outbox.enqueue` ignores (one row per webhook-id and
        endpoint), so nothing is lost and nothing is sent twice.
        """
        try:
            return self._bridge_events()
        except Exception as exc:
            if not is_storage_full(exc):
                raise
            # The events stay in their table and the cursor where it was: bridged later.
            log.error(self._full_message("events are turned into alerts"))
            return 0

    def _bridge_events(self) -> int:
        db = self.ctx.db
        row = db.execute("select value from meta where key = 'alerts_event_cursor'").fetchone()
        cursor = int(row[0]) if row else 0
        added = 0
        for event in CrawlStore(db).events(since_id=cursor):
            try:
                added += self.outbox.enqueue(alert_from_event(event),
                                             self.config.alerts.endpoints)
            except CohortwatchError as exc:
                log.error("event not turned into an alert", extra={
                    "event": event["id"], "type": event["type"], "reason": str(exc)})
            cursor = event["id"]
        with db.conn:
            db["meta"].upsert({"key": "alerts_event_cursor", "value": str(cursor)}, pk="key")
        if added and self.deliverer is not None:
            self.deliverer.wake()
        return added

    def request_stop(self, why: str = "request") -> None:
        if not self.stop.is_set():
            log.warning("stopping", extra={"signal": why})
            systemd.stopping()
            self.halt.set()
            self.stop.set()

    def reload(self) -> None:
        """SIGHUP: re-read the configuration; keep the old one if the new one is invalid."""
        systemd.reloading()
        try:
            new = load_config(self.config_option)
        except CohortwatchError as exc:
            log.error("new configuration rejected; the old one stays in force",
                      extra={"reason": str(exc)})
        else:
            if new.tor != self.config.tor:
                log.warning("Tor settings changed: they take effect at the next start")
            if new.alerts != self.config.alerts or new.metrics != self.config.metrics:
                log.warning("alert endpoints and [metrics] take effect at the next start")
            self.config = new
            self.ctx.config = new
            if self.crawler is not None:
                self.crawler.watchlist = Watchlist(new.watchlist)
                self.crawler.settings = new.crawler
            if self.metrics is not None:
                self.metrics.set_sites(s.name for s in new.sites)
            log.info("configuration reloaded", extra={"sites": len(new.sites)})
        systemd.ready(self.state.summary(len(self.config.sites)))

    async def _schedule(self, tg: asyncio.TaskGroup) -> None:
        assert self.crawler is not None  # noqa: S101 - set before the group starts
        gate = asyncio.Semaphore(max(1, self.config.crawler.concurrency))
        while not self.stop.is_set():
            sites = [s for s in self.config.sites if s.enabled]
            held = {name for name, until in self._not_before.items()
                    if until > time.monotonic()}
            for site in self.crawler.due(sites):
                if site.name not in self.state.inflight and site.name not in held:
                    self.state.inflight.add(site.name)
                    tg.create_task(self._crawl(site, gate), name=f"crawl-{site.name}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), TICK)

    async def _crawl(self, site: Any, gate: asyncio.Semaphore) -> None:
        assert self.crawler is not None  # noqa: S101
        try:
            async with gate:
                if self.stop.is_set():
                    return
                started = time.monotonic()
                outcome = await self.crawler.crawl_site(site)
            self.state.crawls += 1
            self.state.failures += 0 if outcome.ok else 1
            self.metrics.record_crawl(outcome, time.monotonic() - started)
            if outcome.events:
                self.bridge_events()
        except Terminated:
            log.info("crawl stopped by shutdown", extra={"site": site.name})
        except Exception as exc:  # one site's bug must not stop the service
            self.state.failures += 1
            if is_storage_full(exc):
                log.error(self._full_message("crawl of this site is retried"),
                          extra={"site": site.name, "reason": str(exc)})
            else:
                log.exception("crawl raised; the daemon goes on", extra={"site": site.name})
            self._retry_later(site)
        finally:
            self.state.inflight.discard(site.name)

    def _full_message(self, then: str) -> str:
        return (f"no space left on the disk of the state directory {self.state_dir}: free "
                f"space there; nothing is lost, the {then} once writes succeed again")

    def _retry_later(self, site: Any) -> None:
        """After a failed crawl: the site's next try, recorded in the database and — should
        that write fail too (a full disk) — kept here, so the site is not crawled again at
        every tick."""
        assert self.crawler is not None  # noqa: S101
        due = self.crawler._due(utcnow(), site, 1)
        wait = (datetime.fromisoformat(due) - utcnow()).total_seconds()
        self._not_before[site.name] = time.monotonic() + wait
        try:
            self.crawler.store.update_site(site.name, next_due=due)
        except Exception as exc:  # noqa: BLE001 - the in-memory hold above stands in
            log.warning("next crawl time not recorded; held in memory",
                        extra={"site": site.name, "reason": str(exc)})

    async def _watch_tor(self) -> None:
        bad = 0
        incident = 0
        while not self.stop.is_set():
            tor = self._tor
            if tor is None:
                self.state.tor = "no control port"
            else:
                try:
                    health = await tor.health()
                    self.metrics.set_tor(health)
                except CohortwatchError as exc:
                    health = None
                    self.state.tor = f"unreachable ({exc})"[:80]
                    self.metrics.set_tor(None, str(exc))
                if health is not None:
                    self.state.tor = ("ok" if health.healthy else
                                      f"{health.bootstrap.percent}% "
                                      + "; ".join(health.problems())[:60])
                healthy = health is not None and health.healthy
                bad = 0 if healthy else bad + 1
                if bad == TOR_UNHEALTHY_AFTER:
                    incident += 1
                    assert self.crawler is not None  # noqa: S101
                    self.crawler.store.add_event(
                        "tor.unhealthy", utcnow(),
                        dedupe=f"tor.unhealthy:{utcnow().isoformat(timespec='seconds')}",
                        data={"status": self.state.tor, "checks_failed": bad})
                    self.bridge_events()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), TOR_CHECK)

    async def _heartbeat(self) -> None:
        """WATCHDOG=1 (with STATUS=) from the event loop itself: a loop that stalls stops
        the pings and systemd restarts us."""
        def summary() -> str:
            self.state.last_loop = time.monotonic()
            self.metrics.heartbeat()
            return self.state.summary(len(self.config.sites))

        if not systemd.watchdog_interval():
            # No systemd watchdog: still tell /healthz that the loop goes round.
            while not self.stop.is_set():
                summary()
                self.metrics.heartbeat()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), TICK)
            return

        await systemd.run_watchdog(systemd.watchdog_interval() or TICK, status=summary)


class _Stopping(Exception):
    """Raised inside the task group to cancel its tasks on stop."""


def run_daemon(state_dir: Any, config_option: str | None) -> int:
    """Entry point of ``cohortwatch run``.

    :raises CohortwatchError: start-up failed (bad config, key, database).
    """
    # A watchdog kill (SIGABRT) then prints every thread's stack to the journal.
    faulthandler.enable()
    daemon = Daemon(state_dir, config_option)
    daemon.prepare()
    asyncio.run(daemon.run())
    return 0
