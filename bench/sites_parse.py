"""How fast site definitions parse pages: CPU per listing page, HTML and JSON.

Parses the example sites' saved pages (tests/data/sites) and a larger listing built from the
same card layout (60 cards, ~63 KB, the size of a busy leak blog's first page), repeatedly,
and prints pages/s of CPU time. The target: 200 sites x 5 such pages every hour (the default
interval) cost at most 10% of one core. Usage: .venv/bin/python bench/sites_parse.py
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.sites import listing_url, load_sites_file, parse_listing

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "sites"
SITES = ROOT / "config" / "sites"
NOW = datetime(2025, 7, 6, 12, tzinfo=UTC)
CYCLE_PAGES = 200 * 5
INTERVAL_S = 3600.0
TARGET_CORE_SHARE = 0.10


def _big_card_page() -> bytes:
    page = (DATA / "blackcomet.html").read_text(encoding="utf-8")
    cards = re.findall(r'<div class="col-md-4 col-sm-6">.*?\n</div>\n', page, re.S)
    start = page.index(cards[0])
    end = page.index(cards[-1]) + len(cards[-1])
    return (page[:start] + "".join(cards * 5) + page[end:]).encode("utf-8")


def _measure(name: str, page: str | bytes, repeat: int) -> float:
    (site,) = load_sites_file(SITES / f"{name}.toml")
    body = page if isinstance(page, bytes) else (DATA / page).read_bytes()
    url = listing_url(site)
    posts = len(parse_listing(site, body, url, now=NOW).posts)
    started = time.process_time()
    for _ in range(repeat):
        parse_listing(site, body, url, now=NOW)
    cpu = (time.process_time() - started) / repeat
    label = page if isinstance(page, str) else "blackcomet x5 (generated)"
    print(f"{name:<11} {label:<26} {len(body) / 1024:6.1f} KB {posts:4d} posts  "
          f"{cpu * 1000:7.1f} ms cpu/page  {1 / cpu:7.1f} pages/s")
    return cpu


def main() -> None:
    load = os.getloadavg()[0]
    print(f"cpus {os.cpu_count()}, load average {load:.2f}")
    _measure("blackcomet", "blackcomet.html", 40)
    _measure("quietleaks", "quietleaks.html", 40)
    _measure("ledger", "ledger.html", 100)
    _measure("harbor", "harbor.json", 200)
    big = _measure("blackcomet", _big_card_page(), 10)
    cycle = big * CYCLE_PAGES
    share = cycle / INTERVAL_S
    print(f"cycle of {CYCLE_PAGES} large pages: {cycle:.1f} s cpu = {share:.1%} of a core at a "
          f"{INTERVAL_S:.0f} s interval; target <= {TARGET_CORE_SHARE:.0%}: "
          f"{'ok' if share <= TARGET_CORE_SHARE else 'MISSED'}")


if __name__ == "__main__":
    main()
