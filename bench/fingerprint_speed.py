"""Dataset fingerprint speed: record sketch rows/s and file fingerprint MB/s, with peak RSS.

Run: ``.venv/bin/python bench/fingerprint_speed.py [--rows 2000000] [--mb 500]``

Record sketch: ``--rows`` records of six string columns (reference, BSN, given names,
surname, birth date as dd-mm-yyyy, postcode) fed to :class:`RecordFingerprinter` as
65,536-row pyarrow batches, the shape the readers hand out. The columns come from a pool of
synthetic people (:func:`matchers.synthetic.make_people`; nobody real), reused batch after
batch with a running reference number so that every record is distinct and the sketch
truncates as it would on a real dump. Building the batches is not timed.

File fingerprint: ``--mb`` MiB of CSV bytes fed to :class:`FileHasher` in 1 MiB chunks
(SHA-256 + TLSH), with SHA-256 and TLSH also timed alone.

Rates are per wall second and per CPU second of this process; the CPU rate is the
one-core figure when other work shares the machine and is the one held to the targets:
the record sketch must not slow a 400k rows/s scan much, so it should reach
``TARGET_ROWS_PER_S`` on one core. Peak RSS (VmHWM) is reset before each phase where the
kernel allows it (``/proc/self/clear_refs``). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tlsh

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matchers.fingerprint import FileHasher, RecordFingerprinter  # noqa: E402
from matchers.synthetic import make_people  # noqa: E402

TARGET_ROWS_PER_S = 2_000_000
BATCH_ROWS = 65_536
POOL = 4 * BATCH_ROWS
CHUNK = 1 << 20
T = TypeVar("T")


def _status(field: str) -> int:
    """A VmXXX figure of /proc/self/status in kB (getrusage's peak as a fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _pool() -> dict[str, pa.Array]:
    people = make_people(POOL, seed=3)
    return {
        "bsn": pa.array([p.bsn for p in people], pa.string()),
        "voornamen": pa.array([p.given_names for p in people], pa.string()),
        "achternaam": pa.array([p.surname for p in people], pa.string()),
        "geboortedatum": pa.array([f"{p.dob:%d-%m-%Y}" for p in people], pa.string()),
        "postcode": pa.array([p.postcode for p in people], pa.string()),
    }


def _batches(pool: dict[str, pa.Array], rows: int) -> Iterator[pa.RecordBatch]:
    done = 0
    while done < rows:
        n = min(BATCH_ROWS, rows - done)
        at = done % POOL
        n = min(n, POOL - at)
        numbers = pc.cast(pa.array(np.arange(done, done + n)), pa.string())
        cols = {"ref": pc.binary_join_element_wise("R", numbers, "")}
        cols.update({k: v.slice(at, n) for k, v in pool.items()})
        yield pa.RecordBatch.from_pydict(cols)
        done += n


def _timed(work: Callable[..., T], *args: object) -> tuple[float, float, T]:
    """Wall and CPU seconds of one call, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_records(rows: int) -> bool:
    pool = _pool()
    batches = list(_batches(pool, min(rows, POOL)))  # built once, reused: untimed
    key = os.urandom(32)
    fp = RecordFingerprinter(key)
    hash_wall = hash_cpu = sketch_wall = sketch_cpu = 0.0
    _reset_peak()
    base = _status("VmRSS")
    done = 0
    while done < rows:
        for proto in batches:
            if done >= rows:
                break
            batch = proto if done < POOL else _relabel(proto, done)
            batch = batch.slice(0, rows - done)
            w, c, hashes = _timed(fp.record_hashes, batch)
            hash_wall, hash_cpu = hash_wall + w, hash_cpu + c
            w, c, _ = _timed(fp.sketch.add, hashes)
            sketch_wall, sketch_cpu = sketch_wall + w, sketch_cpu + c
            done += batch.num_rows
    peak = _status("VmHWM")
    sketch = fp.sketch
    wall, cpu = hash_wall + sketch_wall, hash_cpu + sketch_cpu
    print(f"record sketch: {done:,} rows x 6 columns in {BATCH_ROWS:,}-row batches, k={sketch.k:,}")
    _rate("total", done, wall, cpu, "rows")
    _rate("hashing", done, hash_wall, hash_cpu, "rows")
    _rate("sketch", done, sketch_wall, sketch_cpu, "rows")
    print(
        f"  records {sketch.records:,}, distinct ~{sketch.distinct:,} "
        f"(true {done:,}, error {sketch.distinct / done - 1:+.2%}), "
        f"stored {len(sketch.to_bytes()) / 1024:.0f} KiB"
    )
    print(f"  RSS {base / 1024:.0f} MiB before, peak {peak / 1024:.0f} MiB")
    rate = done / cpu
    ok = rate >= TARGET_ROWS_PER_S
    print(f"  target >= {TARGET_ROWS_PER_S:,} rows/s cpu: {'ok' if ok else 'MISSED'}")
    return ok


def _relabel(batch: pa.RecordBatch, start: int) -> pa.RecordBatch:
    """The same batch with a fresh running reference, so every record is new (untimed)."""
    numbers = pc.cast(pa.array(np.arange(start, start + batch.num_rows)), pa.string())
    ref = pc.binary_join_element_wise("R", numbers, "")
    return batch.set_column(0, "ref", ref)


def _csv_chunks() -> list[bytes]:
    people = make_people(200_000, seed=4)
    text = "".join(
        f"{p.ref};{p.bsn};{p.given_names};{p.prefix};{p.surname};{p.dob:%d-%m-%Y};{p.postcode}\n"
        for p in people
    ).encode()
    return [text[i : i + CHUNK] for i in range(0, len(text) - CHUNK + 1, CHUNK)]


def bench_files(megabytes: int) -> None:
    chunks = _csv_chunks()  # ~11 MiB of CSV, cycled: the hashes' speed ignores content
    total = megabytes * CHUNK

    def feed(update: Callable[[bytes], object]) -> None:
        for i in range(megabytes):
            update(chunks[i % len(chunks)])

    _reset_peak()
    base = _status("VmRSS")
    hasher = FileHasher()
    wall, cpu, _ = _timed(feed, hasher.update)
    w2, c2, _ = _timed(hasher.finish)
    wall, cpu = wall + w2, cpu + c2
    peak = _status("VmHWM")
    sha_wall, sha_cpu, _ = _timed(feed, hashlib.sha256().update)
    tlsh_wall, tlsh_cpu, _ = _timed(feed, tlsh.Tlsh().update)
    mb = total / 1e6
    print(f"file fingerprint: {megabytes} MiB in 1 MiB chunks")
    _rate("sha256+tlsh", mb, wall, cpu, "MB")
    _rate("sha256 only", mb, sha_wall, sha_cpu, "MB")
    _rate("tlsh only", mb, tlsh_wall, tlsh_cpu, "MB")
    print(f"  RSS {base / 1024:.0f} MiB before, peak {peak / 1024:.0f} MiB")


def _rate(label: str, amount: float, wall: float, cpu: float, unit: str) -> None:
    print(
        f"  {label:<12}{amount / wall:>14,.0f} {unit}/s wall{amount / cpu:>14,.0f} {unit}/s cpu"
        f"  ({cpu:.2f} s cpu)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--mb", type=int, default=500)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cpus {os.cpu_count()}, load average {load:.2f}")
    ok = bench_records(args.rows)
    bench_files(args.mb)
    print(f"peak RSS of the whole run {_status('VmHWM') / 1024:.0f} MiB (after the last reset)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
