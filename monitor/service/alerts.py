"""Immediate alerts: new matches of `alert: immediate` topics, mailed without waiting a day.

New entries that match such a topic are queued by the poll that stores them, in the same
transaction (monitor.store.archive), so a crash or restart loses nothing. The alert job sends
one mail per topic with everything queued, at most once per `alert_min_interval`, batching what
arrives in between; the mail goes through the outbox like the digest. The daily digest lists these entries as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, text, update

from monitor.config import Config, TopicConfig
from monitor.core.digest import Item
from monitor.render.email import compose_alert
from monitor.store.db import writer
from monitor.store.outbox import Outbox
from monitor.store.reading import Reader
from monitor.store.schema import alert_queue, alerts_sent

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
        self.topics = config.alerting

    def flush(self) -> list[str]:
        """Turn queued matches into one outbox mail per topic whose interval has passed; returns
        the outbox keys of the mails queued."""
        return [key for topic in self.topics if (key := self._flush_topic(topic, self.clock()))]

    def _flush_topic(self, topic: TopicConfig, now: datetime) -> str | None:
        email = self.config.digest.email
        recipients = topic.alert_to or (email.to if email else ())
        sender = email.sender if email else f"monitor@{self.domain}"
        with self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several workers flush alike: the second waits for the first and then finds the
                # interval not passed and the queue empty, instead of mailing the same matches.
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                             {"key": f"monitor.alerts:{topic.name}"})
            last = conn.execute(select(alerts_sent.c.last_sent_at).where(alerts_sent.c.topic == topic.name)).scalar()
            if last is not None and now - last < topic.alert_min_interval:
                return None
            ids = [r[0] for r in conn.execute(select(alert_queue.c.entry_id)
                                              .where(alert_queue.c.topic == topic.name))]
            if not ids:
                return None
            rows = self.reader.by_ids(ids, conn=conn)
            tz = self.config.tz
            items = [Item(r.title, r.url, r.sources, r.published.astimezone(tz) if r.published else None,
                          r.first_seen.astimezone(tz), r.topics,
                          tuple(str(h["term"]) for h in r.why.get(topic.name, ()))) for r in rows]  # as the digest says why
            message = compose_alert(topic.heading, items, sender=sender, recipients=list(recipients),
                                    list_id=self.list_id, now=now, message_id_domain=self.domain)
            key = f"alert:{topic.name}:{now.isoformat()}"
            Outbox.enqueue(conn, key=key, kind="alert",
                           recipients=list(recipients), message=bytes(message), now=now)
            conn.execute(delete(alert_queue).where(alert_queue.c.topic == topic.name,
                                                   alert_queue.c.entry_id.in_(ids)))
            if last is None:
                conn.execute(insert(alerts_sent).values(topic=topic.name, last_sent_at=now))
            else:
                conn.execute(update(alerts_sent).where(alerts_sent.c.topic == topic.name).values(last_sent_at=now))
        log.info("event=alert_queued topic=%s entries=%d", topic.name, len(ids))
        return key
