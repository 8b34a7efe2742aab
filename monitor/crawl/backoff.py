"""When a site is next due: its interval after success, exponential backoff with jitter
after failures.

Jitter keeps 200 sites configured with the same interval from hitting Tor in lockstep,
and keeps a site that watches its access log from learning our exact schedule.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

__all__ = ["next_due"]


def next_due(now: datetime, interval: float, failures: int, *, max_backoff: float,
             jitter: float = 0.2, rng: random.Random | None = None) -> datetime:
    """``now`` + the interval (doubled per consecutive failure, capped), ±``jitter``."""
    r = rng or random
    delay = interval if failures <= 0 else min(max_backoff, interval * 2 ** min(failures, 30))
    delay *= 1 + r.uniform(-jitter, jitter)
    return now + timedelta(seconds=max(1.0, delay))
