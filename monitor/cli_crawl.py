"""``cohortwatch crawl``, ``posts list`` and ``events list``: one crawl cycle by hand, and
what the crawler has recorded. Registered on the main group by :mod:`monitor.cli`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

import click

from matchers.archives import sigterm_raises
from matchers.errors import ConfigError
from monitor.context import Context

__all__ = ["crawl_cmd", "events", "posts"]


@click.command("crawl")
@click.argument("names", nargs=-1, metavar="[SITE]...")
@click.option("--due", is_flag=True, help="Only the sites whose next crawl time has come.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_obj
def crawl_cmd(obj: Context, names: tuple[str, ...], due: bool, as_json: bool) -> None:
    """Crawl the configured leak sites once (all enabled ones, or those named).

    Exit status 0 when every site was read, 1 when at least one failed (down, blocked,
    parser broken, Tor unavailable), 2 on a usage or configuration error."""
    from monitor.crawl.session import open_crawler

    sites = [s for s in obj.config.sites if s.enabled or s.name in names]
    if names:
        known = {s.name for s in obj.config.sites}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(f"no site named {', '.join(unknown)} in {obj.config.source} "
                              f"(configured: {', '.join(sorted(known)) or 'none'})")
        sites = [s for s in sites if s.name in names]
    if not sites:
        raise ConfigError(f"no sites configured in {obj.config.source}: add [sites.NAME] "
                          "tables or files in its sites/ directory (see docs/sites.md)")

    async def go():
        async with open_crawler(obj) as crawler:
            chosen = crawler.due(sites) if due else sites
            return await crawler.crawl_all(chosen)

    with sigterm_raises():
        outcomes = asyncio.run(go())
    if as_json:
        click.echo(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False))
    else:
        for o in outcomes:
            line = (f"{o.site}: {o.status}"
                    + (" (baseline)" if o.baseline else "")
                    + f", {o.pages} pages, {o.posts_seen} posts, {o.new_posts} new, "
                      f"{o.removed} removed, {o.reappeared} back, {o.watch_matches} watched, "
                      f"{o.files_downloaded} files, {o.members_matched} members matched")
            click.echo(line)
            if o.reason:
                click.echo(f"  why: {o.reason}")
            for e in o.events:
                click.echo(f"  event: {e}")
    if any(not o.ok for o in outcomes):
        raise SystemExit(1)


@click.group()
def posts() -> None:
    """Posts seen on leak sites: first/last seen, removed, re-appeared, watchlist hits."""


@posts.command("list")
@click.option("--site", "site", metavar="NAME", help="Only this site's posts.")
@click.option("--watched", is_flag=True, help="Only posts that match the watchlist.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_obj
def posts_list(obj: Context, site: str | None, watched: bool, as_json: bool) -> None:
    """Every recorded post, newest first."""
    from monitor.crawl.store import CrawlStore

    store = CrawlStore(obj.db)
    where, args = [], []
    if site:
        where.append("site = ?")
        args.append(site)
    if watched:
        where.append("watch_entry is not null")
    rows = list(store.db["posts"].rows_where(" and ".join(where) or None, args,
                                             order_by="id desc"))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("no posts recorded (run `cohortwatch crawl`)")
        return
    for r in rows:
        state = "removed" if r["removed_at"] else "listed"
        watch = f"  watch: {r['watch_entry']} ({r['watch_score']:.2f})" if r["watch_entry"] else ""
        click.echo(f"{r['id']:>5} {r['site']:<16} {(r['victim'] or r['title'] or '')[:40]:<40} "
                   f"first {r['first_seen']}  last {r['last_seen']}  {state}{watch}")


@click.group()
def events() -> None:
    """Events recorded for alerting (watchlist hits, matched datasets, sites down/up)."""


@events.command("list")
@click.option("--since", type=int, default=0, metavar="ID", help="Only events after this id.")
@click.option("--type", "type_", metavar="TYPE", help="Only this type, e.g. dataset.matched.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_obj
def events_list(obj: Context, since: int, type_: str | None, as_json: bool) -> None:
    """Events in the order they happened."""
    from monitor.crawl.store import CrawlStore

    rows = CrawlStore(obj.db).events(since_id=since, type_=type_)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("no events recorded")
        return
    for r in rows:
        data = r["data"]
        what = data.get("entry") or data.get("members_matched") or data.get("reason") or ""
        click.echo(f"{r['id']:>5} {r['at']} {r['type']:<24} {r['site'] or '':<16} "
                   f"post {r['post_id'] or '-'} {what}")
