"""Daily maintenance: forget old unmatched entries, optimise the search index, prune sent mail
and article pages given up.

Matched entries are kept for good (they are what the digests were made of); an entry that
matched no topic is deleted once it was first seen longer ago than `retention` (365 days
by default). Its search-index row goes with it, so `monitor search` and a new topic only
reach back `retention` for unmatched material.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, text
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.store.article_queue import ArticleQueue
from monitor.store.db import writer
from monitor.store.outbox import Outbox
from monitor.store.schema import entries, matches

log = logging.getLogger("monitor.maintenance")
_BATCH = 500
SENT_MAIL_KEPT = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Report:
    deleted: int
    mail_pruned: int
    pages_given_up: int = 0  # article pages past their last try, taken off the queue


def run(engine: Engine, *, retention: timedelta, now: datetime) -> Report:
    deleted = _delete_unmatched(engine, now - retention)
    pruned = Outbox(engine).prune(now - SENT_MAIL_KEPT)
    pages = ArticleQueue(engine).expire(now)
    _optimise(engine)
    log.info("event=maintenance deleted=%d mail_pruned=%d article_pages_given_up=%d", deleted, pruned, pages)
    return Report(deleted, pruned, pages)


def _delete_unmatched(engine: Engine, before: datetime) -> int:
    """Delete in batches (short write transactions, so polls are not held up)."""
    total = 0
    old = (select(entries.c.id).where(entries.c.first_seen < before)
           .where(entries.c.id.not_in(select(matches.c.entry_id))).limit(_BATCH))
    try:
        while True:
            with writer(engine).begin() as conn:
                ids = [r[0] for r in conn.execute(old)]
                if not ids:
                    return total
                if conn.dialect.name == "sqlite":  # FTS5 rows have no foreign key to cascade
                    conn.execute(text("DELETE FROM entry_fts WHERE rowid IN (SELECT value FROM json_each(:ids))"),
                                 {"ids": "[" + ",".join(map(str, ids)) + "]"})
                conn.execute(delete(entries).where(entries.c.id.in_(ids)))
                total += len(ids)
    except SQLAlchemyError as exc:
        raise StoreError(f"database error during maintenance: {getattr(exc, 'orig', exc)}") from exc


def _optimise(engine: Engine) -> None:
    with writer(engine).begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("INSERT INTO entry_fts(entry_fts) VALUES ('optimize')"))
            conn.execute(text("PRAGMA optimize"))
