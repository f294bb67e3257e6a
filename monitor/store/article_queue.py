"""The article queue: entries whose article page is wanted, until it is fetched or given up.

Rows are written by the poll that stores the entries (``Archive.ingest``, same transaction)
and removed by the transaction that stores the text (``Archive.set_article``), so a page
interrupted by a shutdown or a crash is still wanted at the source's next poll. A page that
fails is tried again later, at most ``MAX_TRIES`` times in all. Newest first: a source that
brings more pages than a poll fetches would otherwise push today's behind a growing backlog;
what is still queued after ``MAX_AGE`` is given up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from monitor.store.db import database_error, writer
from monitor.store.schema import article_queue, entries

MAX_TRIES = 3
FIRST_RETRY = timedelta(minutes=10)  # then 20 minutes: a passing outage, not a lasting refusal
MAX_AGE = timedelta(days=1)  # a page still not fetched by then is given up (maintenance deletes it)


@dataclass(frozen=True, slots=True)
class Pending:
    entry_id: int
    url: str
    title: str
    summary: str
    published: datetime | None
    tries: int


class ArticleQueue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)

    def due(self, source_id: int, now: datetime, limit: int) -> list[Pending]:
        """The source's pages due now, newest first, less those queued more than ``MAX_AGE`` ago."""
        query = (select(article_queue.c.entry_id, article_queue.c.tries, entries.c.url, entries.c.title,
                        entries.c.summary, entries.c.published_at)
                 .join(entries, entries.c.id == article_queue.c.entry_id)
                 .where(article_queue.c.source_id == source_id, article_queue.c.next_try_at <= now,
                        article_queue.c.queued_at >= now - MAX_AGE)
                 .order_by(article_queue.c.queued_at.desc(), article_queue.c.entry_id.desc()).limit(limit))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise database_error(exc, "reading the article queue") from exc
        return [Pending(r.entry_id, r.url or "", r.title, r.summary, r.published_at, r.tries) for r in rows]

    def failed(self, pending: Pending, now: datetime) -> bool:
        """Count a failed try; True when the page is given up (after ``MAX_TRIES``)."""
        tries = pending.tries + 1
        row = article_queue.c.entry_id == pending.entry_id
        try:
            with self._writer.begin() as conn:
                if tries >= MAX_TRIES:
                    conn.execute(delete(article_queue).where(row))
                else:
                    conn.execute(update(article_queue).where(row).values(
                        tries=tries, next_try_at=now + FIRST_RETRY * 2 ** (tries - 1)))
        except SQLAlchemyError as exc:
            raise database_error(exc, "writing the article queue") from exc
        return tries >= MAX_TRIES

    def expire(self, now: datetime) -> int:
        """Delete the pages given up for age (and those of sources that no longer ask)."""
        try:
            with self._writer.begin() as conn:
                return int(conn.execute(delete(article_queue).where(article_queue.c.queued_at < now - MAX_AGE)).rowcount)
        except SQLAlchemyError as exc:
            raise database_error(exc, "writing the article queue") from exc

    def drop(self, entry_id: int) -> None:
        """The page has nothing to give (no text in it): not wanted any more."""
        try:
            with self._writer.begin() as conn:
                conn.execute(delete(article_queue).where(article_queue.c.entry_id == entry_id))
        except SQLAlchemyError as exc:
            raise database_error(exc, "writing the article queue") from exc
