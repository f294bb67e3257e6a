"""The archive's write side: sources, entries, sightings, matches and the search index.

Carries out the intents that monitor.core.intake decided, one poll in one transaction, in
batches (executemany), so a crash or a full disk leaves either the whole poll or none of
it. Returns plain values, never ORM objects.

Concurrent writers: on SQLite a poll's transaction takes the write lock first (store.db.writer),
so polls queue. On PostgreSQL several workers write at once, and two of them may both find
an article new (two polls of one feed, or two feeds carrying it): the entries are inserted
with ON CONFLICT (key) DO NOTHING, in key order, inside a savepoint. When a key was taken
meanwhile (the insert waits for the other transaction to commit, then skips the row), the
savepoint is rolled back, the keys are read again and the poll is planned again: the other
worker's row is now known, so this poll records a sighting (or nothing) instead of a second
row. Sightings are inserted with ON CONFLICT DO NOTHING for the same reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import NamedTuple

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError

from monitor.core.intake import Intents, Known
from monitor.core.matcher import Hit
from monitor.errors import StoreError
from monitor.store import pg_search
from monitor.store.db import database_error, enter_poll_write, writer
from monitor.store.schema import (
    alert_queue,
    article_queue,
    entries,
    entry_sources,
    matches,
    sources,
    topics_table,
)

log = logging.getLogger("monitor.archive")

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Indexed:
    """What the pipeline computed for one new or revised entry: its token text and topics."""

    tokens: tuple[str, ...]  # per field (title, summary, text), space-joined: the index's columns
    topics: tuple[str, ...]
    hits: Mapping[str, tuple[Hit, ...]] = field(default_factory=dict)  # topic -> why it matched


def terms_json(hits: Sequence[Hit]) -> str:
    """Why an entry matched a topic, as stored in matches.terms: [{"term": ..., "in": [...]}]."""
    return json.dumps([{"term": h.term, "in": list(h.fields)} for h in hits], ensure_ascii=False)


@dataclass(slots=True)
class Plan:
    """What the pipeline decided for one poll, given what the archive knew."""

    intents: Intents
    new: Mapping[str, Indexed] = field(default_factory=dict)
    revised: Mapping[int, Indexed] = field(default_factory=dict)
    articles: frozenset[str] = frozenset()  # keys of new entries whose article page is wanted


TextReader = Callable[[Sequence[int]], Mapping[int, str]]  # entry ids -> stored article text
Planner = Callable[[dict[str, Known], TextReader], Plan]


@dataclass(frozen=True, slots=True)
class Applied:
    new: int
    revised: int
    matched: int
    new_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PollRecord:
    status: str  # ok | not_modified | error
    error: str | None = None  # with ok: what was wrong with a document read anyway (a warning)
    etag: str | None = None
    last_modified: str | None = None
    disable: str | None = None  # error only: stop polling until the config entry's fingerprint is not this
    items: int | None = None  # ok, html sources: items the page held (0 after some: a layout change)
    reading: str = ""  # ok: the selectors the page was read with (SourceConfig.reading), kept with its validators


class ArticleStored(NamedTuple):
    added: tuple[str, ...]  # topics the entry matches only now
    first_match: bool  # it matched no topic before its text came


def _fresh(published: datetime | None, since: datetime | None) -> bool:
    """Whether an entry is news enough to alert: not published before `since` (the digest's own
    floor, monitor.core.digest.alert_floor: a source added today brings its months-old items as
    new entries)."""
    return since is None or published is None or published >= since


def _queue_alerts(conn: Connection, new: Sequence[tuple[int, Sequence[str]]], alert_topics: Collection[str],
                  now: datetime) -> None:
    """Queue (topic, entry) pairs for their alert; one already waiting stays as it is."""
    rows = [{"topic": t, "entry_id": i, "queued_at": now} for i, topics in new for t in topics if t in alert_topics]
    if not rows:
        return
    waiting = {(r[0], r[1]) for r in conn.execute(select(alert_queue.c.topic, alert_queue.c.entry_id)
                                                  .where(alert_queue.c.entry_id.in_({r["entry_id"] for r in rows})))}
    rows = [r for r in rows if (r["topic"], r["entry_id"]) not in waiting]
    if rows:
        conn.execute(insert(alert_queue), rows)


def _disown_changed_topics(conn: Connection, queries: Mapping[str, str]) -> None:
    """A topic whose query another process changed (a one-shot command with an edited config),
    or added, while this one matches with the old query or without the topic: what this poll
    stores is matched by the old rules, so the topic is no longer recorded as matched as
    configured. The next `poll`, `digest`, start of `run` or `topics rematch` then matches the
    whole archive against the query in force, and this poll's matches are put right. (A topic
    added during a rolling restart missed for good what the workers not yet restarted stored.)"""
    stored = dict(conn.execute(select(topics_table.c.name, topics_table.c.query)).all())
    stale = sorted(name for name, query in stored.items() if query != queries.get(name))
    if stale:
        conn.execute(delete(topics_table).where(topics_table.c.name.in_(stale)))
        log.warning("event=topic_changed_elsewhere topics=%s: this process matches by an older query; "
                    "the next start matches the archive again", ",".join(stale))


def _queue_articles(conn: Connection, new: Sequence[tuple[int, Sequence[str]]], source_id: int,
                    now: datetime) -> None:
    if new:
        conn.execute(insert(article_queue), [{"entry_id": i, "source_id": source_id, "queued_at": now, "tries": 0,
                                              "next_try_at": now, "matched": json.dumps(sorted(topics))}
                                             for i, topics in new])


def _layout(conn: Connection, source_id: int, items: int, now: datetime) -> dict[str, object]:
    """An html page whose selectors match nothing where they matched before: the layout changed."""
    row = conn.execute(select(sources.c.last_items, sources.c.layout_changed_at)
                       .where(sources.c.id == source_id)).one()
    values: dict[str, object] = {"last_items": items}
    if items == 0 and (row.last_items or 0) > 0:
        values["layout_changed_at"] = row.layout_changed_at or now
    elif items > 0:
        values["layout_changed_at"] = None
    return values


# What enabling a source resets: due at once, failures forgotten.
_ENABLED: dict[str, object] = {"disabled_at": None, "disabled_reason": None, "disabled_config": None,
                               "next_poll_at": None, "consecutive_failures": 0, "failing_since": None}


class Archive:
    """Write access to the archive for the pipeline and the CLI."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.clock = clock  # read again once a poll holds its lock: see ingest

    def sync_sources(self, configured: Iterable[tuple[str, str, str, str, str]],
                     latest: Mapping[str, datetime] | None = None) -> dict[str, int]:
        """Make a row for every configured (name, url, type, fingerprint, reading); return name -> id.

        A source disabled (410 Gone) under another fingerprint of its config entry is enabled again:
        the user edited it, most likely to give its new address. A new address is polled at once,
        its failures forgotten. New selectors (``reading``) are polled at once, unless the source
        is backing off (``validators`` leaves out what the old ones earned: a 304 would have kept
        their result; the reading is recorded by the poll that reads with it, so a process still
        running the old config cannot earn validators the new one then trusts). Either way the
        page's item count stays, so a new address or selector that matches nothing where the old
        matched is flagged.
        ``latest``: name -> the latest next poll its interval allows now; a healthy source
        scheduled later (its interval was shortened) is due by then.
        """
        try:
            with self._writer.begin() as conn:
                rows = {r.name: r for r in conn.execute(select(
                    sources.c.id, sources.c.name, sources.c.url, sources.c.type, sources.c.disabled_at,
                    sources.c.disabled_config, sources.c.next_poll_at, sources.c.consecutive_failures,
                    sources.c.reading))}
                # Existing rows in id order (two workers starting together lock them alike), new ones last.
                ordered = sorted(configured, key=lambda c: (c[0] not in rows, rows[c[0]].id if c[0] in rows else 0))
                for name, url, kind, fingerprint, reading in ordered:
                    row = rows.get(name)
                    if row is None:
                        add = insert(sources)
                        if conn.dialect.name == "postgresql":  # another worker may be adding it now
                            add = postgresql.insert(sources).on_conflict_do_nothing(index_elements=["name"])
                        conn.execute(add.values(name=name, url=url, type=kind, consecutive_failures=0))
                        continue
                    if (row.url, row.type) != (url, kind):
                        # A new address is a new resource: forget the old one's validators and back-off.
                        conn.execute(update(sources).where(sources.c.id == row.id).values(
                            url=url, type=kind, etag=None, last_modified=None, next_poll_at=None,
                            consecutive_failures=0, failing_since=None))
                    elif (row.reading or "") != reading and not row.consecutive_failures and row.next_poll_at:
                        conn.execute(update(sources).where(sources.c.id == row.id).values(next_poll_at=None))
                    elif latest and name in latest and row.next_poll_at and not row.consecutive_failures \
                            and row.next_poll_at > latest[name]:
                        conn.execute(update(sources).where(sources.c.id == row.id).values(next_poll_at=latest[name]))
                    if row.disabled_at is not None and row.disabled_config != fingerprint:
                        conn.execute(update(sources).where(sources.c.id == row.id).values(**_ENABLED))
                return {r.name: r.id for r in conn.execute(select(sources.c.id, sources.c.name))}
        except SQLAlchemyError as exc:
            raise database_error(exc, "recording sources") from exc

    def enable(self, name: str) -> str | None:
        """Poll a disabled source again, at once; returns why it was disabled (None: it was not)."""
        try:
            with self._writer.begin() as conn:
                reason = conn.execute(select(sources.c.disabled_reason).where(
                    sources.c.name == name, sources.c.disabled_at.is_not(None))).scalar_one_or_none()
                if reason is not None:
                    conn.execute(update(sources).where(sources.c.name == name).values(**_ENABLED))
        except SQLAlchemyError as exc:
            raise database_error(exc, "enabling a source") from exc
        return reason

    def disabled(self) -> dict[str, str]:
        """Name -> reason of every disabled source."""
        try:
            with self.engine.connect() as conn:
                return {r.name: r.disabled_reason or "disabled" for r in conn.execute(
                    select(sources.c.name, sources.c.disabled_reason).where(sources.c.disabled_at.is_not(None)))}
        except SQLAlchemyError as exc:
            raise database_error(exc, "reading sources") from exc

    def validators(self, source_id: int, reading: str = "") -> tuple[str | None, str | None]:
        """The ETag and Last-Modified of the source's last full read, when it was read with these
        selectors (``reading``); none when with others: a 304 would keep the old selectors' result."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(sources.c.etag, sources.c.last_modified, sources.c.reading)
                                   .where(sources.c.id == source_id)).one()
        except SQLAlchemyError as exc:
            raise database_error(exc, "reading a source") from exc
        if (row.reading or "") != reading:
            return None, None
        return row.etag, row.last_modified

    @staticmethod
    def _known(conn: Connection, source_id: int, keys: Sequence[str]) -> dict[str, Known]:
        """What the archive holds for these keys, and whether this source carried them."""
        found: dict[str, Known] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i:i + _CHUNK]
            seen = entry_sources.alias("seen")
            query = (
                select(entries.c.id, entries.c.key, entries.c.source_id, entries.c.title,
                       entries.c.summary, entries.c.published_at, seen.c.source_id.label("seen"))
                .outerjoin(seen, and_(seen.c.entry_id == entries.c.id, seen.c.source_id == source_id))
                .where(entries.c.key.in_(chunk))
            )
            for r in conn.execute(query):
                found[r.key] = Known(r.id, r.source_id, r.title, r.summary, r.published_at, r.seen is not None)
        return found

    @staticmethod
    def _texts(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        """The stored article texts of these entries, those that have one."""
        found: dict[int, str] = {}
        for i in range(0, len(ids), _CHUNK):
            query = select(entries.c.id, entries.c.text).where(entries.c.id.in_(ids[i:i + _CHUNK]),
                                                                entries.c.text != "")
            found.update((r.id, r.text) for r in conn.execute(query))
        return found

    def ingest(self, source_id: int, keys: Sequence[str], plan: Planner, *,
               now: datetime, record: PollRecord, alert_topics: Collection[str] = (),
               alert_since: datetime | None = None, queries: Mapping[str, str] | None = None) -> Applied:
        """Look the keys up, let `plan` decide, store the result and the poll record: all in
        one write transaction, so a crash or a full disk keeps the whole poll or none of it.

        New entries matching an `alert: immediate` topic are queued for its alert in the same
        transaction: a crash after the commit cannot store an entry and lose its alert (unless
        published before `alert_since`: old news is no alert). `plan`
        gets what the archive knows of the keys and a reader of stored article texts (a revised
        entry is indexed and matched again with its text, which the feed does not carry).
        `queries`, the topic queries `plan` matches with, are checked against those the archive
        was last matched against (see _disown_changed_topics)."""
        try:
            with self._writer.begin() as conn:
                enter_poll_write(conn)
                if self.clock is not None:
                    # Stamped once the lock is held (SQLite's write lock, PostgreSQL's poll fence): a
                    # digest made while this poll waited saw none of it, so it must count as later.
                    now = max(now, self.clock())
                if conn.dialect.name == "sqlite":  # the write lock is held: nobody else inserts
                    decided = plan(self._known(conn, source_id, keys), partial(self._texts, conn))
                    new_ids = self._insert_new(conn, source_id, decided.intents, decided.new, now)
                    add_sightings = insert(entry_sources)
                else:
                    decided, new_ids = self._insert_new_concurrently(conn, source_id, keys, plan, now)
                    add_sightings = postgresql.insert(entry_sources).on_conflict_do_nothing()
                intents = decided.intents
                newly_matched = self._revise(conn, intents, decided.revised, now, alert_topics, alert_since)
                if intents.sightings:
                    conn.execute(add_sightings,
                                 [{"entry_id": i, "source_id": source_id, "first_seen": now}
                                  for i in intents.sightings])
                self._record(conn, source_id, record, now, new=len(new_ids))
                if queries is not None:
                    _disown_changed_topics(conn, queries)
                stored = list(zip(new_ids, intents.new, strict=True))  # (entry id, draft) of each new entry
                _queue_articles(conn, [(i, decided.new[e.key].topics) for i, e in stored if e.key in decided.articles],
                                source_id, now)
                if alert_topics:
                    _queue_alerts(conn, [(i, decided.new[e.key].topics) for i, e in stored
                                         if _fresh(e.published, alert_since)], alert_topics, now)
        except SQLAlchemyError as exc:
            raise database_error(exc, "storing a poll") from exc
        # new entries that match, and revised ones that match a topic they did not: a revised date
        # of an entry that matched already is no news ("1 new, 4 matched" read as nonsense)
        matched = sum(1 for e in intents.new if decided.new[e.key].topics) + newly_matched
        return Applied(len(new_ids), len(intents.revisions), matched, tuple(new_ids))

    def _insert_new(self, conn: Connection, source_id: int, intents: Intents,
                    new: Mapping[str, Indexed], now: datetime) -> list[int]:
        if not intents.new:
            return []
        rows = [{"key": e.key, "url": e.url, "guid": e.guid, "title": e.title, "summary": e.summary, "publisher": e.publisher,
                 "published_at": e.published, "first_seen": now, "updated_at": now, "source_id": source_id}
                for e in intents.new]
        result = conn.execute(insert(entries).returning(entries.c.id, sort_by_parameter_order=True), rows)
        ids = [r.id for r in result]
        conn.execute(insert(entry_sources),
                     [{"entry_id": i, "source_id": source_id, "first_seen": now} for i in ids])
        indexed = [(i, new[e.key]) for i, e in zip(ids, intents.new, strict=True)]
        self._index(conn, indexed, now)
        return ids

    def _insert_new_concurrently(self, conn: Connection, source_id: int, keys: Sequence[str],
                                 plan: Planner, now: datetime) -> tuple[Plan, list[int]]:
        """PostgreSQL: plan and insert the new entries while other workers may insert the same keys.

        Ends when every entry planned as new got its row; each retry knows at least one more
        key (one committed by another worker, never deleted), so there are at most len(keys).
        Rows go in key order, so two workers inserting overlapping keys wait for each other in
        one order and never deadlock; their ids are taken from the sequence first, in document
        order, as on SQLite (ties in "newest first" are broken by id).
        """
        for _ in range(len(set(keys)) + 1):
            decided = plan(self._known(conn, source_id, keys), partial(self._texts, conn))
            new = decided.intents.new
            if not new:
                return decided, []
            ids = sorted(r[0] for r in conn.execute(
                select(func.nextval(func.pg_get_serial_sequence("entries", "id")))
                .select_from(func.generate_series(1, len(new)))))
            rows = sorted(({"id": i, "key": e.key, "url": e.url, "guid": e.guid, "title": e.title,
                            "summary": e.summary, "publisher": e.publisher, "published_at": e.published, "first_seen": now,
                            "updated_at": now, "source_id": source_id} for i, e in zip(ids, new, strict=True)),
                          key=lambda row: row["key"])
            attempt = conn.begin_nested()
            stored = conn.execute(postgresql.insert(entries).on_conflict_do_nothing(index_elements=["key"])
                                  .returning(entries.c.id), rows).all()
            if len(stored) == len(rows):
                attempt.commit()
                conn.execute(insert(entry_sources),
                             [{"entry_id": i, "source_id": source_id, "first_seen": now} for i in ids])
                self._index(conn, [(i, decided.new[e.key]) for i, e in zip(ids, new, strict=True)], now)
                return decided, ids
            attempt.rollback()  # another worker stored some of these keys: plan again, knowing them
        raise StoreError("database error while storing a poll: other writers kept inserting its entries")

    def _revise(self, conn: Connection, intents: Intents, revised: Mapping[int, Indexed], now: datetime,
                alert_topics: Collection[str] = (), alert_since: datetime | None = None) -> int:
        """Store the revisions and match them again; returns how many now match a topic they did not.

        A revised title or summary can make an entry that matched nothing match (Son speaks at
        Tokyo event -> Son: Stargate Japan to break ground): its first_seen may lie in a digest
        already made, so, as for a match by its article text, ``late_match_at`` stamps when the
        digest counts it, and it is queued for its topics' alerts. Once only: an entry that loses its
        matches by a revision is stamped as counted when first seen (it was, in that digest), so
        one retitled back and forth is neither alerted nor listed again."""
        if not intents.revisions:
            return 0
        ids = [r.entry_id for r in intents.revisions]
        before: dict[int, set[str]] = {}
        for entry_id, topic in conn.execute(select(matches.c.entry_id, matches.c.topic).where(matches.c.entry_id.in_(ids))):
            before.setdefault(entry_id, set()).add(topic)
        first_seen = {r.id: r.first_seen for r in conn.execute(
            select(entries.c.id, entries.c.first_seen).where(entries.c.id.in_(ids), entries.c.late_match_at.is_(None)))}
        late: list[int] = []
        # In id order: two PostgreSQL workers revising the same entries lock their rows in one order.
        for r in sorted(intents.revisions, key=lambda r: r.entry_id):
            values: dict[str, object] = {"title": r.title, "summary": r.summary, "published_at": r.published,
                                         "updated_at": now}
            if r.entry_id in first_seen:  # never counted by late_match_at yet
                if revised[r.entry_id].topics and r.entry_id not in before:
                    values["late_match_at"] = now
                    late.append(r.entry_id)
                elif not revised[r.entry_id].topics and r.entry_id in before:
                    values["late_match_at"] = first_seen[r.entry_id]
            conn.execute(update(entries).where(entries.c.id == r.entry_id).values(**values))
        conn.execute(delete(matches).where(matches.c.entry_id.in_(ids)))
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"DELETE FROM entry_fts WHERE rowid IN ({','.join('?' * len(ids))})",
                                 tuple(ids))
        else:
            pg_search.delete_index(conn, ids)
        self._index(conn, [(i, revised[i]) for i in ids], now)
        published = {r.entry_id: r.published for r in intents.revisions}
        if alert_topics and late:
            _queue_alerts(conn, [(i, revised[i].topics) for i in late if _fresh(published[i], alert_since)],
                          alert_topics, now)
        return sum(1 for i in ids if not set(revised[i].topics) <= before.get(i, set()))

    def set_article(self, entry_id: int, *, text: str, summary: str, published: datetime | None,
                    indexed: Indexed, now: datetime, alert_topics: Collection[str] = (),
                    alert_since: datetime | None = None) -> ArticleStored | None:
        """Store a queued entry's article text (and the summary/date the feed lacked), index it
        and record its matches again, in one transaction that takes the entry off the article
        queue; returns the topics it matches only now and whether it matched none before (the
        poll tells them), or None, storing nothing, when it is no longer queued (another worker
        stored it, or it was given up). `first_seen` is untouched.

        The page comes after the poll's transaction, paced, so the digest of the entry's
        first_seen may be made already: an entry that matched nothing when stored, nor since,
        and matches now gets `late_match_at`, the time the digest counts it at, stamped under
        the poll fence like a poll (a digest that read before this wrote counts it in its next
        window). Topics it matches only now are queued for their `alert: immediate` alert."""
        try:
            with self._writer.begin() as conn:
                enter_poll_write(conn)
                claimed = conn.execute(delete(article_queue).where(article_queue.c.entry_id == entry_id)
                                       .returning(article_queue.c.matched)).first()
                if claimed is None:
                    return None
                if self.clock is not None:
                    now = max(now, self.clock())
                before = set(json.loads(claimed.matched)) | {
                    r[0] for r in conn.execute(select(matches.c.topic).where(matches.c.entry_id == entry_id))}
                counted = conn.execute(select(entries.c.late_match_at).where(entries.c.id == entry_id)).scalar()
                values: dict[str, object] = {"text": text, "summary": summary, "published_at": published,
                                             "updated_at": now}
                if not before and indexed.topics and counted is None:
                    values["late_match_at"] = now
                conn.execute(update(entries).where(entries.c.id == entry_id).values(**values))
                conn.execute(delete(matches).where(matches.c.entry_id == entry_id))
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("DELETE FROM entry_fts WHERE rowid = ?", (entry_id,))
                else:
                    pg_search.delete_index(conn, [entry_id])
                self._index(conn, [(entry_id, indexed)], now)
                added = tuple(t for t in indexed.topics if t not in before)
                if _fresh(published, alert_since):
                    _queue_alerts(conn, [(entry_id, list(added))], alert_topics, now)
        except SQLAlchemyError as exc:
            raise database_error(exc, "storing article text") from exc
        return ArticleStored(added, not before and bool(indexed.topics))

    @staticmethod
    def _index(conn: Connection, indexed: list[tuple[int, Indexed]], now: datetime) -> None:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("INSERT INTO entry_fts(rowid, title, summary, text) VALUES (?, ?, ?, ?)",
                                 [(i, *x.tokens) for i, x in indexed])
        else:
            pg_search.write_index(conn, [(i, x.tokens) for i, x in indexed])
        rows = [{"entry_id": i, "topic": t, "matched_at": now, "terms": terms_json(x.hits.get(t, ()))}
                for i, x in indexed for t in x.topics]
        if rows:
            conn.execute(insert(matches), rows)

    def record_poll(self, source_id: int, record: PollRecord, now: datetime) -> None:
        """Record a poll that stored nothing (a 304, or an error)."""
        try:
            with self._writer.begin() as conn:
                self._record(conn, source_id, record, now)
        except SQLAlchemyError as exc:
            raise database_error(exc, "recording a poll") from exc

    @staticmethod
    def _record(conn: Connection, source_id: int, record: PollRecord, now: datetime, *, new: int = 0) -> None:
        """The poll's facts for the schedule and health: status, errors, validators, items, news."""
        values: dict[str, object] = {"last_polled_at": now, "last_status": record.status}
        if new > 0:
            values["last_new_at"] = now
        if record.items is not None:
            values.update(_layout(conn, source_id, record.items, now))
        if record.status == "error":
            current = conn.execute(select(sources.c.consecutive_failures, sources.c.failing_since)
                                   .where(sources.c.id == source_id)).one()
            values.update(last_error=record.error, consecutive_failures=current.consecutive_failures + 1,
                          failing_since=current.failing_since or now)
            if record.disable is not None:
                values.update(disabled_at=now, disabled_reason=record.error, disabled_config=record.disable)
        else:
            values.update(last_error=record.error, last_success_at=now, consecutive_failures=0, failing_since=None)
            if record.status == "ok":
                values.update(etag=record.etag, last_modified=record.last_modified, reading=record.reading)
        conn.execute(update(sources).where(sources.c.id == source_id).values(**values))
