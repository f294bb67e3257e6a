"""Immediate alerts: new matches of `alert: immediate` topics, mailed without waiting a day.

After a poll, new entries that match such a topic are queued (in the database, so a
restart loses nothing). The alert job sends one mail per topic with everything queued, at
most once per `alert_min_interval`, batching what arrives in between; the mail goes through
the outbox like the digest. The daily digest lists these entries as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import Config, TopicConfig
from monitor.core.digest import Item
from monitor.errors import StoreError
from monitor.render.email import compose_alert
from monitor.store.db import writer
from monitor.store.outbox import Outbox
from monitor.store.reading import Reader
from monitor.store.schema import alert_queue, alerts_sent, matches

log = logging.getLogger("monitor.alerts")


class Alerts:
    def __init__(self, engine: Engine, config: Config, reader: Reader, *, list_id: str, domain: str,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.config = config
        self.reader = reader
        self.list_id = list_id
        self.domain = domain
        self.clock = clock
        self.topics = [t for t in config.topics if t.alert == "immediate"]

    def queue(self, entry_ids: Sequence[int], now: datetime) -> int:
        """Queue the new entries that match an alerting topic; returns how many (entry, topic)."""
        if not self.topics or not entry_ids:
            return 0
        names = [t.name for t in self.topics]
        try:
            with self._writer.begin() as conn:
                rows = list(conn.execute(select(matches.c.topic, matches.c.entry_id)
                                         .where(matches.c.entry_id.in_(list(entry_ids)), matches.c.topic.in_(names))))
                queued = {(r.topic, r.entry_id) for r in conn.execute(
                    select(alert_queue.c.topic, alert_queue.c.entry_id).where(alert_queue.c.entry_id.in_(
                        list(entry_ids))))}
                fresh = [{"topic": r.topic, "entry_id": r.entry_id, "queued_at": now}
                         for r in rows if (r.topic, r.entry_id) not in queued]
                if fresh:
                    conn.execute(insert(alert_queue), fresh)
        except SQLAlchemyError as exc:
            raise StoreError(f"database error while queuing alerts: {getattr(exc, 'orig', exc)}") from exc
        return len(fresh)

    def flush(self) -> list[str]:
        """Turn queued matches into one outbox mail per topic whose interval has passed."""
        sent = []
        for topic in self.topics:
            if self._flush_topic(topic, self.clock()):
                sent.append(topic.name)
        return sent

    def _flush_topic(self, topic: TopicConfig, now: datetime) -> bool:
        email = self.config.digest.email
        recipients = topic.alert_to or (email.to if email else ())
        sender = email.sender if email else f"monitor@{self.domain}"
        with self._writer.begin() as conn:
            last = conn.execute(select(alerts_sent.c.last_sent_at).where(alerts_sent.c.topic == topic.name)).scalar()
            if last is not None and now - last < topic.alert_min_interval:
                return False
            ids = [r[0] for r in conn.execute(select(alert_queue.c.entry_id)
                                              .where(alert_queue.c.topic == topic.name))]
            if not ids:
                return False
            rows = self.reader.by_ids(ids, conn=conn)
            tz = ZoneInfo(self.config.timezone)
            items = [Item(r.title, r.url, r.sources, r.published.astimezone(tz) if r.published else None,
                          r.first_seen.astimezone(tz), r.topics) for r in rows]
            message = compose_alert(topic.heading, items, sender=sender, recipients=list(recipients),
                                    list_id=self.list_id, now=now, message_id_domain=self.domain)
            Outbox.enqueue(conn, key=f"alert:{topic.name}:{now.isoformat()}", kind="alert",
                           recipients=list(recipients), message=bytes(message), now=now)
            conn.execute(delete(alert_queue).where(alert_queue.c.topic == topic.name,
                                                   alert_queue.c.entry_id.in_(ids)))
            if last is None:
                conn.execute(insert(alerts_sent).values(topic=topic.name, last_sent_at=now))
            else:
                conn.execute(update(alerts_sent).where(alerts_sent.c.topic == topic.name).values(last_sent_at=now))
        log.info("event=alert_queued topic=%s entries=%d", topic.name, len(ids))
        return True
