"""Composition root: builds the store, fetcher, topics and clock from the settings.

The only module that knows every part; commands and the service ask it for what they need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import cached_property

from sqlalchemy import Engine

from monitor.config import Config, SourceConfig
from monitor.core.digest import Digest, day_being_gathered
from monitor.core.topics import TopicSet
from monitor.errors import ConfigError
from monitor.net.fetcher import Fetcher, FetchSettings
from monitor.service.digests import make_digest
from monitor.service.pipeline import Pipeline
from monitor.service.poll import Outcome, Poller
from monitor.store.archive import Archive
from monitor.store.db import ensure_current, open_engine
from monitor.store.reading import Reader


def _open(config: Config) -> Engine:
    """The engine, with a missing driver or an impossible path reported as a config error."""
    try:
        return open_engine(config.database_url)
    except ImportError as exc:
        raise ConfigError(f"{config.path}: database: the driver for {config.database.split(':')[0]!r} is not "
                          f"installed ({exc.name}); for PostgreSQL: pip install 'monitor[postgres]'") from exc
    except OSError as exc:
        raise ConfigError(f"{config.path}: database: cannot create the database there: {exc}") from exc


def utc_now() -> datetime:
    return datetime.now(UTC)


class App:
    def __init__(self, config: Config, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.clock = clock
        self.engine = _open(config)
        ensure_current(self.engine)
        self.archive = Archive(self.engine)
        self.reader = Reader(self.engine)

    @cached_property
    def topics(self) -> TopicSet:
        return TopicSet([(t.name, t.tree) for t in self.config.topics])

    @cached_property
    def source_ids(self) -> dict[str, int]:
        return self.archive.sync_sources((s.name, s.url, s.type) for s in self.config.sources)

    def fetch_settings(self) -> FetchSettings:
        f = self.config.fetch
        return FetchSettings(user_agent=f.user_agent, timeout=f.timeout, max_bytes=f.max_bytes, per_host=f.per_host)

    def poller(self, fetcher: Fetcher) -> Poller:
        return Poller(fetcher=fetcher, pipeline=Pipeline(self.archive, self.topics),
                      source_ids=self.source_ids, tz=self.config.tz, clock=self.clock)

    async def poll(self, sources: Sequence[SourceConfig]) -> list[Outcome]:
        async with Fetcher(self.fetch_settings()) as fetcher:
            return await self.poller(fetcher).poll(sources)

    def current_day(self) -> date:
        return day_being_gathered(self.clock(), self.config.digest.at, self.config.tz)

    def digest(self, day: date) -> Digest:
        self.source_ids  # noqa: B018 - sources must exist for the health section
        return make_digest(self.reader, self.config, day)

    def close(self) -> None:
        self.engine.dispose()
