"""Archive walk benchmark: unpacking speed and peak memory on a large posted archive.

Run: ``.venv/bin/python bench/archive_speed.py [--mb 300] [--formats tar.gz,zip,7z]
[--repeat 3]``

Builds, in a temporary directory, a CSV of about ``--mb`` MB of synthetic people
(:func:`matchers.synthetic.make_people`; a pool of rows repeated with a running record
number, so it compresses like a real export), packs it into each format, then walks each
archive in a fresh child process that reads every member's bytes through, as a table
reader would (the walk writes each member to a private temporary file, so the rate
includes that write and read back, and depends on the disk). The child reports its wall
time and peak RSS (``getrusage``); children are started from a small parent, so the
memory measured is the walk's alone, not the generator's. A streaming walk keeps RSS flat,
whatever the archive's size: the target is below ``RSS_MAX_MB``.

One line per format; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RSS_MAX_MB = 150
POOL = 200_000


def make_csv(path: Path, megabytes: int) -> int:
    """Write about ``megabytes`` MB of synthetic rows; returns the size in bytes."""
    from matchers.synthetic import make_people

    people = make_people(POOL, seed=7)
    lines = [
        f"{p.bsn};{p.given_names};{p.prefix};{p.surname};{p.dob:%d-%m-%Y};{p.postcode}"
        for p in people
    ]
    target = megabytes * 1_000_000
    written = 0
    record = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("record;bsn;voornamen;tussenvoegsel;achternaam;geboortedatum;postcode\n")
        while written < target:
            block = "".join(f"{record + i};{line}\n" for i, line in enumerate(lines))
            record += len(lines)
            out.write(block)
            written += len(block.encode())
    return path.stat().st_size


def pack(kind: str, csv_path: Path, out_dir: Path) -> Path:
    """The CSV packed as ``kind`` (as a leaker would post it)."""
    if kind == "tar.gz":
        target = out_dir / "dump.tar.gz"
        with tarfile.open(target, "w:gz", compresslevel=6) as archive:
            archive.add(csv_path, arcname="export/patients.csv")
    elif kind == "zip":
        target = out_dir / "dump.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            archive.write(csv_path, arcname="export/patients.csv")
    elif kind == "7z":
        import py7zr

        target = out_dir / "dump.7z"
        with py7zr.SevenZipFile(target, "w") as archive:
            archive.write(csv_path, arcname="export/patients.csv")
    else:
        raise SystemExit(f"unknown format {kind}")
    return target


def walk_child(path: Path) -> None:
    """In the child: walk, read every byte, print one JSON line of measurements."""
    from matchers.archives import walk

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    total = 0
    members = 0
    with walk(path, temp_parent=path.parent) as found:
        for member in found:
            members += 1
            with member.path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    total += len(chunk)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "members": members,
                "bytes": total,
                "seconds": seconds,
                "rss_kb": peak,
                "baseline_kb": baseline,
                "skipped": len(found.skipped),
            }
        )
    )


def _child(*args: str) -> str:
    """Run this script in a child process; its stdout. Children start from this small
    process: Linux carries a parent's peak RSS over into a child's ``ru_maxrss``, so the
    data generation (big) must not be the walk's parent."""
    result = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return result.stdout


def build_child(directory: Path, megabytes: int, kinds: list[str]) -> None:
    """In a child: generate the CSV and pack it; print one JSON line per archive."""
    started = time.perf_counter()
    csv_path = directory / "patients.csv"
    size = make_csv(csv_path, megabytes)
    print(json.dumps({"csv_bytes": size, "seconds": time.perf_counter() - started}))
    for kind in kinds:
        started = time.perf_counter()
        archive = pack(kind, csv_path, directory)
        print(
            json.dumps(
                {"kind": kind, "path": str(archive), "seconds": time.perf_counter() - started}
            )
        )
    csv_path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="size of the CSV in MB")
    parser.add_argument("--formats", default="tar.gz,zip", help="comma-separated: tar.gz,zip,7z")
    parser.add_argument("--repeat", type=int, default=3, help="walks per format")
    parser.add_argument("--walk", type=Path, help=argparse.SUPPRESS)  # child modes
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    kinds = args.formats.split(",")
    if args.walk:
        walk_child(args.walk)
        return 0
    if args.build:
        build_child(args.build, args.mb, kinds)
        return 0

    failed = False
    with tempfile.TemporaryDirectory(prefix="cohortwatch-bench-") as tmp:
        lines = [
            json.loads(line)
            for line in _child(
                "--build", tmp, "--mb", str(args.mb), "--formats", args.formats
            ).splitlines()
        ]
        size = lines[0]["csv_bytes"]
        print(
            f"csv: {size / 1e6:.0f} MB of synthetic rows, generated in {lines[0]['seconds']:.1f} s"
        )
        for built in lines[1:]:
            archive = Path(built["path"])
            runs = [json.loads(_child("--walk", str(archive))) for _ in range(args.repeat)]
            rates = sorted(r["bytes"] / 1e6 / r["seconds"] for r in runs)
            rss_mb = max(r["rss_kb"] for r in runs) / 1024
            baseline_mb = max(r["baseline_kb"] for r in runs) / 1024
            ok = all(r["bytes"] == size and r["skipped"] == 0 for r in runs)
            ok = ok and rss_mb <= RSS_MAX_MB
            failed |= not ok
            print(
                f"{built['kind']:7s} archive {archive.stat().st_size / 1e6:6.1f} MB"
                f" (packed in {built['seconds']:.1f} s) -> {size / 1e6:.0f} MB read through;"
                f" median {rates[len(rates) // 2]:.0f} MB/s (min {rates[0]:.0f}, max"
                f" {rates[-1]:.0f}, {len(runs)} runs); peak RSS {rss_mb:.0f} MB"
                f" (after imports {baseline_mb:.0f} MB) {'ok' if ok else 'FAIL'}"
            )
            archive.unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
