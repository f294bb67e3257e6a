"""The schedule in the database: which sources are due, and who is polling them.

A worker claims due sources by writing a lease (`lease_owner`, `lease_until`) in one
transaction that holds the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the rows are
locked FOR UPDATE SKIP LOCKED), so several workers on one database never poll a source
twice. A lease that expires (a killed worker) frees the source again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from monitor.store.db import BUSY_TIMEOUT_MS, database_error, writer
from monitor.store.schema import entry_sources, sources


@dataclass(frozen=True, slots=True)
class Claim:
    source_id: int
    name: str
    failures: int


DEAD_AFTER = timedelta(minutes=10)  # a lease this long expired belongs to a dead worker

class Schedule:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)

    def claim_due(self, owner: str, names: Sequence[str], now: datetime, *, limit: int,
                  lease: timedelta, wait: float | None = None) -> list[Claim]:
        """Lease up to `limit` of the named sources that are due and not leased by anyone;
        ``wait``: at most this many seconds for another writer's lock (the next tick retries)."""
        if limit <= 0 or not names:
            return []
        due = (
            select(sources.c.id, sources.c.name, sources.c.consecutive_failures)
            .where(sources.c.name.in_(list(names)))
            .where(sources.c.disabled_at.is_(None))
            .where(or_(sources.c.next_poll_at.is_(None), sources.c.next_poll_at <= now))
            .where(or_(sources.c.lease_until.is_(None), sources.c.lease_until < now))
            .order_by(sources.c.next_poll_at.is_not(None), sources.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        try:
            with self._write(wait) as conn:
                rows = list(conn.execute(due))
                if rows:
                    conn.execute(update(sources).where(sources.c.id.in_([r.id for r in rows]))
                                 .values(lease_owner=owner, lease_until=now + lease))
        except SQLAlchemyError as exc:
            raise database_error(exc, "claiming sources") from exc
        return [Claim(r.id, r.name, r.consecutive_failures) for r in rows]

    def finish(self, source_id: int, owner: str, *, next_poll_at: datetime, now: datetime | None = None) -> None:
        """Release our lease and set the next poll (what the poll found is in its PollRecord).
        A source another live worker holds is left to it; with `now`, a lease expired for
        ``DEAD_AFTER`` (its worker died) is no one's."""
        values: dict[str, object] = {"next_poll_at": next_poll_at, "lease_owner": None, "lease_until": None}
        free = or_(sources.c.lease_owner == owner, sources.c.lease_owner.is_(None))
        if now is not None:  # long expired: a live worker's poll can outlast its lease (article pages)
            free = or_(free, sources.c.lease_until < now - DEAD_AFTER)
        try:
            with self._writer.begin() as conn:
                conn.execute(update(sources).where(and_(sources.c.id == source_id, free)).values(**values))
        except SQLAlchemyError as exc:
            raise database_error(exc, "scheduling") from exc

    def renew(self, source_id: int, owner: str, until: datetime) -> bool:
        """Extend our lease on a source still being polled; False when it is no longer ours."""
        try:
            with self._writer.begin() as conn:
                done = conn.execute(update(sources).where(sources.c.id == source_id, sources.c.lease_owner == owner)
                                    .values(lease_until=until))
        except SQLAlchemyError as exc:
            raise database_error(exc, "renewing a lease") from exc
        return bool(done.rowcount)

    def release(self, owner: str, wait: float | None = None) -> None:
        """Give back every lease this worker holds (a clean shutdown), waiting at most ``wait``
        seconds for another writer's lock (default: the usual busy timeout, 30 s): a stopping
        service must not outlive its grace behind a sqlite3 shell's write, and leases it cannot
        give back expire by themselves."""
        try:
            with self._write(wait) as conn:
                conn.execute(update(sources).where(sources.c.lease_owner == owner)
                             .values(lease_owner=None, lease_until=None))
        except SQLAlchemyError as exc:
            raise database_error(exc, "giving back leases") from exc

    @contextmanager
    def _write(self, wait: float | None) -> Iterator[Connection]:
        """A write transaction that waits at most ``wait`` seconds for a lock (None: as usual)."""
        with self._writer.connect() as conn, _lock_wait(conn, wait), conn.begin():
            if wait is not None and conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL lock_timeout = '{max(1, int(wait * 1000))}ms'"))  # 0: no limit
            yield conn

    def failures(self, names: Sequence[str]) -> dict[str, int]:
        """Failed polls in a row of these sources (for the back-off after a one-shot poll)."""
        with self.engine.connect() as conn:
            return {r.name: r.consecutive_failures for r in conn.execute(
                select(sources.c.name, sources.c.consecutive_failures).where(sources.c.name.in_(list(names))))}

    def waiting(self, names: Sequence[str], now: datetime) -> dict[str, datetime]:
        """Name -> next poll time of the sources whose last poll failed and whose back-off, or
        the Retry-After their server sent, has not run out (a cron `monitor poll` leaves them)."""
        with self.engine.connect() as conn:
            return {r.name: r.next_poll_at for r in conn.execute(
                select(sources.c.name, sources.c.next_poll_at).where(
                    sources.c.name.in_(list(names)), sources.c.consecutive_failures > 0,
                    sources.c.next_poll_at > now))}

    def new_entry_times(self, source_id: int, limit: int = 20) -> list[datetime]:
        """The latest distinct times this source brought new entries (its rhythm, for health)."""
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(
                select(entry_sources.c.first_seen).where(entry_sources.c.source_id == source_id)
                .group_by(entry_sources.c.first_seen).order_by(entry_sources.c.first_seen.desc()).limit(limit))]


@contextmanager
def _lock_wait(conn: Connection, wait: float | None) -> Iterator[None]:
    """On SQLite, ``wait`` seconds of busy timeout for this connection's next transaction (set on
    the driver's connection, before BEGIN IMMEDIATE waits for the lock), then the usual again."""
    if wait is None or conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
