"""The record of digests made: one row per date, so a date's digest is made once.

Making a digest is claimed first (a row in state `making` with a lease), then completed in
one transaction that also queues its email. Two services, or a restart in the middle, never
make two digests for one date; a claim whose lease ran out (a crash) is taken over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from monitor.errors import StoreError
from monitor.store.db import writer
from monitor.store.outbox import Outbox
from monitor.store.schema import digests


@dataclass(frozen=True, slots=True)
class DigestRow:
    day: date
    state: str
    path: str | None
    entries: int | None
    email_state: str | None
    made_at: datetime | None


@dataclass(frozen=True, slots=True)
class Mail:
    key: str
    recipients: tuple[str, ...]
    message: bytes


CLAIM_LEASE = timedelta(minutes=5)  # a digest's maker has it to itself this long


class DigestLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)

    def claim(self, day: date, start: datetime, end: datetime, now: datetime, *,
              lease: timedelta = CLAIM_LEASE, force: bool = False) -> bool:
        """True when this caller may make the digest of `day` now."""
        try:
            with self._writer.begin() as conn:
                row = conn.execute(select(digests).where(digests.c.day == day)).first()
                if row is None:
                    conn.execute(insert(digests).values(day=day, window_start=start, window_end=end,
                                                        state="making", claimed_until=now + lease))
                    return True
                # Taken over only if still as read (two workers may find the same expired claim);
                # the window goes with it, so the row says what the digest covers.
                taken = update(digests).where(digests.c.day == day).values(
                    state="making", claimed_until=now + lease, window_start=start, window_end=end)
                if not force:
                    taken = taken.where(digests.c.state == "making",
                                        or_(digests.c.claimed_until.is_(None), digests.c.claimed_until < now))
                return conn.execute(taken).rowcount == 1
        except IntegrityError:  # another service inserted it first
            return False
        except SQLAlchemyError as exc:
            raise StoreError(f"database error while claiming a digest: {getattr(exc, 'orig', exc)}") from exc

    def release(self, day: date, claimed_at: datetime, now: datetime) -> None:
        """Give up a claim that failed (polls still writing, a full disk): the next catch-up, within
        a minute, tries again instead of waiting out the claim's five minutes. Only the claim made
        at ``claimed_at``: one that expired meanwhile may be another process's now."""
        try:
            with self._writer.begin() as conn:
                conn.execute(update(digests).where(digests.c.day == day, digests.c.state == "making",
                                                   digests.c.claimed_until == claimed_at + CLAIM_LEASE)
                             .values(claimed_until=now))
        except SQLAlchemyError as exc:
            raise StoreError(f"database error while releasing a digest: {getattr(exc, 'orig', exc)}") from exc

    def complete(self, day: date, *, path: str | None, entries: int, now: datetime, mail: Mail | None,
                 email_state: str, replace_mail: bool = False) -> None:
        """Mark the digest made and queue its email, in one transaction."""
        with self._writer.begin() as conn:
            if mail is not None:
                if replace_mail:
                    conn.execute(Outbox.requeue_statement(mail.key, mail.recipients, mail.message, now))
                Outbox.enqueue(conn, key=mail.key, kind="digest", recipients=mail.recipients,
                               message=mail.message, now=now)
            conn.execute(update(digests).where(digests.c.day == day).values(
                state="made", claimed_until=None, path=path, entries=entries, email_state=email_state, made_at=now))

    def get(self, day: date) -> DigestRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(digests).where(digests.c.day == day)).first()
        return DigestRow(r.day, r.state, r.path, r.entries, r.email_state, r.made_at) if r else None

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The window recorded for `day` (made, or being made), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(digests.c.window_start, digests.c.window_end)
                               .where(digests.c.day == day)).first()
        return (row.window_start, row.window_end) if row else None

    def made_since(self, first: date) -> tuple[date | None, set[date]]:
        """(the first day ever claimed, the days made from `first` on): what a catch-up must skip."""
        with self.engine.connect() as conn:
            earliest = conn.execute(select(func.min(digests.c.day))).scalar()  # a first one that crashed too
            made = {r[0] for r in conn.execute(select(digests.c.day).where(digests.c.state == "made",
                                                                           digests.c.day >= first))}
        return earliest, made
