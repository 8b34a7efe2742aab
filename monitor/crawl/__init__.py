"""The crawler: one cycle per site over Tor, post identity and history, watchlist hits,
posted files downloaded and matched, events for alerting.

``crawler`` runs a cycle, ``identity`` decides which stored post a listed one is,
``store`` keeps sites, mirrors, posts, files and events in the state database,
``datasets`` turns a downloaded file into dataset reports, ``backoff`` schedules.
"""

import importlib
from typing import Any

_HOME = {
    "CrawlOutcome": "monitor.crawl.crawler", "Crawler": "monitor.crawl.crawler",
    "CrawlerSettings": "monitor.crawl.settings", "DatasetMatcher": "monitor.crawl.datasets",
    "CrawlStore": "monitor.crawl.store",
}


def __getattr__(name: str) -> Any:
    """Names resolve on first use: the configuration imports ``monitor.crawl.settings``
    without loading the crawler's network stack."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'monitor.crawl' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = ["CrawlOutcome", "CrawlStore", "Crawler", "CrawlerSettings", "DatasetMatcher"]
