"""Is a source healthy? Disabled (410 Gone), failing, its page layout changed, or silent far past its rhythm.

Pure: no I/O. The store supplies the source's state and the times it last brought new
entries; this module only judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

FAILURES_TO_FLAG = 3
STALE_FACTOR = 4  # silent for 4 usual gaps...
STALE_FLOOR = timedelta(days=1)  # ...and never before a day has passed


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    every: timedelta
    consecutive_failures: int
    failing_since: datetime | None
    last_error: str | None
    layout_changed_at: datetime | None
    last_new_at: datetime | None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Flag:
    source: str
    kind: str  # disabled | failing | layout | stale
    detail: str
    since: datetime | None


def rhythm(new_entry_times: Sequence[datetime]) -> timedelta | None:
    """The median gap between the source's recent new entries (None with fewer than 3)."""
    times = sorted(new_entry_times)
    gaps = [(b - a).total_seconds() for a, b in pairwise(times) if b > a]
    return timedelta(seconds=median(gaps)) if len(gaps) >= 2 else None


def stale_after(every: timedelta, usual_gap: timedelta | None) -> timedelta:
    return max(STALE_FACTOR * (usual_gap or timedelta(0)), 2 * every, STALE_FLOOR)


def flags(state: SourceState, now: datetime, usual_gap: timedelta | None) -> list[Flag]:
    found = []
    if state.disabled_at is not None:  # not polled any more: nothing else about it is news
        return [Flag(state.name, "disabled", f"{state.disabled_reason or 'disabled'}", state.disabled_at)]
    if state.consecutive_failures >= FAILURES_TO_FLAG:
        found.append(Flag(state.name, "failing", f"{state.consecutive_failures} failed polls in a row: "
                          f"{state.last_error or 'unknown error'}", state.failing_since))
    if state.layout_changed_at is not None:
        found.append(Flag(state.name, "layout", "the page's selectors match nothing where they matched "
                          "before (did the site change its layout?)", state.layout_changed_at))
    if usual_gap is not None and state.last_new_at is not None:
        limit = stale_after(state.every, usual_gap)
        if now - state.last_new_at > limit:
            # since it became stale, not since its last entry: a past digest shows what had begun by its end
            found.append(Flag(state.name, "stale", f"nothing new for {_span(now - state.last_new_at)} "
                              f"(usually every {_span(usual_gap)})", state.last_new_at + limit))
    return found


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.0f} hours" if hours >= 2 else \
        f"{delta.total_seconds() / 60:.0f} minutes"
