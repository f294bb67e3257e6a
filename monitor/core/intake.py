"""Deciding what a parsed document changes in the archive.

Pure: no I/O. Given the drafts of one poll and what the store already knows about their
keys, return intents (new entries, revisions, sightings) that the store carries out in one
transaction. The rules:
- an article's identity is its canonical URL, else its feed id (ids that are not URIs are
  scoped to the source: `abc-x1` in two feeds is two articles), except an id that is only a
  short count (`item_17`, which kantei's feed shifts daily): then its title and date;
- the same key twice in one document is one entry (the first wins);
- only the source that first carried an entry may revise its title/summary/date, and a
  revision never changes `first_seen`;
- every source that carries an entry is recorded once (a sighting).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from monitor.core.entry import EntryDraft
from monitor.core.urls import canonical_url

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S")
MAX_KEY_BYTES = 1024  # longer keys are stored as their SHA-256 (bounded_key)


@dataclass(frozen=True, slots=True)
class Known:
    """What the store holds for one key."""

    id: int
    origin_source_id: int
    title: str
    summary: str
    published: datetime | None
    seen_by_source: bool


@dataclass(frozen=True, slots=True)
class NewEntry:
    key: str
    url: str | None
    guid: str | None
    title: str
    summary: str
    published: datetime | None
    publisher: str | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    entry_id: int
    title: str
    summary: str
    published: datetime | None


@dataclass(slots=True)
class Intents:
    new: list[NewEntry] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    sightings: list[int] = field(default_factory=list)
    skipped: int = 0
    duplicates: int = 0


def entry_key(draft: EntryDraft, source_name: str) -> tuple[str, str | None] | None:
    """(key, canonical http(s) url or None), or None when the draft has neither link nor id."""
    url = canonical_url(draft.link)
    if url:
        return bounded_key(url), url
    guid = (draft.guid or "").strip()
    if not guid:
        return None
    if guid.lower().startswith(("http://", "https://")):
        canonical = canonical_url(guid)
        return bounded_key(canonical or guid), None
    if _URI.match(guid):
        return bounded_key(f"id:{guid}"), None
    return bounded_key(f"id:{source_name}:{guid}"), None


def bounded_key(key: str) -> str:
    """``key``, or ``sha256:`` and its digest when it is longer than ``MAX_KEY_BYTES``.

    PostgreSQL's unique btree index refuses a row over about 2.7 KB, which would fail every
    poll of a source with one such URL; keeping the bound for SQLite too keeps an entry's key
    the same on either database. The full URL stays in ``entries.url``. Migration 0005 re-keys
    the entries stored before, with the same rule.
    """
    data = key.encode("utf-8", "surrogatepass")
    if len(data) <= MAX_KEY_BYTES:
        return key
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Identified:
    """A draft with its identity, computed once per poll (canonicalising URLs is not free)."""

    draft: EntryDraft
    key: str | None
    url: str | None


def identify(drafts: list[EntryDraft], source_name: str) -> list[Identified]:
    """Each draft with its key and canonical URL (key None: no link and no id).

    An id that is only a short count (kantei's ``item_1`` … ``item_25``, or ``17``) is no id for
    an item without a link: the same item is ``item_17`` today and ``item_18`` tomorrow. Such an
    item is keyed by its title and date instead (``positional_key``). Decided per item, so a key
    does not change with what else the feed holds that day.
    """
    out = []
    for d in drafts:
        if not canonical_url(d.link) and _COUNTED.match((d.guid or "").strip()):
            identity: tuple[str, str | None] | None = (positional_key(d, source_name), None)
        else:
            identity = entry_key(d, source_name)
        out.append(Identified(d, *identity) if identity else Identified(d, None, None))
    return out


FUTURE_SLACK = timedelta(days=2)  # a clock or time zone wrong by hours is not yet a false date


def credible(identified: list[Identified], now: datetime) -> list[Identified]:
    """The drafts, less a publication date more than ``FUTURE_SLACK`` after `now` (a typo'd
    year, a CMS placeholder such as 2125): such a date would sit on top of every newest-first
    list for years. The entry keeps first_seen; the key, made before, keeps the date it was
    given, so an item is the same entry whatever the clock says."""
    return [i if credible_date(i.draft.published, now) == i.draft.published
            else replace(i, draft=replace(i.draft, published=None)) for i in identified]


def credible_date(published: datetime | None, now: datetime) -> datetime | None:
    """`published`, or None when it lies more than ``FUTURE_SLACK`` after `now`."""
    return None if published is not None and published > now + FUTURE_SLACK else published


# A short count after an optional short word: item_17, entry-3, #5, 17. Not a URI, not a long id.
_COUNTED = re.compile(r"^[A-Za-z_#.-]{0,8}\d{1,4}$")


def positional_key(draft: EntryDraft, source_name: str) -> str:
    """The key of a link-less item whose id is only its position: its source, title and date."""
    stamp = draft.published.isoformat() if draft.published else ""
    digest = hashlib.sha256(f"{draft.title}\n{stamp}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"item:{source_name}:{digest}"


def decide(identified: list[Identified], *, source_id: int, known: Mapping[str, Known]) -> Intents:
    """Turn one document's identified drafts into intents against what the store holds."""
    intents = Intents()
    seen: set[str] = set()
    for item in identified:
        draft, key, url = item.draft, item.key, item.url
        if key is None:
            intents.skipped += 1
            continue
        if key in seen:
            intents.duplicates += 1
            continue
        seen.add(key)
        old = known.get(key)
        if old is None:
            intents.new.append(NewEntry(key, url, draft.guid, draft.title, draft.summary, draft.published,
                                        draft.publisher))
            continue
        if not old.seen_by_source:
            intents.sightings.append(old.id)
        if old.origin_source_id == source_id and _changed(old, draft):
            published = draft.published or old.published
            intents.revisions.append(Revision(old.id, draft.title, draft.summary or old.summary, published))
    return intents


def _changed(old: Known, draft: EntryDraft) -> bool:
    """A revision: another title, summary or date. A feed without a summary or a date keeps the
    one stored (the article page's og:description and published time fill what the feed lacks)."""
    if draft.title != old.title or (draft.summary and draft.summary != old.summary):
        return True
    return draft.published is not None and draft.published != old.published
