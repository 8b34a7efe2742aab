"""How fast documents are read for people: MB/s and records/s per format, and recall.

Generates synthetic leaks (people from :func:`matchers.synthetic.make_people`, never real
data) as a plain-text dump, an HTML page, a PDF with a text layer (fpdf2) and a Word
document, each with the layouts :mod:`matchers.documents.records` knows (labelled forms,
letters with "Mevr. ... (date)", tables, bare BSNs) between lines of prose and numbers
that are no BSN; then times ``open_document`` + ``find_records`` over each file (generation
is not timed) and checks that every planted BSN and name + birth date was found.

    .venv/bin/python bench/documents_speed.py                 # 100 MB of text, smaller others
    .venv/bin/python bench/documents_speed.py --text-mb 10 --pdf-pages 50

Rates are per wall-clock second; the CPU seconds beside them show how much of that was
this process (the machine may be shared). Files go to a private temporary directory that
is removed at the end.
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape

from matchers.dates import parse_date
from matchers.documents import TextPart, find_records, open_document
from matchers.synthetic import Person, display_name, format_date, make_people, reformat_bsn

PROSE_LINE = (
    "De uitslag van het onderzoek is besproken met de huisarts; vervolgonderzoek is niet "
    "nodig. Ordernummer 48213377, telefoon 020-1234567, factuur 2025-0042."
)


Block = tuple[list[str | tuple[str, ...]], str, tuple]


def blocks(people: list[Person], seed: int, prose: int = 1) -> Iterator[Block]:
    """Endless layouts: (lines, planted BSN digits or '', planted (name, ymd) or ()), each
    followed by ``prose`` lines of text without people."""
    rng = random.Random(seed)
    PROSE = "\n".join([PROSE_LINE] * prose)
    i = 0
    while True:
        p = people[i % len(people)]
        kind = i % 5
        i += 1
        if kind == 0:
            name, dob = display_name(p, "initials"), format_date(p.dob, rng, "dmy_dash")
            yield [f"Patiënt: {name}, geb. {dob}", f"BSN: {p.bsn}", PROSE], p.bsn, (name, dob)
        elif kind == 1:
            name, dob = display_name(p), format_date(p.dob, rng, "text_nl")
            yield [f"Naam: {name}", f"Geboortedatum: {dob}", PROSE], "", (name, dob)
        elif kind == 2:
            name, dob = display_name(p, "initials"), format_date(p.dob, rng, "dmy_dash")
            yield [f"Betreft: Mevr. {name} ({dob})", PROSE], "", (name, dob)
        elif kind == 3:
            written = reformat_bsn(p.bsn, rng, rng.choice(["space", "dots"]))
            yield [f"Dossier {written} is verwerkt.", PROSE], p.bsn, ()
        else:
            name, dob = display_name(p), format_date(p.dob, rng, "dmy_dash")
            yield [("Naam", "Geboortedatum", "BSN"), (name, dob, p.bsn), PROSE], p.bsn, (name, dob)


def collect(
    people: list[Person], seed: int, size: int, prose: int = 1
) -> tuple[list, set[str], set]:
    """Layout lines up to about ``size`` characters, and what was planted."""
    lines: list[str | tuple[str, ...]] = []
    bsns: set[str] = set()
    pairs: set = set()
    total = 0
    for block, bsn, pair in blocks(people, seed, prose):
        lines.extend(block)
        total += sum(len(x) if isinstance(x, str) else sum(map(len, x)) + 2 for x in block)
        if bsn:
            bsns.add(bsn)
        if pair:
            pairs.add((pair[0], parse_date(pair[1])))
        if total >= size:
            return lines, bsns, pairs


def write_text(path: Path, lines: list) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for x in lines:
            fh.write((x if isinstance(x, str) else "\t".join(x)) + "\n")


def write_html(path: Path, lines: list) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("<!DOCTYPE html><html><head><style>p{margin:0}</style>")
        fh.write("<script>var tracking = 'x';</script></head><body>\n")
        for x in lines:
            if isinstance(x, str):
                fh.write(f"<p class='regel'>{escape(x)}</p>\n")
            else:
                fh.write("<table><tr>" + "".join(f"<td>{escape(c)}</td>" for c in x))
                fh.write("</tr></table>\n")
        fh.write("</body></html>\n")


def write_pdf(path: Path, lines: list, per_page: int = 45) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=8)
    pdf.set_auto_page_break(False)
    for start in range(0, len(lines), per_page):
        pdf.add_page()
        for x in lines[start : start + per_page]:
            if isinstance(x, str):
                pdf.cell(text=x, new_x="LMARGIN", new_y="NEXT")
            else:
                for k, cell in enumerate(x):
                    last = k == len(x) - 1
                    pdf.cell(55, 5, text=cell, new_x="LMARGIN" if last else "RIGHT",
                             new_y="NEXT" if last else "TOP")  # fmt: skip
    pdf.output(str(path))


def write_docx(path: Path, lines: list) -> None:
    def para(t: str) -> str:
        return f'<w:p><w:r><w:t xml:space="preserve">{escape(t)}</w:t></w:r></w:p>'

    body = []
    for x in lines:
        if isinstance(x, str):
            body.append(para(x))
        else:
            cells = "".join(f"<w:tc>{para(c)}</w:tc>" for c in x)
            body.append(f"<w:tbl><w:tr>{cells}</w:tr></w:tbl>")
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
        '"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        + "".join(body)
        + "</w:body></w:document>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", xml)


def measure(name: str, path: Path, bsns: set[str], pairs: set) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    doc = open_document(path)
    chars = 0

    def counted() -> Iterator[TextPart]:
        nonlocal chars
        for part in doc.parts():
            chars += len(part.text)
            yield part

    found_bsn: set[str] = set()
    found_pairs: set = set()
    count = 0
    # Streamed, as a scan hands records on in batches: a list of half a million records
    # would make the garbage collector's passes, not the reader, what is measured.
    for r in find_records(counted(), doc.stats):
        count += 1
        values = r.values
        if "bsn" in values:
            found_bsn.add(_digits(values["bsn"]))
        if "naam" in values and "geboortedatum" in values:
            found_pairs.add((values["naam"], values["geboortedatum"]))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    found_pairs = {(name, parse_date(dob)) for name, dob in found_pairs}
    mb = path.stat().st_size / 1e6
    recall_bsn = len(bsns & found_bsn) / max(1, len(bsns))
    recall_pairs = len(pairs & found_pairs) / max(1, len(pairs))
    print(
        f"{name:11} {mb:6.1f} MB file {mb / elapsed:6.1f} MB/s | {chars / 1e6:6.1f} MB text "
        f"{chars / 1e6 / elapsed:5.1f} MB/s | {elapsed:6.2f} s ({cpu:6.2f} s CPU) | "
        f"{count:8d} records {count / elapsed:7.0f}/s | "
        f"recall BSN {recall_bsn:.4f} name+dob {recall_pairs:.4f}"
        + (f" | skipped {dict(doc.stats.skip_reasons)}" if doc.stats.skip_reasons else ""),
        flush=True,
    )


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--text-mb", type=float, default=100)
    parser.add_argument("--html-mb", type=float, default=20)
    parser.add_argument("--docx-mb", type=float, default=20, help="size of document.xml")
    parser.add_argument("--pdf-pages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # Latin-1 names only: fpdf2's built-in fonts cannot write others (all formats get the
    # same people, so the numbers compare).
    people = [p for p in make_people(args.people, seed=args.seed) if _latin1(p)]
    work = Path(tempfile.mkdtemp(prefix="cohortwatch-bench-"))
    try:
        jobs: list[tuple[str, float, int, Callable[[Path, list], None], str]] = [
            ("text dense", args.text_mb * 1e6, 1, write_text, "dump.txt"),
            ("text sparse", args.text_mb * 1e6, 12, write_text, "letters.txt"),
            ("html", args.html_mb * 1e6 / 1.6, 1, write_html, "page.html"),
            ("docx", args.docx_mb * 1e6 / 2.2, 1, write_docx, "brief.docx"),
            ("pdf", args.pdf_pages * 45 * 60, 1, write_pdf, "rapport.pdf"),
        ]
        for name, size, prose, writer, filename in jobs:
            lines, bsns, pairs = collect(people, args.seed, int(size), prose)
            path = work / filename
            writer(path, lines)
            del lines
            gc.collect()
            gc.freeze()  # the bench's own people and sets are not the reader's work
            measure(name, path, bsns, pairs)
            gc.unfreeze()
            path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _latin1(p: Person) -> bool:
    try:
        (p.given_names + p.prefix + p.surname).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


if __name__ == "__main__":
    main()
