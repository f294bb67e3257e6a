"""Which entries a day's digest holds, and in what order.

Pure: no I/O, no clock. The digest of date D covers the 24 hours that end at `digest.at`
on D in the configured time zone: [at on D-1, at on D). It lists the entries first seen in
that window that match a topic, less those published more than `lookback` before the
window opened (an entry without a date is kept), by topic in config order, newest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class Window:
    day: date
    start: datetime  # aware, in the configured zone
    end: datetime  # aware, in the configured zone; exclusive


@dataclass(frozen=True, slots=True)
class Item:
    title: str
    url: str | None
    sources: tuple[str, ...]
    published: datetime | None  # local
    first_seen: datetime  # local
    topics: tuple[str, ...]
    terms: tuple[str, ...] = ()  # the query terms that made it match this section's topic
    also: tuple[tuple[str, str | None], ...] = ()  # the same story elsewhere: (outlet, url)


@dataclass(frozen=True, slots=True)
class Section:
    topic: str
    heading: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Failure:
    source: str
    error: str
    since: datetime | None  # local


@dataclass(frozen=True, slots=True)
class Digest:
    window: Window
    sections: tuple[Section, ...]
    failures: tuple[Failure, ...]
    entries: int  # stories shown: a story of several reports, or under two topics, counts once


def window_for(day: date, at: time, tz: tzinfo) -> Window:
    """The window of the digest of `day` (local wall-clock times, so DST days last 23 or 25 h).

    A time the clocks skip (02:30 on a spring-forward day) is the instant it would have been
    (03:30 EDT), and is shown as such rather than as 02:30 EST, a time that did not exist."""
    end = _real(datetime.combine(day, at, tzinfo=tz), tz)
    start = _real(datetime.combine(day - timedelta(days=1), at, tzinfo=tz), tz)
    return Window(day, start, end)


def _real(local: datetime, tz: tzinfo) -> datetime:
    return local.astimezone(UTC).astimezone(tz)


def day_being_gathered(now: datetime, at: time, tz: tzinfo) -> date:
    """The date of the digest whose window holds `now` (tomorrow once today's window has closed).

    Compared in UTC: two datetimes of one tzinfo compare by wall clock, which is wrong in the
    hour a DST change repeats or skips (an `at` of 01:30 on a fall-back day)."""
    today = now.astimezone(tz).date()
    closes = window_for(today, at, tz).end.astimezone(UTC)
    return today if now.astimezone(UTC) < closes else today + timedelta(days=1)


def published_floor(window: Window, lookback: timedelta) -> datetime:
    """Entries published before this instant are old news and stay out of the digest."""
    return window.start - lookback


def alert_floor(now: datetime, at: time, tz: tzinfo, lookback: timedelta) -> datetime:
    """Entries published before this instant are no alert at `now`: the floor of the digest
    that will list them, so an entry is left out of both or of neither."""
    return published_floor(window_for(day_being_gathered(now, at, tz), at, tz), lookback)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An archive row as the digest needs it (UTC datetimes)."""

    title: str
    url: str | None
    sources: tuple[str, ...]
    published: datetime | None
    first_seen: datetime
    topics: tuple[str, ...]
    terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # topic -> matched terms
    story: int | None = None  # entries of one story (monitor.core.clusters) are shown once
    outlet: str = ""  # the name shown in "also: ...": the publisher, else the source


def build(
    window: Window,
    candidates: Iterable[Candidate],
    topics: Sequence[tuple[str, str]],
    failures: Iterable[Failure],
    tz: tzinfo,
) -> Digest:
    """Group candidates by topic (config order), newest first; `topics` is (name, heading)."""
    pool = list(candidates)
    sections = []
    shown: set[object] = set()
    for name, heading in topics:
        stories = _stories([c for c in pool if name in c.topics])
        stories.sort(key=lambda g: (g[0].published or g[0].first_seen, g[0].first_seen), reverse=True)
        if stories:
            sections.append(Section(name, heading, tuple(_item(g[0], tz, name, g[1:]) for g in stories)))
            shown.update(_story_key(g[0]) for g in stories)
    return Digest(window, tuple(sections), tuple(failures), len(shown))


def _story_key(c: Candidate) -> object:
    return ("story", c.story) if c.story is not None else ("entry", id(c))


def _stories(chosen: list[Candidate]) -> list[list[Candidate]]:
    """Group one topic's candidates by story; each group's first is the one shown: the
    earliest report (publication time, else first seen), the longest title on a tie."""
    groups: dict[object, list[Candidate]] = {}
    for c in chosen:
        groups.setdefault(_story_key(c), []).append(c)
    for members in groups.values():
        members.sort(key=lambda c: (c.published or c.first_seen, -len(c.title), c.first_seen))
    return list(groups.values())


def _item(c: Candidate, tz: tzinfo, topic: str, others: Sequence[Candidate] = ()) -> Item:
    published = c.published.astimezone(tz) if c.published else None
    also = tuple((o.outlet or ", ".join(o.sources), o.url) for o in others)
    return Item(c.title, c.url, c.sources, published, c.first_seen.astimezone(tz), c.topics, c.terms.get(topic, ()),
                also)
