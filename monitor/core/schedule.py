"""When a source is polled next: its interval, a fixed per-source offset, back-off on failure.

Pure: no I/O, no clock (``now`` is a parameter), no randomness (the offset is derived from
the source's name, so sources of one host that share an interval fire apart, the same way
after every restart).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(days=7)  # a server may delay us, within reason
JITTER_SHARE = 0.1  # at most a tenth of the interval...
MAX_JITTER = timedelta(minutes=5)  # ...and at most five minutes


def jitter(name: str, every: timedelta) -> timedelta:
    """A stable offset in [0, min(every/10, 5 min)) for this source."""
    span = min(every * JITTER_SHARE, MAX_JITTER)
    fraction = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big") / 2**32
    return span * fraction


def after_success(name: str, every: timedelta, now: datetime) -> datetime:
    return now + every + jitter(name, every)


def backoff(failures: int, every: timedelta) -> timedelta:
    """The wait after `failures` failures in a row: every, 2x, 4x... capped at min(24 h, 8 x every)."""
    cap = min(MAX_BACKOFF, every * 8)
    exponent = min(max(failures, 1) - 1, 32)
    return min(every * (2**exponent), cap)


def after_failure(name: str, every: timedelta, failures: int, now: datetime,
                  retry_after: float | None = None) -> datetime:
    """Back off exponentially; a server's Retry-After (429/503) is honoured when it asks for more."""
    wait = backoff(failures, every)
    if retry_after is not None and retry_after > 0:
        # compared in seconds first: timedelta() of a server's 10**20 overflows
        wait = max(wait, timedelta(seconds=min(retry_after, MAX_RETRY_AFTER.total_seconds())))
    return now + wait + jitter(name, every)
