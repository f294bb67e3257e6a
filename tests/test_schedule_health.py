"""Schedule arithmetic and source health (pure core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.health import SourceState, flags, rhythm, stale_after
from monitor.core.schedule import after_failure, after_success, backoff, jitter

NOW = datetime(2025, 2, 3, tzinfo=UTC)
M30 = timedelta(minutes=30)


def test_jitter_is_stable_small_and_spreads_sources() -> None:
    offsets = {jitter(f"source-{i}", M30) for i in range(50)}
    assert all(timedelta(0) <= o < timedelta(minutes=3) for o in offsets)
    assert len(offsets) > 40
    assert jitter("a", M30) == jitter("a", M30)
    assert jitter("a", timedelta(days=1)) < timedelta(minutes=5)


def test_success_schedules_one_interval_later() -> None:
    nxt = after_success("a", M30, NOW)
    assert NOW + M30 <= nxt < NOW + M30 + timedelta(minutes=3)


@pytest.mark.parametrize(("failures", "every", "expected"), [
    (1, M30, M30), (2, M30, 2 * M30), (3, M30, 4 * M30), (4, M30, 8 * M30), (9, M30, 8 * M30),
    (5, timedelta(hours=6), timedelta(hours=24)), (500, timedelta(minutes=5), timedelta(minutes=40)),
], ids=["first", "second", "third", "fourth-cap-8x", "stays-capped", "cap-24h", "huge-count"])
def test_backoff_doubles_and_is_capped(failures: int, every: timedelta, expected: timedelta) -> None:
    assert backoff(failures, every) == expected


def test_retry_after_is_honoured_when_longer_and_clamped() -> None:
    base = after_failure("a", M30, 1, NOW) - NOW
    assert after_failure("a", M30, 1, NOW, retry_after=7200) - NOW == timedelta(hours=2) + (base - M30)
    assert after_failure("a", M30, 1, NOW, retry_after=5) == after_failure("a", M30, 1, NOW)
    assert after_failure("a", M30, 1, NOW, retry_after=10**9) - NOW < timedelta(days=7, minutes=5)
    # a header no timedelta can hold is the same 7 days, not an OverflowError that stops the poll
    assert after_failure("a", M30, 1, NOW, retry_after=float("99999999999999999999")) - NOW < timedelta(days=7, minutes=5)
    assert after_failure("a", M30, 1, NOW, retry_after=float("inf")) - NOW < timedelta(days=7, minutes=5)


def state(**kw: object) -> SourceState:
    base: dict[str, object] = {"name": "s", "every": M30, "consecutive_failures": 0, "failing_since": None,
                               "last_error": None, "layout_changed_at": None, "last_new_at": None}
    base.update(kw)
    return SourceState(**base)  # type: ignore[arg-type]


def test_three_failures_flag_a_source() -> None:
    assert flags(state(consecutive_failures=2, last_error="HTTP 500"), NOW, None) == []
    [flag] = flags(state(consecutive_failures=3, last_error="HTTP 500", failing_since=NOW), NOW, None)
    assert flag.kind == "failing" and "HTTP 500" in flag.detail and flag.since == NOW


def test_layout_change_is_flagged() -> None:
    [flag] = flags(state(layout_changed_at=NOW), NOW, None)
    assert flag.kind == "layout"


def test_stale_against_the_usual_rhythm() -> None:
    hourly = [NOW - timedelta(hours=h) for h in range(10)]
    assert rhythm(hourly) == timedelta(hours=1)
    assert rhythm(hourly[:2]) is None
    assert stale_after(M30, timedelta(hours=1)) == timedelta(days=1)
    assert stale_after(M30, timedelta(days=2)) == timedelta(days=8)
    quiet = state(last_new_at=NOW - timedelta(hours=30))
    [flag] = flags(quiet, NOW, timedelta(hours=1))
    assert flag.kind == "stale" and "30 hours" in flag.detail
    assert flag.since == NOW - timedelta(hours=6)  # when it became stale (a day of silence), not its last entry
    assert flags(state(last_new_at=NOW - timedelta(hours=20)), NOW, timedelta(hours=1)) == []
