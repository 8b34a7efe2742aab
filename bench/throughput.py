"""Throughput benchmark: enrollment and check-dataset speed and peak memory, end to end.

Run: ``.venv/bin/python bench/throughput.py [--members 1000000] [--rows 2000000]
[--name-rows 500000]``

Generates once (cached in bench/data/, which git ignores) a synthetic cohort, a leaked CSV
with a BSN column (mostly non-members, some members, a few BSN typos, plus a name, a birth
date and noise columns) and a CSV with names and birth dates only. Then it runs the real CLI
as child processes and measures each child's wall time and peak RSS (its own VmHWM, read
as it exits: see :func:`measure`). The BSN check also runs on
the first quarter and half of the file, to show that memory stays flat as a dump grows.

One stable line per measurement; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from matchers.synthetic import (
    Person,
    display_name,
    format_date,
    make_people,
    typo_bsn,
    write_people_csv,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
MEMBER_SHARE = 0.05  # leaked rows that are cohort members
TYPO_SHARE = 0.005  # leaked rows carrying a member's BSN with a typo
NAME_MEMBER_SHARE = 0.05

ENROLL_MAX_S, ENROLL_MAX_MB = 30.0, 2048
BSN_MIN_RATE, BSN_MAX_MB = 400_000, 1536
NAME_MIN_RATE = 100_000


# --------------------------------------------------------------------------- data


def _atomic_csv(path: Path, header: list[str], rows: Iterator[list[str]]) -> None:
    """Write via a temporary name so an interrupted run never leaves a half file cached."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    tmp.replace(path)


def _strangers(n: int, seed: int, exclude: set[str]) -> Iterator[Person]:
    """Non-members in chunks, so 2M of them never sit in memory at once."""
    chunk = 250_000
    for k, lo in enumerate(range(0, n, chunk)):
        yield from make_people(min(chunk, n - lo), seed=seed + 17 * (k + 1), ref_prefix="X",
                               exclude_bsns=exclude)


def cohort_file(members: int, seed: int) -> tuple[Path, list[Person]]:
    path = DATA / f"cohort_{members}_s{seed}.csv"
    people = make_people(members, seed=seed)
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_people_csv(tmp, people)
        tmp.replace(path)
    return path, people


def bsn_leak_file(rows: int, people: list[Person], seed: int) -> tuple[Path, set[str]]:
    """The leaked BSN dump; returns (path, refs of the members in it)."""
    path = DATA / f"leak_bsn_{len(people)}_{rows}_s{seed}.csv"
    rng = random.Random(seed)
    n_member = min(int(rows * MEMBER_SHARE), len(people))
    n_typo = min(int(rows * TYPO_SHARE), len(people) - n_member)
    chosen = rng.sample(range(len(people)), n_member + n_typo)
    expected = {people[i].ref for i in chosen}
    if path.exists():
        return path, expected
    special: dict[int, tuple[Person, bool]] = {}
    slots = rng.sample(range(rows), n_member + n_typo)
    for k, (slot, idx) in enumerate(zip(slots, chosen, strict=True)):
        special[slot] = (people[idx], k >= n_member)
    strangers = _strangers(rows, seed + 1, {p.bsn for p in people})

    def gen() -> Iterator[list[str]]:
        for i in range(rows):
            s = next(strangers)
            p, typo = special.get(i, (s, False))
            bsn = typo_bsn(p.bsn, rng) if typo else p.bsn
            yield [f"{100000 + i}", bsn, display_name(p), p.dob.strftime("%d-%m-%Y"),
                   p.postcode, f"{s.given_names.split()[0].lower()}{i}@example.nl"]

    _atomic_csv(path, ["klantnr", "bsn", "naam", "geboortedatum", "postcode", "email"], gen())
    return path, expected


def head_file(src: Path, rows: int) -> Path:
    """The first ``rows`` data rows of ``src`` (a smaller dump of the same shape)."""
    path = src.with_name(f"{src.stem}_head{rows}.csv")
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with open(src, encoding="utf-8") as fin, open(tmp, "w", encoding="utf-8") as fout:
        for k, line in enumerate(fin):
            if k > rows:
                break
            fout.write(line)
    tmp.replace(path)
    return path


def name_leak_file(rows: int, people: list[Person], seed: int) -> tuple[Path, set[str]]:
    """Names and birth dates only, as a registration list without BSNs."""
    path = DATA / f"leak_name_{len(people)}_{rows}_s{seed}.csv"
    rng = random.Random(seed + 2)
    n_member = min(int(rows * NAME_MEMBER_SHARE), len(people))
    chosen = rng.sample(range(len(people)), n_member)
    expected = {people[i].ref for i in chosen}
    if path.exists():
        return path, expected
    slots = dict(zip(rng.sample(range(rows), n_member), chosen, strict=True))
    strangers = _strangers(rows, seed + 3, {p.bsn for p in people})
    styles = ("full", "first", "initials", "inverted")

    def gen() -> Iterator[list[str]]:
        for i in range(rows):
            s = next(strangers)
            p = people[slots[i]] if i in slots else s
            yield [display_name(p, rng.choice(styles)), format_date(p.dob, rng, "dmy_dash")]

    _atomic_csv(path, ["naam", "geboortedatum"], gen())
    return path, expected


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    wall: float
    peak_mb: float
    stdout: str


# Runs the CLI and, at exit, writes the process's own peak RSS (VmHWM: the high-water mark
# of its address space since exec) to the file named in the environment. The kernel's
# ``ru_maxrss`` would not do: Linux carries the parent's peak over into the child's at
# fork/exec, so a child of this (large, data-generating) process would report this
# process's size.
_PEAK_WRAPPER = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as fh:
        kb = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(os.environ["COHORTWATCH_BENCH_PEAK"], "w") as out:
        out.write(kb)
atexit.register(_peak)
sys.argv[0] = "cohortwatch"
from monitor.cli import main
main()
"""


def measure(state: Path, *args: str, ok: tuple[int, ...] = (0,)) -> Run:
    """Run the CLI once; wall time from spawn to reap, peak RSS as the child saw it."""
    cmd = [sys.executable, "-c", _PEAK_WRAPPER, "--state-dir", str(state), *args]
    with (tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err,
          tempfile.NamedTemporaryFile("r") as peak):
        env = {**os.environ, "COHORTWATCH_BENCH_PEAK": peak.name,
               "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=out, stderr=err, env=env, check=False)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        peak_kb = int(peak.read() or 0)
    if proc.returncode not in ok:
        print(f"command failed ({proc.returncode}): {' '.join(cmd[3:])}\n{stderr[-4000:]}",
              file=sys.stderr)
        raise SystemExit(2)
    return Run(wall, peak_kb / 1024, stdout)


def verdict(good: bool) -> str:
    return "ok" if good else "MISSED"


def found(stdout: str, expected: set[str]) -> str:
    """Matched members, and how many of them were planted (the rest: chance namesakes)."""
    refs = {m["ref"] for m in json.loads(stdout)["matches"]}
    return f"matched={len(refs)} planted_found={len(refs & expected)}/{len(expected)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of the BSN dump")
    ap.add_argument("--name-rows", type=int, default=500_000, help="rows of the name dump")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    DATA.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cohort_csv, people = cohort_file(args.members, args.seed)
    bsn_csv, bsn_expected = bsn_leak_file(args.rows, people, args.seed)
    sizes = sorted({max(1, args.rows // 4), max(1, args.rows // 2)} - {args.rows})
    heads = [(n, head_file(bsn_csv, n)) for n in sizes]
    name_csv, name_expected = name_leak_file(args.name_rows, people, args.seed)
    del people
    print(f"data ready in {time.perf_counter() - t0:.1f}s: {DATA.relative_to(ROOT)}/ "
          f"(cohort {cohort_csv.stat().st_size / 1e6:.0f} MB, "
          f"bsn dump {bsn_csv.stat().st_size / 1e6:.0f} MB, "
          f"name dump {name_csv.stat().st_size / 1e6:.0f} MB)", flush=True)

    ok = True
    with tempfile.TemporaryDirectory(prefix="cw-throughput-") as tmp:
        state = Path(tmp) / "state"
        measure(state, "init")
        run = measure(state, "cohort", "enroll", str(cohort_csv), "--name", "tp",
                      "--ref-column", "ref")
        good = run.wall <= ENROLL_MAX_S and run.peak_mb <= ENROLL_MAX_MB
        ok &= good
        print(f"enroll members={args.members} wall={run.wall:.1f}s "
              f"rate={args.members / run.wall:.0f} members/s peak_rss={run.peak_mb:.0f}MB "
              f"target<={ENROLL_MAX_S:.0f}s,<={ENROLL_MAX_MB}MB {verdict(good)}", flush=True)

        for n, path in [*heads, (args.rows, bsn_csv)]:
            run = measure(state, "check-dataset", str(path), "--cohort", "tp", "--json",
                          ok=(0, 1))
            rate = n / run.wall
            if n == args.rows:
                good = rate >= BSN_MIN_RATE and run.peak_mb <= BSN_MAX_MB
                target = f"target>={BSN_MIN_RATE}rows/s,<={BSN_MAX_MB}MB {verdict(good)}"
                matched = found(run.stdout, bsn_expected)
            else:
                # a head of the file: only the memory trend matters here
                good = run.peak_mb <= BSN_MAX_MB
                target = f"target<={BSN_MAX_MB}MB {verdict(good)}"
                matched = f"matched={json.loads(run.stdout)['summary']['members_matched']}"
            ok &= good
            print(f"check-bsn rows={n} wall={run.wall:.1f}s rate={rate:.0f} rows/s "
                  f"peak_rss={run.peak_mb:.0f}MB {matched} {target}", flush=True)

        run = measure(state, "check-dataset", str(name_csv), "--cohort", "tp", "--json",
                      ok=(0, 1))
        rate = args.name_rows / run.wall
        good = rate >= NAME_MIN_RATE
        ok &= good
        print(f"check-name rows={args.name_rows} wall={run.wall:.1f}s rate={rate:.0f} rows/s "
              f"peak_rss={run.peak_mb:.0f}MB {found(run.stdout, name_expected)} "
              f"target>={NAME_MIN_RATE}rows/s {verdict(good)}", flush=True)
    print("all targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
