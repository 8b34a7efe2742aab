"""The ``cohortwatch`` command line: a thin click layer over the library.

Errors of our own (:class:`~matchers.errors.CohortwatchError`) become one line on stderr
and exit status 2, here and nowhere else, so no traceback reaches a user. ``check-dataset``
exits 0 when no member was found and 1 when members were found.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import click

from matchers.archives import Terminated, sigterm_raises
from matchers.columns import parse_mapping
from matchers.errors import CohortwatchError
from matchers.scan import ScanOptions, check_dataset
from matchers.secretkey import create_key
from matchers.store import open_db
from monitor.cli_alerts import alerts_group, export_group
from monitor.cli_crawl import crawl_cmd, events, posts
from monitor.cli_daemon import run_cmd
from monitor.cli_status import status_cmd
from monitor.config import load_config
from monitor.context import Context
from monitor.logs import setup_logging
from monitor.statedir import resolve_state_dir

__all__ = ["cli", "main"]

EXIT_FOUND = 1
EXIT_ERROR = 2


def _progress(enabled: bool):
    """A one-line progress bar on stderr (bytes and records, per file), only for a person
    at a terminal: pipes and journald stay quiet."""
    if not enabled:
        return None
    state = {"last": 0.0}

    def show(label: str, records: int, done: int, total: int) -> None:
        now = time.monotonic()
        if now - state["last"] < 0.2:
            return
        state["last"] = now
        if total > 0 and done > 0:
            share = min(done / total, 1.0)
            bar = "#" * int(share * 24)
            text = (f"[{bar:<24}] {share:4.0%} {done / 1e6:,.0f}/{total / 1e6:,.0f} MB "
                    f"{records:,} records")
        else:
            text = f"{records:,} records"
        width = shutil.get_terminal_size((100, 20)).columns
        name = label if len(label) + len(text) + 3 < width else "…" + label[-20:]
        click.echo(f"\r\x1b[2K{name}  {text}"[: width + 5], err=True, nl=False)

    return show


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", metavar="DIR", help="State directory (default: $STATE_DIRECTORY, "
              "else ./.cohortwatch).")
@click.option("--config", "config_file", metavar="FILE",
              help="TOML configuration (default: $COHORTWATCH_CONFIG, else built-in defaults).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(package_name="cohortwatch")
@click.pass_context
def cli(ctx: click.Context, state_dir: str | None, config_file: str | None, verbose: int) -> None:
    """Watch leaked datasets for members of a breached cohort, by keyed encodings only."""
    setup_logging(verbose)
    context = Context(resolve_state_dir(state_dir), load_config(config_file))
    ctx.obj = context
    ctx.call_on_close(context.close)


@cli.command()
@click.pass_obj
def init(obj: Context) -> None:
    """Create the state directory, its database and the secret key (mode 0600)."""
    obj.state_dir.mkdir(parents=True, exist_ok=True)
    obj.state_dir.chmod(0o700)
    created = create_key(obj.key_path)
    open_db(obj.state_dir).conn.close()
    verb = "created" if created else "kept existing"
    click.echo(f"state directory {obj.state_dir}: ready")
    click.echo(f"secret key {obj.key_path}: {verb} (mode 0600)")
    if created:
        click.echo("Back the key up apart from the database: without it enrolled cohorts "
                   "cannot be matched; with both, a thief can test guesses.")


@cli.group()
def cohort() -> None:
    """Enroll, list and remove cohorts."""


@cohort.command("enroll")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", required=True, help="Cohort name, e.g. screening-2025.")
@click.option("--ref-column", metavar="COL", help="Column with the holder's own reference "
              "(default: detected, else the row number).")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Name a column for a field: bsn, given, initials, prefix, surname, "
                   "full_name, dob, postcode, ref. Repeatable.")
@click.pass_obj
def cohort_enroll(
    obj: Context, file: Path, name: str, ref_column: str | None, mapping: tuple[str, ...]
) -> None:
    """Enroll a cohort from a CSV or XLSX member file (only keyed encodings are stored)."""
    if not file.exists():
        raise CohortwatchError(f"{file}: no such file")
    result = obj.store.enroll(name, file, ref_column=ref_column, mapping=parse_mapping(mapping),
                              progress=_progress(sys.stderr.isatty()))
    if sys.stderr.isatty():
        click.echo("", err=True)
    cols = ", ".join(f"{k}={v}" for k, v in result.columns.items())
    click.echo(f"cohort {result.cohort}: {result.enrolled} enrolled from {result.rows} rows")
    click.echo(f"  invalid BSN:    {result.invalid_bsn}")
    click.echo(f"  duplicates:     {result.duplicates}")
    click.echo(f"  missing fields: {result.missing_fields}")
    if result.skipped_rows:
        click.echo(f"  unreadable rows: {result.skipped_rows}")
    click.echo(f"  columns:        {cols}")
    click.echo(f"  members now:    {result.members_total}")


@cohort.command("list")
@click.pass_obj
def cohort_list(obj: Context) -> None:
    """List enrolled cohorts with member counts."""
    cohorts = obj.store.list()
    if not cohorts:
        click.echo("no cohorts enrolled")
    for c in cohorts:
        click.echo(f"{c.name}\t{c.members} members\tupdated {c.updated}")


@cohort.command("remove")
@click.argument("name")
@click.pass_obj
def cohort_remove(obj: Context, name: str) -> None:
    """Remove a cohort and all its encodings."""
    n = obj.store.remove(name)
    click.echo(f"cohort {name}: removed ({n} members)")


@cli.command("check-dataset")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--cohort", "cohort_name", metavar="NAME",
              help="Cohort to match (default: the only enrolled one).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report "
              "(schema cohortwatch.report/1).")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Name a column for a field, as for `cohort enroll`. Repeatable.")
@click.option("--password", envvar="COHORTWATCH_ARCHIVE_PASSWORD", metavar="TEXT",
              help="Password of encrypted zip/7z archives, as the leakers published it "
              "(or $COHORTWATCH_ARCHIVE_PASSWORD, which other users cannot see in ps).")
@click.pass_obj
def check_dataset_cmd(
    obj: Context, paths: tuple[Path, ...], cohort_name: str | None, as_json: bool,
    mapping: tuple[str, ...], password: str | None,
) -> None:
    """Scan files, folders or archives for cohort members. Exit 0: none found; 1: found;
    2: error."""
    store = obj.store
    name = cohort_name or store.default_cohort()
    options = ScanOptions(mapping=parse_mapping(mapping), limits=obj.config.limits,
                          settings=obj.config.matching, archive_limits=obj.config.archives,
                          password=password or None)
    interactive = sys.stderr.isatty()
    # SIGTERM unwinds like an exception, so unpacked archive members are removed.
    with sigterm_raises():
        report = check_dataset(list(paths), store=store, cohort=name, options=options,
                               progress=_progress(interactive))
    if interactive:
        click.echo("", err=True)
    click.echo(report.render_json() if as_json else report.render_text())
    if report.matches:
        raise SystemExit(EXIT_FOUND)


@cli.group()
def datasets() -> None:
    """Datasets scanned before: fingerprints and what they resemble (no content)."""


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_obj
def datasets_list(obj: Context, as_json: bool) -> None:
    """Every dataset scanned, oldest first."""
    from matchers.history import list_datasets

    rows = list_datasets(obj.db)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("no datasets scanned yet")
        return
    click.echo(f"{'id':>5}  {'first seen':<25} {'sha256':<14} {'MB':>9} {'records':>11} "
               f"{'files':>5}  {'cohort':<16} {'matched':>7}")
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['first_seen']:<25} {r['sha256'][:12]:<14} "
                   f"{r['bytes'] / 1e6:>9.1f} {r['records']:>11,} {r['files']:>5}  "
                   f"{r['cohort']:<16} {r['members_matched']:>7}")


@datasets.command("show")
@click.argument("dataset_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_obj
def datasets_show(obj: Context, dataset_id: int, as_json: bool) -> None:
    """One dataset: fingerprint, and the earlier datasets it resembles."""
    from matchers.history import dataset_row

    row = dataset_row(obj.db, dataset_id)
    if row is None:
        raise CohortwatchError(
            f"no dataset {dataset_id}; `cohortwatch datasets list` shows the ids"
        )
    if as_json:
        click.echo(json.dumps(row, ensure_ascii=False))
        return
    rec = row["fingerprint"].get("records", {})
    click.echo(f"dataset {row['id']}  first seen {row['first_seen']}  cohort {row['cohort']}")
    click.echo(f"  sha256:   {row['sha256']}")
    click.echo(f"  size:     {row['bytes']:,} bytes, {row['files']} file(s), "
               f"{row['records']:,} records ({rec.get('distinct', 0):,} distinct)")
    click.echo(f"  matched:  {row['members_matched']} cohort member(s)")
    for t in row["fingerprint"].get("tlsh_files", []):
        click.echo(f"  tlsh:     {t}")
    if not row["seen_before"]:
        click.echo("  seen before: no")
    for e in row["seen_before"]:
        extra = ""
        if "similarity" in e and e["relation"] != "identical":
            extra = (f" (jaccard {e['similarity']:.2f}, {e['containment']:.0%} of this in "
                     f"it, {e.get('contained', 0):.0%} of it in this)")
        click.echo(f"  seen before: dataset {e['id']} {e['relation']}{extra}, "
                   f"first seen {e['first_seen']}")


@cli.group()
def sites() -> None:
    """Leak-site definitions: list them, and check a parser against a saved page."""


def _parse_now(_ctx: click.Context, _param: click.Parameter, value: str | None):
    """``--now``: an ISO 8601 time (UTC when it has no zone), for reproducible countdowns."""
    if value is None:
        return None
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected an ISO 8601 time, e.g. 2025-07-06T12:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@sites.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@click.pass_obj
def sites_list(obj: Context, as_json: bool) -> None:
    """The configured sites: parser, mirrors, interval, download policy, file."""
    from monitor.sites.check import sites_table

    rows = sites_table(obj.config.sites)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("no sites configured ([sites.NAME] tables in the configuration, or "
                   "*.toml files in its sites/ directory)")
        return
    click.echo(f"{'name':<20} {'parser':<7} {'mirrors':>7} {'interval':>9} {'download':<10} "
               f"{'detail':<6} source")
    for r in rows:
        name = r["name"] + ("" if r["enabled"] else " (off)")
        click.echo(f"{name:<20} {r['parser']:<7} {len(r['mirrors']):>7} "
                   f"{r['interval']:>8.0f}s {r['download']:<10} "
                   f"{'yes' if r['detail'] else 'no':<6} {r['source']}")


@sites.command("check")
@click.argument("name")
@click.option("--file", "file", required=True, metavar="PAGE",
              type=click.Path(path_type=Path, dir_okay=False),
              help="The saved page (HTML as saved by Tor Browser, or a JSON response).")
@click.option("--url", metavar="URL", help="The URL the page was saved from (resolves "
              "relative links; default: the site's listing URL on its first mirror).")
@click.option("--detail", is_flag=True, help="The page is a post's own page: apply the "
              "detail selectors.")
@click.option("--now", metavar="TIME", callback=_parse_now,
              help="Read countdowns and \"3 days ago\" relative to this ISO time "
              "(default: now).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout "
              "(schema cohortwatch.sites-check/1).")
@click.pass_obj
def sites_check(obj: Context, name: str, file: Path, url: str | None, detail: bool,
                now, as_json: bool) -> None:
    """Run the site's parser on a saved page and show what it extracts. Exit 0: posts (or
    detail fields) found; 1: none (the status says empty or blocked, and why); 2: error."""
    from monitor.sites.check import check_saved_page, find_site, render_json, render_text

    site = find_site(obj.config.sites, name)
    result = check_saved_page(site, file, url=url, detail=detail, now=now)
    click.echo(render_json(result) if as_json else render_text(result))
    if result.result.status != "ok":
        raise SystemExit(EXIT_FOUND)


@cli.command()
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Keep the generated files and state in DIR.")
@click.option("--tor", is_flag=True, help="Crawl over a private Tor network on 127.0.0.1 "
              "(needs Debian's tor: apt-get install tor; ~15 s more).")
def demo(keep: Path | None, tor: bool) -> None:
    """Run the whole pipeline on synthetic data in a throw-away directory."""
    from monitor.demo import run_demo

    status = run_demo(main, keep, tor=tor)
    if status:
        raise SystemExit(status)


cli.add_command(crawl_cmd)
cli.add_command(alerts_group)
cli.add_command(export_group)
cli.add_command(run_cmd)
cli.add_command(posts)
cli.add_command(events)
cli.add_command(status_cmd)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; maps our errors to exit status 2."""
    try:
        cli.main(args=argv, prog_name="cohortwatch", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("cohortwatch: interrupted", err=True)
            return 130
        click.echo("cohortwatch: aborted", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except CohortwatchError as exc:
        click.echo(f"cohortwatch: error: {exc}", err=True)
        return EXIT_ERROR
    except sqlite3.OperationalError as exc:
        # Busy or read-only database, disk full: the operator can act on these.
        click.echo(f"cohortwatch: error: state database: {exc}; is another cohortwatch "
                   "running, is the disk full or the state directory read-only?", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("cohortwatch: interrupted", err=True)
        return 130
    except Terminated:
        click.echo("cohortwatch: terminated", err=True)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
