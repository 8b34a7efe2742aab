"""One crawl of one site: fetch its listing over Tor, find new, changed, removed and
re-appeared posts, match them against the watchlist, download and match posted files.

What a cycle concludes, and what it refuses to conclude:

- Posts missing from a listing are marked removed only when the listing was read to its
  end (no page cap hit, no page failed) and parsed normally. A page on which the parser
  suddenly finds nothing although the site had posts is ``parser.broken``, and a login
  wall or CAPTCHA is "blocked" — neither removes anything.
- The first successful crawl of a site is its baseline: posts are recorded without
  post alerts (a new site is not 300 new victims). Posted files of watchlist matches
  are still downloaded and matched: members of the cohort in a dataset are never old news.
- Failures are per mirror and per site: a site whose every mirror failed for
  ``down_after`` cycles in a row raises ``site.down`` once, and ``site.up`` when it
  answers again. After ``newnym_after`` failures in a row the site moves to new circuits
  and Tor is asked for NEWNYM (Tor rate-limits it; a refused request is only logged).
- Tor itself being unreachable is not a site failure: no site is declared down because
  our own Tor is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from matchers.errors import CohortwatchError, StateFullError
from matchers.store import is_storage_full
from monitor.crawl.backoff import next_due
from monitor.crawl.datasets import DatasetMatcher, archive_password, file_name_for
from monitor.crawl.identity import KnownPost, assign_posts, post_key, url_key
from monitor.crawl.settings import CrawlerSettings
from monitor.crawl.store import CrawlStore, utcnow
from monitor.errors import DownloadError, FetchError, TorUnavailableError
from monitor.sites.pages import listing_url
from monitor.textfold import is_truncated
from monitor.tor.socks import Fetcher, Page
from monitor.watchlist import Watchlist

__all__ = ["CrawlOutcome", "Crawler", "CrawlerSettings"]

log = logging.getLogger(__name__)


class TorNewnym(Protocol):
    async def newnym(self) -> Any: ...


@dataclass
class CrawlOutcome:
    """What one site's cycle did (also what ``cohortwatch crawl`` prints)."""

    site: str
    ok: bool = False
    status: str = "failed"  # ok, empty, blocked, parser_broken, failed, tor_unavailable
    reason: str = ""
    pages: int = 0
    posts_seen: int = 0
    new_posts: int = 0
    removed: int = 0
    reappeared: int = 0
    watch_matches: int = 0
    files_downloaded: int = 0
    members_matched: int = 0
    baseline: bool = False
    events: list[str] = field(default_factory=list)


class Crawler:
    """Crawls configured sites; ``sites`` are :class:`monitor.sites.Site` definitions."""

    def __init__(self, *, store: CrawlStore, fetcher: Fetcher, watchlist: Watchlist,
                 settings: CrawlerSettings | None = None,
                 matcher: DatasetMatcher | None = None, tor: TorNewnym | None = None,
                 parse_listing: Callable[..., Any] | None = None,
                 parse_detail: Callable[..., Any] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        if parse_listing is None or parse_detail is None:
            from monitor.sites import parse_detail as detail
            from monitor.sites import parse_listing as listing

            parse_listing, parse_detail = parse_listing or listing, parse_detail or detail
        self.store = store
        self.fetcher = fetcher
        self.watchlist = watchlist
        self.settings = settings or CrawlerSettings()
        self.matcher = matcher
        self.tor = tor
        self._parse_listing = parse_listing
        self._parse_detail = parse_detail
        self._clock = clock

    # -- scheduling ----------------------------------------------------------------------

    def due(self, sites: Sequence[Any], now: datetime | None = None) -> list[Any]:
        """The sites whose next crawl time has come (never-crawled sites are due)."""
        now = now or self._clock()
        out = []
        for site in sites:
            when = self.store.site(site.name).get("next_due")
            if not when or datetime.fromisoformat(when) <= now:
                out.append(site)
        return out

    async def crawl_all(self, sites: Sequence[Any]) -> list[CrawlOutcome]:
        """Crawl ``sites`` once each, ``concurrency`` at a time."""
        gate = asyncio.Semaphore(max(1, self.settings.concurrency))

        async def one(site: Any) -> CrawlOutcome:
            async with gate:
                return await self.crawl_site(site)

        return list(await asyncio.gather(*(one(s) for s in sites)))

    # -- one site ------------------------------------------------------------------------

    async def crawl_site(self, site: Any) -> CrawlOutcome:
        """One cycle for ``site``; never raises for a site's misbehaviour."""
        out = CrawlOutcome(site.name)
        now = self._clock()
        state = self.store.site(site.name)
        self.store.update_site(site.name, last_attempt=now.isoformat(timespec="seconds"),
                               first_crawl=state.get("first_crawl")
                               or now.isoformat(timespec="seconds"))
        try:
            posts, complete, status, reason, pages = await self._read_listing(site, now)
        except TorUnavailableError as exc:
            out.status, out.reason = "tor_unavailable", str(exc)
            log.warning("tor unavailable; site not crawled", extra={"site": site.name})
            self.store.update_site(site.name, last_error=str(exc)[:300],
                                   next_due=self._due(now, site, 1))
            return out
        out.pages = pages
        if status in ("failed", "blocked"):
            out.status, out.reason = status, reason
            await self._failed(site, state, now, out)
            return out
        if status == "empty" and int(state.get("last_posts") or 0) > 0:
            out.status, out.reason = "parser_broken", reason or "the parser found no posts"
            await self._succeeded(site, state, now, out)
            if not state.get("parser_broken"):
                self._event(out, "parser.broken", now, dedupe=f"parser.broken:{site.name}:"
                            f"{now.isoformat(timespec='seconds')}", site=site.name,
                            data={"site": site.name, "previous_posts": state["last_posts"],
                                  "reason": out.reason})
            self.store.update_site(site.name, parser_broken=1)
            return out
        out.ok, out.status, out.posts_seen = True, status, len(posts)
        baseline = not state.get("baseline_done")
        out.baseline = baseline
        await self._succeeded(site, state, now, out)
        await self._reconcile(site, posts, complete, baseline, now, out)
        self.store.update_site(site.name, baseline_done=1, last_posts=len(posts),
                               parser_broken=0)
        return out

    async def _read_listing(self, site: Any, now: datetime
                            ) -> tuple[list[Any], bool, str, str, int]:
        """All listing pages (through the first mirror that answers); posts, whether the
        listing was read to its end, status and reason, pages read."""
        first = await self._fetch_any_mirror(site, now)
        if isinstance(first, str):
            return [], False, "failed", first, 0
        page: Page = first
        posts: list[Any] = []
        seen_urls = {page.url}
        pages = 0
        status, reason = "ok", ""
        max_pages = int(getattr(site, "max_pages", 20) or 20)
        while True:
            pages += 1
            try:
                # In a thread: a hostile page can cost seconds of parsing, and the event
                # loop keeps the other sites' transfers (and the daemon's heartbeat) going.
                listing = await asyncio.to_thread(self._parse_listing, site, page.body,
                                                  page.url, page.content_type, now=now)
            except CohortwatchError as exc:
                return posts, False, "failed" if not posts else "ok", str(exc), pages
            if listing.status == "blocked":
                return posts, False, "blocked", listing.reason or "blocked", pages
            if listing.status == "empty" and pages == 1:
                status, reason = "empty", listing.reason or ""
            posts.extend(listing.posts)
            nxt = listing.next_url
            if not nxt or nxt in seen_urls or not listing.posts:
                return posts, True, status, reason, pages
            if pages >= max_pages:
                log.info("page cap reached; removals not judged",
                         extra={"site": site.name, "pages": pages})
                return posts, False, status, reason, pages
            seen_urls.add(nxt)
            try:
                page = await self.fetcher.get(site, nxt)
            except TorUnavailableError:
                raise
            except FetchError as exc:
                log.info("listing page failed; removals not judged",
                         extra={"site": site.name, "page": pages + 1, "reason": str(exc)})
                return posts, False, status, reason, pages

    async def _fetch_any_mirror(self, site: Any, now: datetime) -> Page | str:
        history = self.store.mirrors(site.name)
        order = {"up": 0, "unknown": 1, "down": 2}
        mirrors = sorted(site.mirrors, key=lambda m: (
            order.get(history.get(m, {}).get("state", "unknown"), 1),
            int(history.get(m, {}).get("failures") or 0)))
        reasons = []
        for i, mirror in enumerate(mirrors):
            try:
                page = await self.fetcher.get(site, listing_url(site, mirror))
            except TorUnavailableError:
                raise
            except FetchError as exc:
                self.store.mirror_result(site.name, mirror, ok=False, when=now, error=str(exc))
                reasons.append(f"mirror {i + 1}: {exc}")
                continue
            self.store.mirror_result(site.name, mirror, ok=True, when=now)
            return page
        return "; ".join(reasons) or "no mirror configured"

    def _due(self, now: datetime, site: Any, failures: int) -> str:
        s = self.settings
        return next_due(now, float(site.interval), failures, max_backoff=s.max_backoff,
                        jitter=s.jitter).isoformat(timespec="seconds")

    async def _succeeded(self, site: Any, state: dict[str, Any], now: datetime,
                         out: CrawlOutcome) -> None:
        if state.get("state") == "down":
            self._event(out, "site.up", now, dedupe=f"site.up:{site.name}:"
                        f"{now.isoformat(timespec='seconds')}", site=site.name,
                        data={"site": site.name, "down_since": state.get("last_success")})
        self.store.update_site(site.name, state="up", failures=0, last_error=None,
                               last_success=now.isoformat(timespec="seconds"),
                               next_due=self._due(now, site, 0))

    async def _failed(self, site: Any, state: dict[str, Any], now: datetime,
                      out: CrawlOutcome) -> None:
        failures = int(state.get("failures") or 0) + 1
        values: dict[str, Any] = {"failures": failures, "last_error": out.reason[:300],
                                  "next_due": self._due(now, site, failures)}
        if failures >= self.settings.down_after and state.get("state") != "down":
            values["state"] = "down"
            self._event(out, "site.down", now, dedupe=f"site.down:{site.name}:"
                        f"{now.isoformat(timespec='seconds')}", site=site.name,
                        data={"site": site.name, "failures": failures,
                              "last_success": state.get("last_success"),
                              "reason": out.reason[:300]})
        self.store.update_site(site.name, **values)
        log.warning("crawl failed", extra={"site": site.name, "failures": failures,
                                           "status": out.status})
        if failures >= self.settings.newnym_after:
            self.fetcher.rotate(site.name)
            if self.tor is not None:
                try:
                    result = await self.tor.newnym()
                    log.info("asked Tor for new circuits", extra={
                        "site": site.name, "result": getattr(result, "sent", result)})
                except CohortwatchError as exc:
                    log.warning("NEWNYM failed", extra={"site": site.name, "reason": str(exc)})

    # -- posts ---------------------------------------------------------------------------

    async def _reconcile(self, site: Any, posts: list[Any], complete: bool, baseline: bool,
                         now: datetime, out: CrawlOutcome) -> None:
        # Database work is done in two short transactions around the awaits (detail
        # pages), so other sites' tasks never share this one's transaction.
        with self.store.transaction():
            new_ids, changed_ids, seen = self._apply_listing(site, posts, complete, baseline,
                                                             now, out)
        if self._detail_wanted(site):
            for pid, post in new_ids:
                await self._read_detail(site, post, pid, now)
        with self.store.transaction():
            for pid in [p for p, _ in new_ids] + changed_ids:
                self._watch(site, self.store.post(pid), baseline, now, out)
        await self._downloads(site, seen, now, out)

    def _apply_listing(self, site: Any, posts: list[Any], complete: bool, baseline: bool,
                       now: datetime, out: CrawlOutcome
                       ) -> tuple[list[tuple[int, Any]], list[int], set[int]]:
        stored = self.store.posts(site.name)
        known = [KnownPost(r["id"], r["key"] or "", r["url_key"], r["published"],
                           bool(r["truncated"])) for r in stored]
        by_id = {r["id"]: r for r in stored}
        ids = assign_posts(posts, known, threshold=self.settings.identity_threshold)
        stamp = now.isoformat(timespec="seconds")
        seen: set[int] = set()
        new_ids: list[tuple[int, Any]] = []
        changed_ids: list[int] = []
        for post, pid in zip(posts, ids, strict=True):
            fields = _post_fields(post)
            if pid is None:
                pid = self.store.insert_post({**fields, "site": site.name, "first_seen": stamp,
                                              "last_seen": stamp, "baseline": int(baseline)})
                out.new_posts += 1
                new_ids.append((pid, post))
            else:
                row = by_id[pid]
                changes = {k: v for k, v in fields.items() if v and v != row.get(k)}
                changes["last_seen"] = stamp
                if row.get("removed_at"):
                    changes.update(removed_at=None, reappeared_at=stamp,
                                   reappearances=int(row.get("reappearances") or 0) + 1)
                    out.reappeared += 1
                    if not baseline:
                        self._event(out, "post.reappeared", now,
                                    dedupe=f"post.reappeared:{pid}:{changes['reappearances']}",
                                    site=site.name, post_id=pid,
                                    data={**_event_post(site, {**row, **changes}),
                                          "removed_at": row["removed_at"]})
                self.store.update_post(pid, **changes)
                if not row.get("watch_entry") and ({"victim", "title", "description"}
                                                   & changes.keys()):
                    changed_ids.append(pid)
            seen.add(pid)
            self.store.add_files(pid, list(getattr(post, "files", ()) or ()))
        if complete:
            gone = [r["id"] for r in stored if r["id"] not in seen and not r["removed_at"]]
            if gone:
                self.store.mark_removed(gone, now)
                out.removed = len(gone)
                log.info("posts removed", extra={"site": site.name, "count": len(gone)})
        return new_ids, changed_ids, seen

    def _detail_wanted(self, site: Any) -> bool:
        return bool(getattr(site, "has_detail", False))

    async def _read_detail(self, site: Any, post: Any, pid: int, now: datetime) -> None:
        if not getattr(post, "url", None):
            return
        try:
            page = await self.fetcher.get(site, post.url)
            detail = await asyncio.to_thread(self._parse_detail, site, page.body, page.url,
                                             page.content_type, now=now)
        except TorUnavailableError:
            raise
        except CohortwatchError as exc:
            log.info("post detail page not read", extra={"site": site.name, "post": pid,
                                                         "reason": str(exc)})
            return
        if detail.status == "blocked":
            log.info("post detail page blocked", extra={"site": site.name, "post": pid})
            return
        changes: dict[str, Any] = {}
        for name in ("description", "published", "deadline"):
            value = getattr(detail, name, None)
            if value:
                changes[name] = _text(value)
        if changes:
            self.store.update_post(pid, **changes)
        files = list(getattr(detail, "files", ()) or ())
        if files:
            self.store.add_files(pid, files)

    def _watch(self, site: Any, row: dict[str, Any], baseline: bool, now: datetime,
               out: CrawlOutcome) -> None:
        if not len(self.watchlist):
            return
        files = " ".join(f["url"] for f in self.store.files(row["id"]))
        hits = self.watchlist.match({"victim": row.get("victim"), "title": row.get("title"),
                                     "description": row.get("description"), "files": files})
        if not hits:
            return
        best = hits[0]
        self.store.update_post(row["id"], watch_entry=best.entry, watch_score=best.score,
                               watch_field=best.field)
        out.watch_matches += 1
        if baseline and not self.settings.baseline_alerts:
            log.warning("baseline post matches the watchlist (no alert: baseline crawl)",
                        extra={"site": site.name, "post": row["id"], "entry": best.entry})
            return
        self._event(out, "post.watchlist_matched", now,
                    dedupe=f"post.watchlist_matched:{row['id']}", site=site.name,
                    post_id=row["id"],
                    data={**_event_post(site, row), "entry": best.entry, "score": best.score,
                          "field": best.field, "via": best.via,
                          "also": [h.entry for h in hits[1:]]})

    # -- posted files --------------------------------------------------------------------

    def _download_wanted(self, site: Any, row: dict[str, Any]) -> bool:
        mode = getattr(site, "download", "watchlist")
        return mode == "all" or (mode == "watchlist" and bool(row.get("watch_entry")))

    async def _downloads(self, site: Any, post_ids: set[int], now: datetime,
                         out: CrawlOutcome) -> None:
        if self.matcher is None:
            return
        for pid in sorted(post_ids):
            row = self.store.post(pid)
            if not self._download_wanted(site, row):
                continue
            for f in self.store.pending_files(pid, self.settings.download_attempts):
                await self._download_one(site, row, f, now, out)

    async def _download_one(self, site: Any, row: dict[str, Any], f: dict[str, Any],
                            now: datetime, out: CrawlOutcome) -> None:
        if self.matcher is None:
            return
        limit = int(getattr(site, "max_download_bytes", 0) or (2 << 30))
        attempts = int(f.get("attempts") or 0) + 1
        directory = self.matcher.private_dir()
        try:
            path = directory / file_name_for(f["url"], f["id"])
            size = await self.fetcher.download(site, f["url"], path, max_bytes=limit)
            out.files_downloaded += 1
            result = await self.matcher.match(
                path, password=archive_password(row.get("description")))
        except TorUnavailableError:
            raise
        except Exception as exc:
            if is_storage_full(exc):
                # Not the file's failure: it is tried again, with no attempt counted,
                # once the state directory has space.
                raise StateFullError(
                    f"site {site.name}: no space left to download or unpack posted file "
                    f"{f['id']}; it is fetched again once there is space") from exc
            if not isinstance(exc, CohortwatchError):
                raise
            self._file_failed(site, row, f, now, attempts, exc)
            return
        finally:
            DatasetMatcher.remove(directory)
        self._file_matched(site, row, f, now, attempts, size, result, out)

    def _file_failed(self, site: Any, row: dict[str, Any], f: dict[str, Any], now: datetime,
                     attempts: int, exc: CohortwatchError) -> None:
        if isinstance(exc, DownloadError):
            too_big = "limit" in str(exc)
            self.store.update_file(f["id"], now, attempts=attempts, error=str(exc)[:300],
                                   status="skipped" if too_big else "failed")
            log.warning("posted file not downloaded", extra={"site": site.name,
                                                             "post": row["id"]})
            return
        self.store.update_file(f["id"], now, attempts=attempts, error=str(exc)[:300],
                               status="failed")
        log.warning("posted file not matched", extra={"site": site.name, "post": row["id"],
                                                      "reason": str(exc)})

    def _file_matched(self, site: Any, row: dict[str, Any], f: dict[str, Any],
                      now: datetime, attempts: int, size: int, result: Any,
                      out: CrawlOutcome) -> None:
        first = result.reports[0]
        members = result.members_matched
        out.members_matched += members
        self.store.update_file(f["id"], now, attempts=attempts, status="matched", bytes=size,
                               sha256=first.sha256, dataset_id=first.dataset_id,
                               members_matched=members)
        earlier = [e for e in first.seen_before
                   if e["id"] not in {r.dataset_id for r in result.reports}]
        base = {**_event_post(site, row), "file": f["url"], "dataset_id": first.dataset_id,
                "sha256": first.sha256, "bytes": first.bytes, "records": first.records,
                "fingerprint": first.fingerprint}
        if earlier:
            self._event(out, "dataset.reposted", now, dedupe=f"dataset.reposted:{first.sha256}:"
                        f"{row['id']}", site=site.name, post_id=row["id"],
                        dataset_id=first.dataset_id,
                        data={**base, "first_sighting": earlier[0]})
        for report in result.reports:
            if report.matches and not earlier:
                self._event(out, "dataset.matched", now,
                            dedupe=f"dataset.matched:{report.sha256}:{report.cohort}",
                            site=site.name, post_id=row["id"], dataset_id=report.dataset_id,
                            data={**base, "cohort": report.cohort,
                                  "members_matched": len(report.matches),
                                  "by_method": report.by_method(),
                                  "refs": [m.ref for m in report.matches]})

    def _event(self, out: CrawlOutcome, type_: str, now: datetime, *, dedupe: str,
               **kw: Any) -> None:
        if self.store.add_event(type_, now, dedupe=dedupe, **kw) is not None:
            out.events.append(type_)
            log.info("event", extra={"type": type_, "site": kw.get("site")})


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _post_fields(post: Any) -> dict[str, Any]:
    victim = getattr(post, "victim", None)
    title = getattr(post, "title", None)
    fields = {
        "key": post_key(victim, title),
        "url_key": url_key(getattr(post, "url", None)),
        "url": getattr(post, "url", None),
        "victim": victim,
        "title": title,
        "description": getattr(post, "description", None),
        "truncated": int(is_truncated(victim or title or "")),
    }
    for name in ("published", "deadline"):
        value = getattr(post, name, None)
        fields[name] = _text(value) if value else None
    return fields


def _event_post(site: Any, row: dict[str, Any]) -> dict[str, Any]:
    return {"site": site.name, "post": {
        "id": row["id"], "victim": row.get("victim"), "title": row.get("title"),
        "url": row.get("url"), "published": row.get("published"),
        "deadline": row.get("deadline"), "first_seen": row.get("first_seen")}}


def temp_root_for(state_dir: Path) -> Path:
    """Where downloads are spilled: a private folder in the state directory (systemd's
    ``PrivateTmp`` would do as well; the state dir survives a full /tmp)."""
    path = state_dir / "tmp"
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    return path
