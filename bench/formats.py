"""Throughput per posted format, and a multi-GB dump inside a .tar.gz in bounded memory.

Run: ``.venv/bin/python bench/formats.py [--members 1000000] [--rows 500000] [--gb 3]``

Part 1 writes the same leaked table (a BSN column, names, birth dates, postcodes; 5%
cohort members) as plain CSV and as each format a leaker posts — zip, tar.gz, 7z,
MySQL and PostgreSQL dumps, JSON Lines, XLSX as Excel writes it (shared strings) and as
openpyxl writes it (inline strings) — and runs the real ``check-dataset`` on each:
rows/s, peak RSS, and the rate as a share of the plain-CSV rate (target: within 2x).

Part 2 (``--gb``; 0 skips it) writes a CSV of that many GB into a .tar.gz and scans it:
peak RSS must stay under 1 GB however large the input, and the temporary directory only
ever holds the one member being read. Everything generated is cached in bench/data/
(git-ignored); all people are synthetic.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from throughput import DATA, Run, bsn_leak_file, cohort_file, head_file, measure

BIG_MAX_MB = 1024


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0].split(";"), [line.split(";") for line in lines[1:]]


def _sql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_mysql(src: Path, dst: Path) -> None:
    header, rows = _csv_rows(src)
    with open(dst, "w", encoding="utf-8") as out:
        out.write("-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\n")
        columns = ", ".join(f"`{h}` text" for h in header)
        out.write(f"CREATE TABLE `klanten` ({columns});\n")
        for lo in range(0, len(rows), 1000):
            values = ",".join("(" + ",".join(_sql_quote(v) for v in r) + ")"
                              for r in rows[lo : lo + 1000])
            out.write("INSERT INTO `klanten` VALUES " + values + ";\n")  # noqa: S608 - a dump file we write


def write_postgres(src: Path, dst: Path) -> None:
    header, rows = _csv_rows(src)
    with open(dst, "w", encoding="utf-8") as out:
        out.write("--\n-- PostgreSQL database dump\n--\n")
        out.write(f"CREATE TABLE public.klanten ({', '.join(f'{h} text' for h in header)});\n")
        out.write(f"COPY public.klanten ({', '.join(header)}) FROM stdin;\n")
        for r in rows:
            out.write("\t".join(v.replace("\\", "\\\\") for v in r) + "\n")
        out.write("\\.\n")


def write_jsonl(src: Path, dst: Path) -> None:
    header, rows = _csv_rows(src)
    with open(dst, "w", encoding="utf-8") as out:
        for r in rows:
            out.write(json.dumps(dict(zip(header, r, strict=True)), ensure_ascii=False) + "\n")


def write_xlsx_openpyxl(src: Path, dst: Path) -> None:
    """As openpyxl writes a sheet: numbers as numbers (a BSN loses its leading zero), dates
    as dates, text as inline strings (openpyxl 3.1 writes every string inline, in normal
    and write-only mode alike; exports from Python tools look like this)."""
    import datetime

    import openpyxl

    header, rows = _csv_rows(src)
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "export"
    sheet.append(header)
    for r in rows:
        d, m, y = r[3].split("-")
        sheet.append([int(r[0]), int(r[1]), r[2], datetime.date(int(y), int(m), int(d)),
                      r[4], r[5]])
    wb.save(dst)


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_xlsx_excel(src: Path, dst: Path) -> None:
    """As Excel writes a sheet: numbers without a type attribute, dates as serials in a
    date style, every text once in the shared strings table and cells pointing at it
    (``t="s"``), rows with ``spans`` and Excel's ``x14ac:dyDescent``. Written directly:
    openpyxl cannot write shared strings any more."""
    import datetime

    header, rows = _csv_rows(src)
    strings: dict[str, int] = {}

    def shared(text: str) -> str:
        return f'<v>{strings.setdefault(text, len(strings))}</v>'

    epoch = datetime.date(1899, 12, 30)
    letters = "ABCDEF"
    parts = [f'<worksheet xmlns="{_MAIN}" xmlns:r="{_RELS}" '
             'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
             'mc:Ignorable="x14ac" '
             'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
             f'<dimension ref="A1:F{len(rows) + 1}"/><sheetData>']
    cells = "".join(f'<c r="{c}1" t="s">{shared(h)}</c>' for c, h in zip(letters, header,
                                                                          strict=True))
    parts.append(f'<row r="1" spans="1:6" x14ac:dyDescent="0.25">{cells}</row>')
    for n, r in enumerate(rows, start=2):
        d, m, y = r[3].split("-")
        serial = (datetime.date(int(y), int(m), int(d)) - epoch).days
        parts.append(
            f'<row r="{n}" spans="1:6" x14ac:dyDescent="0.25">'
            f'<c r="A{n}"><v>{int(r[0])}</v></c><c r="B{n}"><v>{int(r[1])}</v></c>'
            f'<c r="C{n}" t="s">{shared(r[2])}</c><c r="D{n}" s="1"><v>{serial}</v></c>'
            f'<c r="E{n}" t="s">{shared(r[4])}</c><c r="F{n}" t="s">{shared(r[5])}</c></row>')
    parts.append("</sheetData></worksheet>")
    sst = "".join(f"<si><t>{_xml_text(t)}</t></si>" for t in strings)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml",
                    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                    '<Default Extension="xml" ContentType="application/xml"/>'
                    '<Default Extension="rels" '
                    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                    '</Types>')
        zf.writestr("_rels/.rels", f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                    f'Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        zf.writestr("xl/workbook.xml", f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheets>'
                    '<sheet name="export" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels",
                    f'<Relationships xmlns="{_PKG}">'
                    f'<Relationship Id="rId1" Type="{_RELS}/worksheet" '
                    'Target="worksheets/sheet1.xml"/>'
                    f'<Relationship Id="rId2" Type="{_RELS}/styles" Target="styles.xml"/>'
                    f'<Relationship Id="rId3" Type="{_RELS}/sharedStrings" '
                    'Target="sharedStrings.xml"/></Relationships>')
        zf.writestr("xl/styles.xml", f'<styleSheet xmlns="{_MAIN}"><cellXfs count="2">'
                    '<xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs>'
                    '</styleSheet>')
        zf.writestr("xl/sharedStrings.xml", f'<sst xmlns="{_MAIN}" count="{4 * len(rows) + 6}"'
                    f' uniqueCount="{len(strings)}">{sst}</sst>')
        zf.writestr("xl/worksheets/sheet1.xml", "".join(parts))


def write_zip(src: Path, dst: Path) -> None:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.write(src, "export/" + src.name)


def write_targz(src: Path, dst: Path) -> None:
    with tarfile.open(dst, "w:gz", compresslevel=1) as tar:
        tar.add(src, "export/" + src.name)


def write_7z(src: Path, dst: Path) -> None:
    import py7zr

    with py7zr.SevenZipFile(dst, "w") as archive:
        archive.write(src, "export/" + src.name)


FORMATS: dict[str, tuple[str, Callable[[Path, Path], None]]] = {
    "zip": (".zip", write_zip),
    "tar.gz": (".tar.gz", write_targz),
    "7z": (".7z", write_7z),
    "mysql": (".sql", write_mysql),
    "postgresql": (".pgsql", write_postgres),
    "jsonl": (".jsonl", write_jsonl),
    "xlsx": (".excel.xlsx", write_xlsx_excel),
    "xlsx-inline": (".xlsx", write_xlsx_openpyxl),
}


def big_targz(base: Path, gb: float) -> tuple[Path, int]:
    """A CSV of ``gb`` GB (the base dump repeated) streamed into a .tar.gz with gzip -1;
    returns the archive and the number of rows in it."""
    lines = base.read_bytes().split(b"\n", 1)
    header, body = lines[0] + b"\n", lines[1]
    if not body.endswith(b"\n"):
        body += b"\n"
    per_copy = body.count(b"\n")
    copies = max(1, int(gb * 1e9 // len(body)))
    size = len(header) + copies * len(body)
    path = DATA / f"big_{gb:g}gb.tar.gz"
    rows = copies * per_copy
    if path.exists():
        return path, rows
    tmp = path.with_suffix(".tmp")
    info = tarfile.TarInfo("dump/klanten_export.csv")
    info.size = size
    info.mtime = int(time.time())
    with open(tmp, "wb") as raw:
        gz = subprocess.Popen(["gzip", "-1", "-c"], stdin=subprocess.PIPE, stdout=raw)
        assert gz.stdin is not None
        gz.stdin.write(info.tobuf(format=tarfile.GNU_FORMAT))
        gz.stdin.write(header)
        for _ in range(copies):
            gz.stdin.write(body)
        pad = (-size) % tarfile.BLOCKSIZE
        gz.stdin.write(b"\0" * (pad + 2 * tarfile.BLOCKSIZE))
        gz.stdin.close()
        if gz.wait() != 0:
            raise SystemExit("gzip failed")
    tmp.replace(path)
    return path, rows


class TempWatch(threading.Thread):
    """Largest total size of cohortwatch's private work directories while a scan runs."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.stop = root, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            total = 0
            for d in self.root.glob("cohortwatch-*"):
                for f in d.rglob("*"):
                    with contextlib.suppress(OSError):
                        total += f.stat().st_size
            self.peak = max(self.peak, total)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=500_000, help="rows of the per-format table")
    ap.add_argument("--gb", type=float, default=3.0, help="size of the big CSV (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="formats to run (default: all)")
    args = ap.parse_args(argv)

    DATA.mkdir(parents=True, exist_ok=True)
    cohort_csv, people = cohort_file(args.members, args.seed)
    full, _ = bsn_leak_file(max(args.rows, 2_000_000), people, args.seed)
    del people
    base = head_file(full, args.rows)
    ok = True
    with tempfile.TemporaryDirectory(prefix="cw-formats-") as tmp:
        work = Path(tmp)
        state = work / "state"
        measure(state, "init")
        measure(state, "cohort", "enroll", str(cohort_csv), "--name", "tp", "--ref-column", "ref")
        csv_run = measure(state, "check-dataset", str(base), "--json", ok=(0, 1))
        csv_rate = args.rows / csv_run.wall
        print(f"format=csv rows={args.rows} wall={csv_run.wall:.1f}s rate={csv_rate:.0f} rows/s "
              f"peak_rss={csv_run.peak_mb:.0f}MB (reference)", flush=True)
        for name, (suffix, write) in FORMATS.items():
            if args.only and name not in args.only:
                continue
            path = DATA / f"{base.stem}{suffix}"
            if not path.exists():
                t0 = time.perf_counter()
                write(base, path.with_name(path.name + ".tmp"))
                path.with_name(path.name + ".tmp").replace(path)
                made = f" (written in {time.perf_counter() - t0:.0f}s)"
            else:
                made = ""
            run: Run = measure(state, "check-dataset", str(path), "--json", ok=(0, 1))
            report = json.loads(run.stdout)
            records = report["dataset"]["records"]
            rate = records / run.wall
            good = records == args.rows and rate * 2 >= csv_rate
            ok &= good
            print(f"format={name} rows={records} wall={run.wall:.1f}s rate={rate:.0f} rows/s "
                  f"share_of_csv={rate / csv_rate:.2f} peak_rss={run.peak_mb:.0f}MB "
                  f"file={path.stat().st_size / 1e6:.0f}MB{made} "
                  f"target>=0.5xcsv {'ok' if good else 'MISSED'}", flush=True)

        if args.gb > 0:
            t0 = time.perf_counter()
            big, rows = big_targz(base, args.gb)
            print(f"big: {args.gb:g} GB CSV in {big.name} ({big.stat().st_size / 1e9:.2f} GB "
                  f"compressed, {rows} rows), ready in {time.perf_counter() - t0:.0f}s",
                  flush=True)
            tmpdir = work / "tmp"
            tmpdir.mkdir()
            watch = TempWatch(tmpdir)
            watch.start()
            env_tmp = os.environ.get("TMPDIR")
            os.environ["TMPDIR"] = str(tmpdir)
            try:
                run = measure(state, "check-dataset", str(big), "--json", ok=(0, 1))
            finally:
                watch.stop.set()
                watch.join()
                if env_tmp is None:
                    os.environ.pop("TMPDIR", None)
                else:
                    os.environ["TMPDIR"] = env_tmp
            report = json.loads(run.stdout)
            good = run.peak_mb <= BIG_MAX_MB and report["dataset"]["records"] == rows
            ok &= good
            left = list(tmpdir.iterdir())
            print(f"big-tar.gz gb={args.gb:g} rows={report['dataset']['records']} "
                  f"wall={run.wall:.0f}s rate={rows / run.wall:.0f} rows/s "
                  f"({args.gb * 1e3 / run.wall:.0f} MB/s) peak_rss={run.peak_mb:.0f}MB "
                  f"peak_temp={watch.peak / 1e9:.2f}GB left_behind={len(left)} "
                  f"target<={BIG_MAX_MB}MB {'ok' if good and not left else 'MISSED'}",
                  flush=True)
            shutil.rmtree(tmpdir, ignore_errors=True)
    print("all targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
