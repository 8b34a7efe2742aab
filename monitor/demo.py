"""`cohortwatch demo`: the whole pipeline on loopback, on synthetic data, with no set-up.

Generates a synthetic cohort (Faker nl_NL names, valid BSNs) and a "leaked" file in which
some members appear — with exact BSNs, reformatted BSNs, BSN typos, and without BSN under
varied spellings of their names and birth dates. Then, in a throw-away state directory:
enrolls the cohort; starts a leak site on 127.0.0.1 that lists a victim from the watchlist
and links the file as a zip, and a webhook receiver that checks signatures; runs the real
daemon (`cohortwatch run`, a subprocess) for one crawl cycle — without Tor, which the demo
says on screen — until the signed alerts arrive; and finally runs `check-dataset` on the
same zip as an investigator would. Nothing is left behind unless ``--keep DIR`` is given.

With ``--tor`` (:mod:`monitor.demo_tor`) a private Tor network starts in the same
directory while the cohort is enrolled, the leak site is published as its onion service,
and the daemon crawls and downloads through it. Every tor is stopped at the end, also
after an error or Ctrl-C.
"""

from __future__ import annotations

import csv
import random
import shlex
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from matchers import synthetic

if TYPE_CHECKING:
    from monitor.demo_tor import DemoTor

__all__ = ["run_demo"]


def _write_leak(path: Path, members: list, others: list, seed: int) -> dict[str, int]:
    """A leaked lab export: BSN, full name, birth date, postcode, a result column."""
    rng = random.Random(seed)
    rows, truth = [], {"bsn": 0, "bsn_corrected": 0, "name_dob": 0}
    for i, p in enumerate(members):
        kind = ("bsn", "bsn", "bsn_reformatted", "bsn_typo", "name_dob", "name_dob")[i % 6]
        bsn = p.bsn
        if kind == "bsn_reformatted":
            bsn = synthetic.reformat_bsn(p.bsn, rng)
        elif kind == "bsn_typo":
            bsn = synthetic.typo_bsn(p.bsn, rng)
        elif kind == "name_dob":
            bsn = ""
        style = rng.choice(["full", "first", "initials", "inverted"])
        name = synthetic.display_name(p, style)
        truth[{"bsn_typo": "bsn_corrected", "bsn_reformatted": "bsn"}.get(kind, kind)] += 1
        rows.append([bsn, name, synthetic.format_date(p.dob, rng), p.postcode])
    for p in others:
        rows.append([p.bsn, synthetic.display_name(p, "full"),
                     synthetic.format_date(p.dob, rng), p.postcode])
    rng.shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["Patient BSN", "Naam", "Geb.datum", "Postcode", "Uitslag"])
        for r in rows:
            w.writerow([*r, rng.choice(["negatief", "positief", "onbeoordeelbaar"])])
    return truth


def run_demo(
    cli_main: Callable[[list[str]], int],
    keep: Path | None = None,
    *,
    members: int = 2000,
    tor: bool = False,
) -> int:
    """Run the demo; ``cli_main`` is the CLI entry point, called as a user would call it.

    :param tor: crawl over a private Tor network on 127.0.0.1 instead of directly.
    :raises TorUnavailableError: ``tor`` is asked for and tor is not installed.
    :raises TorNetworkError: the private Tor network did not come up.
    """
    if tor:
        from monitor.tor.testnet import require_binaries

        require_binaries()  # before anything is written: say how to install tor
    with tempfile.TemporaryDirectory(prefix="cohortwatch-demo-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not tor:
            return _run(cli_main, work, keep, members, None)
        from monitor.demo_tor import DemoTor

        network = DemoTor(work)
        try:
            return _run(cli_main, work, keep, members, network)
        finally:
            network.close(keep=keep is not None)


def _run(
    cli_main: Callable[[list[str]], int],
    work: Path,
    keep: Path | None,
    members: int,
    network: DemoTor | None,
) -> int:
    """The demo in ``work``; ``network`` is the private Tor network being launched."""
    cohort_csv, leak_csv = work / "cohort.csv", work / "leak.csv"
    state = work / "state"
    people = synthetic.make_people(members + 400, seed=2025)
    cohort, outsiders = people[:members], people[members:]
    synthetic.write_people_csv(cohort_csv, cohort)
    truth = _write_leak(leak_csv, cohort[:60], outsiders, seed=7)
    click.echo("cohortwatch demo — synthetic data only (Faker nl_NL, generated BSNs)")
    if network is not None:
        click.echo("--tor: a private Tor network is starting on 127.0.0.1 in the background "
                   "(3 directory authorities, 2 relays,\nan onion service, a client; "
                   "nothing leaves this machine; ~15 s)")
    click.echo(f"cohort file: {members} members; leaked file: 460 rows, 60 of them members "
               f"({truth['bsn']} by BSN, {truth['bsn_corrected']} with a BSN typo, "
               f"{truth['name_dob']} by name and birth date only)\n")
    archive = work / "proof-sample.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(leak_csv, "export/uitslagen.csv")
    leak_csv.unlink()
    status = 0
    for args in (
        ["init"],
        ["cohort", "enroll", str(cohort_csv), "--name", "screening-demo",
         "--ref-column", "ref"],
    ):
        shown = " ".join(shlex.quote(a) for a in ["cohortwatch", *args])
        click.echo(f"$ {shown}")
        status = cli_main(["--state-dir", str(state), *args])
        click.echo("")
        if status not in (0, 1):
            return status
    from monitor.demo_daemon import run_daemon_demo

    route = None
    if network is not None:
        if not network.done():
            click.echo("Waiting for the private Tor network …")
        route = network.wait()
        click.echo(network.describe() + "\n")
    status = run_daemon_demo(work, state, archive, route)
    if status:
        return status
    args = ["check-dataset", str(archive), "--cohort", "screening-demo"]
    click.echo("An investigator who obtained the same zip checks it directly:")
    click.echo("$ " + " ".join(shlex.quote(a) for a in ["cohortwatch", *args]))
    status = cli_main(["--state-dir", str(state), *args])
    click.echo("")
    if status not in (0, 1):
        return status
    if keep:
        click.echo(f"files kept in {work} (state dir {state})")
    click.echo("exit status of check-dataset: "
               f"{status} ({'members found' if status == 1 else 'none found'})")
    return 0
