"""Value types that cross the boundary between parsers, the core and the store.

Pure: no I/O. Parsers build ``EntryDraft``s; the core turns them into ``Entry``s with a
canonical key; the store persists ``Entry``s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """One item as a parser found it, before identity and matching.

    ``link`` is absolute (resolved against the document) but not canonical and may be any
    scheme; ``summary`` is plain text; ``published`` is aware or None when unknown.
    """

    title: str
    link: str | None = None
    guid: str | None = None
    summary: str = ""
    published: datetime | None = None
    publisher: str | None = None  # the outlet an aggregator names (Google News <source>)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What one document yielded: drafts in document order and how many items were skipped."""

    drafts: list[EntryDraft] = field(default_factory=list)
    skipped: int = 0
    title: str | None = None
    warnings: list[str] = field(default_factory=list)
