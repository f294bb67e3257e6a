"""Composition root: builds the store, fetcher, topics and clock from the settings.

The only module that knows every part; commands and the service ask it for what they need.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, partial

from sqlalchemy import Engine

from monitor.config import Config, SourceConfig
from monitor.core.digest import Digest, alert_floor, day_being_gathered, published_floor
from monitor.core.schedule import after_success
from monitor.core.topics import TopicSet
from monitor.deliver.smtp import SmtpSettings
from monitor.errors import ConfigError, MonitorError
from monitor.net.fetcher import Fetcher, FetchSettings
from monitor.net.robots import RobotsPolicy
from monitor.service.alerts import Alerts
from monitor.service.articles import Articles
from monitor.service.digests import DigestService, make_digest
from monitor.service.google_links import GOOGLE_HOSTS, GoogleLinks
from monitor.service.mailer import Delivery, Mailer
from monitor.service.pipeline import Pipeline
from monitor.service.poll import Outcome, Poller
from monitor.service.topics import TopicService
from monitor.service.worker import Worker, next_poll
from monitor.store.archive import Archive
from monitor.store.db import ensure_current, open_engine
from monitor.store.digest_log import DigestLog
from monitor.store.outbox import Outbox
from monitor.store.reading import Reader
from monitor.store.schedule import Schedule

log = logging.getLogger("monitor.app")


def _open(config: Config) -> Engine:
    """The engine, with a missing driver or an impossible path reported as a config error."""
    try:
        return open_engine(config.database_url, file_mode=config.file_mode)
    except ImportError as exc:
        raise ConfigError(f"{config.path}: database: the driver for {config.database.split(':')[0]!r} is not "
                          f"installed ({exc.name}); for PostgreSQL: pip install 'monitor[postgres]'") from exc
    except OSError as exc:
        raise ConfigError(f"{config.path}: database: cannot create the database there: {exc}") from exc


def utc_now() -> datetime:
    return datetime.now(UTC)


class App:
    def __init__(self, config: Config, *, clock: Callable[[], datetime] = utc_now,
                 google_hosts: tuple[str, ...] = GOOGLE_HOSTS) -> None:
        self.config = config
        self.clock = clock
        self.google_hosts = google_hosts  # tests point this at their local "Google"
        self.engine = _open(config)
        ensure_current(self.engine)
        self.archive = Archive(self.engine, clock=clock)
        self.reader = Reader(self.engine)

    @cached_property
    def topics(self) -> TopicSet:
        return TopicSet([(t.name, t.tree) for t in self.config.topics])

    @cached_property
    def source_ids(self) -> dict[str, int]:
        now = self.clock()  # a shortened `every` takes effect now, not after the old interval
        return self.archive.sync_sources(((s.name, s.url, s.type, s.fingerprint, s.reading) for s in self.config.sources),
                                         {s.name: after_success(s.name, s.every, now) for s in self.config.sources})

    def fetch_settings(self) -> FetchSettings:
        f = self.config.fetch
        return FetchSettings(user_agent=f.user_agent, timeout=f.timeout, max_bytes=f.max_bytes, per_host=f.per_host,
                             concurrency=f.concurrency)

    def pipeline(self) -> Pipeline:
        return Pipeline(self.archive, self.topics, alert_topics=frozenset(t.name for t in self.config.alerting),
                        alert_floor=partial(alert_floor, at=self.config.digest.at, tz=self.config.tz,
                                            lookback=self.config.digest.lookback),
                        queries={t.name: t.query for t in self.config.topics},
                        article_topics=frozenset(t.name for t in self.config.topics if t.fetch_article))

    def poller(self, fetcher: Fetcher) -> Poller:
        robots = RobotsPolicy(fetcher, self.config.fetch.user_agent, clock=self.clock)
        google = GoogleLinks(self.engine, fetcher, self.clock, hosts=self.google_hosts,
                             allow_private=self.config.fetch.allow_private)
        pipeline = self.pipeline()
        articles = Articles(config=self.config, fetcher=fetcher, archive=self.archive,
                            topics=self.topics, clock=self.clock, alert_topics=pipeline.alert_topics)
        return Poller(fetcher=fetcher, pipeline=pipeline, source_ids=self.source_ids,
                      tz=self.config.tz, clock=self.clock, robots=robots, google=google, articles=articles)

    async def poll(self, sources: Sequence[SourceConfig], *, wait: bool = False) -> list[Outcome]:
        """The one-shot poll (`monitor poll`): each source once, then its next poll time, so that a
        `monitor run` on the same database neither polls it again at once nor ignores a Retry-After.
        ``wait``: leave the failing sources whose back-off or Retry-After has not run out (a poll
        from cron every few minutes would otherwise ask a server that asked for an hour's pause)."""
        await asyncio.to_thread(self.topic_service().sync)  # a changed query re-matches the archive first
        # the rows first: a new address or an edited 410'd entry is no longer failing, and not waiting
        await asyncio.to_thread(lambda: self.source_ids)
        waiting = await asyncio.to_thread(Schedule(self.engine).waiting, [s.name for s in sources],
                                          self.clock()) if wait else {}
        async with Fetcher(self.fetch_settings()) as fetcher:
            outcomes = await self.poller(fetcher).poll(sources, waiting)
        await asyncio.to_thread(self._schedule_next, sources, outcomes)
        return outcomes

    def _schedule_next(self, sources: Sequence[SourceConfig], outcomes: Sequence[Outcome]) -> None:
        schedule = Schedule(self.engine)
        failures = schedule.failures([s.name for s in sources])
        for source, outcome in zip(sources, outcomes, strict=True):
            if outcome.status in ("disabled", "waiting"):
                continue
            next_at = next_poll(source, outcome, failures.get(source.name, 0), self.clock())
            try:  # a source a worker of `run` holds right now is left to that worker
                schedule.finish(self.source_ids[source.name], f"poll:{os.getpid()}", next_poll_at=next_at,
                                now=self.clock())
            except MonitorError as exc:
                log.error("event=schedule_failed source=%s error=%r", source.name, str(exc))

    @property
    def mail_domain(self) -> str:
        email = self.config.digest.email
        return email.sender.rsplit("@", 1)[1] if email else "monitor.localhost"

    @property
    def list_id(self) -> str:
        return f"monitor digest <digest.{self.mail_domain}>"

    @property
    def alert_list_id(self) -> str:
        """Alerts are another list than the digest: a mail filter can send them elsewhere."""
        return f"monitor alerts <alerts.{self.mail_domain}>"

    def worker(self, fetcher: Fetcher) -> Worker:
        return Worker(config=self.config, poller=self.poller(fetcher), schedule=Schedule(self.engine),
                      clock=self.clock)

    def send_alerts(self) -> list[Delivery]:
        """For a one-shot poll (no `run` to do it): queue the alert mail that is due and send the
        due alert mail, until none is left or one fails; the deliveries, failed ones included."""
        if self.config.digest.email is None or not self.config.alerting:
            return []
        self.alerts().flush()
        mailer, sent = self.mailer(), []
        while deliveries := mailer.deliver_due(kind="alert"):
            sent += deliveries
            if not all(d.sent for d in deliveries):
                break
        return sent

    def alerts(self) -> Alerts:
        return Alerts(self.engine, self.config, self.reader, list_id=self.alert_list_id, domain=self.mail_domain,
                      clock=self.clock)

    def digest_service(self) -> DigestService:
        return DigestService(config=self.config, reader=self.reader, log=DigestLog(self.engine), clock=self.clock,
                             list_id=self.list_id, domain=self.mail_domain)

    def topic_service(self) -> TopicService:
        return TopicService(self.engine, self.config, self.reader, self.clock)

    def smtp_settings(self) -> SmtpSettings:
        email = self.config.digest.email
        if email is None:
            raise ConfigError(f"{self.config.path}: digest.email: not configured; add to, from and smtp to send mail")
        smtp = email.smtp
        return SmtpSettings(host=smtp.host, port=smtp.port, security=smtp.security, username=smtp.username,
                            password=self.config.smtp_password())

    def mailer(self) -> Mailer:
        return Mailer(self.outbox(), self.smtp_settings(), self.clock)

    def outbox(self) -> Outbox:
        return Outbox(self.engine)

    def digest_log(self) -> DigestLog:
        return DigestLog(self.engine)

    def current_day(self) -> date:
        """The date whose digest is being gathered: the next one not yet made (after `digest.at`
        moved later in the day, today's was made at the old time and the next day's gathers)."""
        day = day_being_gathered(self.clock(), self.config.digest.at, self.config.tz)
        log = self.digest_log()
        for _ in range(2):
            if log.window(day) is None:
                break
            day += timedelta(days=1)
        return day

    def digest(self, day: date) -> Digest:
        self.source_ids  # noqa: B018 - sources must exist for the health section
        return make_digest(self.reader, self.config, day, self.clock(), self.digest_service().window(day))

    def left_out_as_old(self, day: date) -> tuple[int, datetime]:
        """How many matching entries the digest of ``day`` leaves out as published before its
        lookback, and that floor (a first poll's back catalogue: the digest is empty, and says why)."""
        window = self.digest_service().window(day)
        floor = published_floor(window, self.config.digest.lookback)
        topics = [t.name for t in self.config.topics]  # the digest shows no others
        return self.reader.matched_before(window.start, window.end, floor, topics), floor

    def close(self) -> None:
        self.engine.dispose()
