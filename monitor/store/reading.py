"""The archive's read side: digest selection, search, source statistics.

Builds queries apart from running them where that helps testing; every value reaches the
database as a bound parameter, and a search query reaches the index only through the query tree
(``where_clause`` of monitor.store.fts or monitor.store.pg_search, by dialect).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, literal, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from monitor.core.query import Node
from monitor.errors import StoreError
from monitor.store.fts import where_clause_for
from monitor.store.schema import entries, entry_sources, matches, sources


@dataclass(frozen=True, slots=True)
class EntryRow:
    """An entry as readers see it: with the names of its sources and its topics."""

    id: int
    title: str
    url: str | None
    summary: str
    published: datetime | None
    first_seen: datetime
    source: str
    sources: tuple[str, ...]
    topics: tuple[str, ...]
    why: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # topic -> [{"term", "in"}]
    text: str = ""
    publisher: str | None = None

    @property
    def matched_terms(self) -> list[str]:
        """The query terms that hit, over all topics, first seen first."""
        return list(dict.fromkeys(str(h["term"]) for hits in self.why.values() for h in hits))


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    url: str
    type: str
    last_polled_at: datetime | None
    last_status: str | None
    last_error: str | None
    failing_since: datetime | None
    consecutive_failures: int
    entries: int
    id: int = 0
    next_poll_at: datetime | None = None
    last_new_at: datetime | None = None
    layout_changed_at: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


def _when():  # type: ignore[no-untyped-def]
    return func.coalesce(entries.c.published_at, entries.c.first_seen)


def _counted_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Entries a digest window [start, end) counts: by first_seen, or by late_match_at when only
    a later text or revision made them match (each entry in exactly one window)."""
    seen = and_(entries.c.late_match_at.is_(None), entries.c.first_seen >= start, entries.c.first_seen < end)
    return or_(seen, and_(entries.c.late_match_at >= start, entries.c.late_match_at < end))


class Reader:
    """Read access for the digest, `monitor search` and `monitor sources`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def digest_rows(self, start: datetime, end: datetime, published_after: datetime) -> list[EntryRow]:
        """Entries that match a topic and are counted in [start, end), less those published
        before `published_after` (an entry without a date is kept). An entry counts when first
        seen, or, when only its article text made it match, when that text came
        (`late_match_at`): either way in exactly one window."""
        query = (
            select(entries.c.id)
            .where(_counted_in(start, end))
            .where(or_(entries.c.published_at.is_(None), entries.c.published_at >= published_after))
            .where(entries.c.id.in_(select(matches.c.entry_id)))
            .order_by(entries.c.id)  # the digest keeps this order among equals: the same on every database
        )
        return self._rows(query, with_text=False)  # a digest shows no article text

    def matched_before(self, start: datetime, end: datetime, published_before: datetime,
                       topics: Collection[str]) -> int:
        """How many entries the digest leaves out as old news: counted in [start, end), they match
        one of ``topics`` but were published before ``published_before`` (a first poll brings a
        feed's back catalogue)."""
        query = (select(func.count()).select_from(entries).where(_counted_in(start, end))
                 .where(entries.c.published_at < published_before)
                 .where(entries.c.id.in_(select(matches.c.entry_id).where(matches.c.topic.in_(list(topics))))))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def is_empty(self) -> bool:
        """Whether no entry was ever stored (nothing polled yet)."""
        with self.engine.connect() as conn:
            return conn.execute(select(entries.c.id).limit(1)).first() is None

    def search(self, tree: Node | None, *, topics: Collection[str] = (), carried_by: Collection[str] = (),
               since: datetime | None = None, until: datetime | None = None,
               limit: int = 50) -> list[EntryRow]:
        """Newest first (publication time, else first_seen); ``topics``: entries matching any of
        them; ``carried_by``: entries any of these sources carried."""
        query = select(entries.c.id)
        if tree is not None:
            clause, params = where_clause_for(self.engine.dialect.name)(tree, id_column="entries.id")
            query = query.where(text(clause).bindparams(**params))
        if topics:
            query = query.where(entries.c.id.in_(select(matches.c.entry_id).where(matches.c.topic.in_(topics))))
        if carried_by:
            carried = (select(entry_sources.c.entry_id).join(sources, sources.c.id == entry_sources.c.source_id)
                       .where(sources.c.name.in_(carried_by)))
            query = query.where(entries.c.id.in_(carried))
        if since is not None:
            query = query.where(_when() >= since)
        if until is not None:
            query = query.where(_when() < until)
        # without article texts: a result list never shows them, and --stories reads 2,000 rows
        return self._rows(query.order_by(_when().desc(), entries.c.id.desc()).limit(limit), with_text=False)

    def _rows(self, id_query, conn: Connection | None = None, *,  # type: ignore[no-untyped-def]
              with_text: bool = True) -> list[EntryRow]:
        if conn is not None:
            return self._rows_on(conn, id_query, with_text)
        try:
            with self.engine.connect() as own:
                return self._rows_on(own, id_query, with_text)
        except SQLAlchemyError as exc:
            raise StoreError(f"database error while reading: {getattr(exc, 'orig', exc)}") from exc

    @staticmethod
    def _rows_on(conn: Connection, id_query, with_text: bool) -> list[EntryRow]:  # type: ignore[no-untyped-def]
        ids = [r[0] for r in conn.execute(id_query)]
        if not ids:
            return []
        columns: list[ColumnElement[Any]] = [c for c in entries.c if with_text or c.name != "text"]
        if not with_text:
            columns.append(literal("").label("text"))
        found = {r.id: r for r in conn.execute(
            select(*columns, sources.c.name.label("origin"))
            .join(sources, sources.c.id == entries.c.source_id).where(entries.c.id.in_(ids)))}
        topics: dict[int, list[str]] = defaultdict(list)
        why: dict[int, dict[str, list[dict[str, object]]]] = defaultdict(dict)
        for r in conn.execute(select(matches.c.entry_id, matches.c.topic, matches.c.terms)
                              .where(matches.c.entry_id.in_(ids)).order_by(matches.c.topic)):
            topics[r.entry_id].append(r.topic)
            why[r.entry_id][r.topic] = json.loads(r.terms) if r.terms else []
        carried: dict[int, list[str]] = defaultdict(list)
        for s in conn.execute(
                select(entry_sources.c.entry_id, sources.c.name)
                .join(sources, sources.c.id == entry_sources.c.source_id)
                .where(entry_sources.c.entry_id.in_(ids))
                .order_by(entry_sources.c.first_seen, sources.c.name)):
            carried[s.entry_id].append(s.name)
        return [
            EntryRow(i, found[i].title, found[i].url, found[i].summary, found[i].published_at,
                     found[i].first_seen, found[i].origin, tuple(carried[i]) or (found[i].origin,),
                     tuple(topics[i]), why[i], found[i].text, found[i].publisher)
            for i in ids
        ]

    def sources(self) -> list[SourceRow]:
        counts = (select(entry_sources.c.source_id, func.count().label("n"))
                  .group_by(entry_sources.c.source_id).subquery())
        query = (select(sources, func.coalesce(counts.c.n, 0).label("n"))
                 .outerjoin(counts, counts.c.source_id == sources.c.id).order_by(sources.c.name))
        with self.engine.connect() as conn:
            return [SourceRow(r.name, r.url, r.type, r.last_polled_at, r.last_status, r.last_error,
                              r.failing_since, r.consecutive_failures, r.n, r.id, r.next_poll_at, r.last_new_at,
                              r.layout_changed_at, r.disabled_at, r.disabled_reason) for r in conn.execute(query)]

    def by_ids(self, ids: list[int], *, conn: Connection | None = None) -> list[EntryRow]:
        """These entries, newest first (publication time, else first_seen)."""
        query = select(entries.c.id).where(entries.c.id.in_(ids)).order_by(_when().desc(), entries.c.id.desc())
        return self._rows(query, conn=conn)
