"""Topics a user can tune: counts, trying a query on the archive, re-matching after a change.

`test` runs a topic or a draft query over the archive and says which terms hit, before the
user changes the config. `sync` (at the start of `monitor run`, `monitor poll` and `monitor
digest`, and by `monitor topics rematch`) finds topics whose query differs from the one the
archive was last matched against, and matches the whole archive again for them: matches that
still hold keep their time, new ones are recorded now, lost ones are removed; the matches of
a topic no longer configured are removed. `first_seen` never changes,
so a re-match never puts old entries into a digest, and alerts are only for new entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import Config
from monitor.core.matcher import Hit
from monitor.core.query import Node, parse
from monitor.core.topics import TopicSet
from monitor.store.archive import terms_json
from monitor.store.db import database_error, writer
from monitor.store.fts import where_clause_for
from monitor.store.reading import EntryRow, Reader
from monitor.store.schema import alert_queue, entries, matches, topics_table

log = logging.getLogger("monitor.topics")
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Rematched:
    topic: str
    matched: int
    added: int
    removed: int


class TopicService:
    def __init__(self, engine: Engine, config: Config, reader: Reader, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.config = config
        self.reader = reader
        self.clock = clock

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(matches.c.topic, func.count()).group_by(matches.c.topic)).all())

    def test(self, tree: Node, *, since: datetime | None = None, limit: int = 50) -> tuple[int, list[tuple[EntryRow, tuple[Hit, ...]]]]:
        """What `tree` matches in the archive (newest first, at most `limit`), with the terms; and the total."""
        ids = self._candidates(tree, since)
        rows = self.reader.by_ids(ids[:limit]) if ids else []
        checker = TopicSet([("draft", tree)])
        out = []
        for row in rows:
            analysed = checker.analyse(row.title, row.summary, row.text)
            out.append((row, analysed.hits.get("draft", ())))
        return len(ids), out

    def sync(self, *, forget: bool = True) -> list[Rematched]:
        """Re-match the topics whose query changed since the archive was last matched, and forget
        the matches of topics no longer configured (a renamed topic is a new one: its old name's
        matches would otherwise show in search for good and keep their entries from retention).
        ``forget=False``: only the re-matching (what a digest needs)."""
        try:
            changed, _ = self.stale()
            forgotten = self._tidy() if forget else []
            return [self._rematch(t, self.config.topic(t).query) for t in changed] + forgotten
        except SQLAlchemyError as exc:
            raise database_error(exc, "matching the archive against changed topics") from exc

    def stale(self, *, thorough: bool = False) -> tuple[list[str], list[str]]:
        """(configured topics the archive was not matched against as they are now, stored topics
        no longer configured). ``thorough`` also looks for matches of topics never recorded as
        matched (archives from before the topics table): a scan of the matches, so not for reads."""
        with self.engine.connect() as conn:
            stored = dict(conn.execute(select(topics_table.c.name, topics_table.c.query)).all())
            matched = {r[0] for r in conn.execute(select(matches.c.topic).distinct())} if thorough else set()
        configured = {t.name for t in self.config.topics}
        changed = [t.name for t in self.config.topics if stored.get(t.name) != t.query]
        return changed, sorted((stored.keys() | matched) - configured)

    def _tidy(self) -> list[Rematched]:
        """Forget the topics no longer configured, and drop the queued alerts of every topic that
        does not alert (theirs included)."""
        forgotten = [self._forget(t) for t in self.stale(thorough=True)[1]]
        self._drop_alerts_of_quiet_topics()
        return forgotten

    def _drop_alerts_of_quiet_topics(self) -> None:
        """Alerts queued for a topic that no longer alerts would go out, stale, if it ever did again."""
        alerting = [t.name for t in self.config.alerting]
        quiet = alert_queue.c.topic.not_in(alerting)
        with self.engine.connect() as conn:  # a read first: most polls have nothing to drop, and need no write lock
            if conn.execute(select(alert_queue.c.topic).where(quiet).limit(1)).first() is None:
                return
        with writer(self.engine).begin() as conn:
            dropped = conn.execute(delete(alert_queue).where(quiet)).rowcount
        if dropped:
            log.info("event=alerts_dropped reason=topic_not_alerting count=%d", dropped)

    def _forget(self, name: str) -> Rematched:
        with writer(self.engine).begin() as conn:
            _lock_topics(conn)
            removed = conn.execute(delete(matches).where(matches.c.topic == name)).rowcount
            conn.execute(delete(topics_table).where(topics_table.c.name == name))
        log.info("event=topic_forgotten topic=%s removed=%d", name, removed)
        return Rematched(name, 0, 0, removed)

    def rematch(self, names: Sequence[str] | None = None) -> list[Rematched]:
        """Match the archive again for the named topics; without names, for all, and forget the
        topics no longer configured."""
        chosen = [t for t in self.config.topics if names is None or t.name in names]
        forgotten = self._tidy() if names is None else []
        return [self._rematch(t.name, t.query, force=True) for t in chosen] + forgotten

    def _rematch(self, name: str, query: str, force: bool = False) -> Rematched:
        tree = parse(query)
        checker = TopicSet([(name, tree)])
        now = self.clock()
        with writer(self.engine).begin() as conn:
            _lock_topics(conn)
            done = conn.execute(select(topics_table.c.query).where(topics_table.c.name == name)).scalar()
            if done == query and not force:  # another worker re-matched it meanwhile
                return Rematched(name, 0, 0, 0)
            ids = self._candidates(tree, None, conn=conn)
            hits: dict[int, str] = {}
            for i in range(0, len(ids), _BATCH):
                rows = conn.execute(select(entries.c.id, entries.c.title, entries.c.summary, entries.c.text)
                                    .where(entries.c.id.in_(ids[i:i + _BATCH])))
                for r in rows:
                    found = checker.analyse(r.title, r.summary, r.text or "").hits.get(name)
                    if found is not None:  # the index and the matcher agree by construction
                        hits[r.id] = terms_json(found)
            old = {r[0] for r in conn.execute(select(matches.c.entry_id).where(matches.c.topic == name))}
            gone = sorted(old - hits.keys())
            for i in range(0, len(gone), _BATCH):
                conn.execute(delete(matches).where(matches.c.topic == name, matches.c.entry_id.in_(gone[i:i + _BATCH])))
            added = [{"entry_id": e, "topic": name, "matched_at": now, "terms": t}
                     for e, t in hits.items() if e not in old]
            if added:
                conn.execute(insert(matches), added)
            for e in old & hits.keys():
                conn.execute(update(matches).where(matches.c.topic == name, matches.c.entry_id == e)
                             .values(terms=hits[e]))
            if conn.execute(select(topics_table.c.name).where(topics_table.c.name == name)).first():
                conn.execute(update(topics_table).where(topics_table.c.name == name)
                             .values(query=query, matched_at=now))
            else:
                conn.execute(insert(topics_table).values(name=name, query=query, matched_at=now))
        log.info("event=rematch topic=%s matched=%d added=%d removed=%d", name, len(hits), len(added), len(gone))
        return Rematched(name, len(hits), len(added), len(gone))

    def _candidates(self, tree: Node, since: datetime | None, conn=None) -> list[int]:  # type: ignore[no-untyped-def]
        clause, params = where_clause_for(self.engine.dialect.name)(tree, id_column="entries.id")
        when = func.coalesce(entries.c.published_at, entries.c.first_seen)
        query = select(entries.c.id).where(text(clause).bindparams(**params)).order_by(when.desc(), entries.c.id.desc())
        if since is not None:
            query = query.where(when >= since)
        if conn is not None:
            return [r[0] for r in conn.execute(query)]
        with self.engine.connect() as own:
            return [r[0] for r in own.execute(query)]


def _lock_topics(conn: Connection) -> None:
    """One change of topics at a time across PostgreSQL workers (SQLite's writer holds the write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('monitor.topics.rematch'))"))
