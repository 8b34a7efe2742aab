"""The crawler: one cycle per site over Tor, post identity and history, watchlist hits,
posted files downloaded and matched, events for alerting.

``crawler`` runs a cycle, ``identity`` decides which stored post a listed one is,
``store`` keeps sites, mirrors, posts, files and events in the state database,
``datasets`` turns a downloaded file into dataset reports, ``backoff`` schedules.
"""

from monitor.crawl.crawler import Crawler, CrawlerSettings, CrawlOutcome
from monitor.crawl.datasets import DatasetMatcher
from monitor.crawl.store import CrawlStore

__all__ = ["CrawlOutcome", "CrawlStore", "Crawler", "CrawlerSettings", "DatasetMatcher"]
