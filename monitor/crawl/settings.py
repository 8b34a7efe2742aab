"""The ``[crawler]`` configuration table (apart from the crawler, so that loading the
configuration does not import aiohttp)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrawlerSettings"]


@dataclass(frozen=True)
class CrawlerSettings:
    concurrency: int = 8  # sites crawled at once
    down_after: int = 3  # failed cycles in a row before site.down
    newnym_after: int = 3  # failed cycles in a row before new circuits + NEWNYM
    max_backoff: float = 6 * 3600.0  # seconds; a failing site is retried at least this often
    jitter: float = 0.2
    identity_threshold: float = 90.0  # rapidfuzz score for "the same post, renamed"
    download_attempts: int = 3  # cycles in which a failed file download is tried again
    baseline_alerts: bool = False  # alert for watchlist matches found in a baseline crawl
    match_concurrency: int = 1  # posted files matched at once (CPU and memory bound)
