"""The outbox: every email is stored before it is sent and marked sent once accepted.

A message's `key` (digest:2025-02-04, alert:stargate:<time>) is unique, so queuing the same
digest twice is a no-op. Delivery claims due messages with a short lease, so two services
never send one message at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from monitor.errors import StoreError
from monitor.store.db import writer
from monitor.store.schema import outbox

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(minutes=15)


SERVER_FAILED = "server: "  # starts the error of a message that failed, or was not tried, for the server's sake


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, then doubling, at most 15 minutes."""
    return min(FIRST_RETRY * (2 ** min(max(attempts, 1) - 1, 16)), MAX_RETRY)


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    key: str
    kind: str
    recipients: tuple[str, ...]
    message: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Again:
    """A sent message queued anew for the recipients the server refused for now."""

    key: str
    kind: str
    recipients: tuple[str, ...]
    message: bytes
    due: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    key: str
    kind: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class Outbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)

    @staticmethod
    def enqueue(conn: Connection, *, key: str, kind: str, recipients: Sequence[str], message: bytes,
                now: datetime, due: datetime | None = None) -> bool:
        """Queue a message inside the caller's transaction (due ``due``, else now); False when the
        key is already queued."""
        exists = conn.execute(select(outbox.c.id).where(outbox.c.key == key)).first()
        if exists:
            return False
        conn.execute(insert(outbox).values(key=key, kind=kind, recipients="\n".join(recipients), message=message,
                                           state="pending", attempts=0, next_attempt_at=due or now, created_at=now))
        return True

    @staticmethod
    def requeue_statement(key: str, recipients: Sequence[str], message: bytes, now: datetime):  # type: ignore[no-untyped-def]
        """An UPDATE that puts an existing key back in the queue with a new message (--force)."""
        return update(outbox).where(outbox.c.key == key).values(
            message=message, recipients="\n".join(recipients), state="pending", attempts=0,
            next_attempt_at=now, lease_until=None, last_error=None, sent_at=None)

    def put(self, *, key: str, kind: str, recipients: Sequence[str], message: bytes, now: datetime,
            replace: bool = False, due: datetime | None = None) -> bool:
        """Queue a message in its own transaction; `replace` re-queues a key already sent (--force)."""
        try:
            with self._writer.begin() as conn:
                if replace:
                    conn.execute(self.requeue_statement(key, recipients, message, now))
                return self.enqueue(conn, key=key, kind=kind, recipients=recipients, message=message, now=now,
                                    due=due)
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise StoreError(f"database error while queuing mail: {getattr(exc, 'orig', exc)}") from exc

    def claim_due(self, now: datetime, *, limit: int = 10, lease: timedelta = timedelta(minutes=2),
                  keys: Sequence[str] | None = None, kind: str | None = None,
                  waiting_too: bool = False) -> list[Outgoing]:
        """Lease pending messages that are due; ``waiting_too``: also those waiting for their
        next try (someone asked for them by name, now)."""
        due = outbox.c.next_attempt_at <= now if not waiting_too else outbox.c.next_attempt_at.is_not(None)
        query = (select(outbox).where(outbox.c.state == "pending", due)
                 .where(or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now))
                 .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit).with_for_update(skip_locked=True))
        if keys is not None:
            query = query.where(outbox.c.key.in_(list(keys)))
        if kind is not None:
            query = query.where(outbox.c.kind == kind)
        with self._writer.begin() as conn:
            rows = list(conn.execute(query))
            if rows:
                conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows]))
                             .values(lease_until=now + lease))
        return [Outgoing(r.id, r.key, r.kind, tuple(r.recipients.split("\n")), r.message, r.attempts) for r in rows]

    def sent(self, message_id: int, now: datetime, *, note: str | None = None, again: Again | None = None) -> None:
        """Accepted by the server; `note` says which recipients it refused, if some; `again` queues
        it anew for those refused for now, in the same transaction (a crash between the two
        would send it twice, or never to them)."""
        with self._writer.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == message_id).values(
                state="sent", sent_at=now, lease_until=None, attempts=outbox.c.attempts + 1, last_error=note))
            if again is not None:
                self.enqueue(conn, key=again.key, kind=again.kind, recipients=again.recipients,
                             message=again.message, now=now, due=again.due)

    def failed(self, message_id: int, now: datetime, error: str, *, temporary: bool,
               at_least: timedelta | None = None, server: bool = False) -> datetime | None:
        """Record a failed attempt; a temporary one is retried later (returned; not sooner than
        ``at_least``), a permanent one stops. ``server``: the server or the login failed, not
        this message (its error starts with SERVER_FAILED, what ``wake_waiting`` looks for)."""
        with self._writer.begin() as conn:
            attempts = conn.execute(select(outbox.c.attempts).where(outbox.c.id == message_id)).scalar_one() + 1
            retry_at = now + max(retry_delay(attempts), at_least or timedelta(0)) if temporary else None
            conn.execute(update(outbox).where(outbox.c.id == message_id).values(
                attempts=attempts, last_error=SERVER_FAILED + error if server else error, lease_until=None,
                state="pending" if temporary else "failed", next_attempt_at=retry_at or now))
        return retry_at

    def held_until(self, now: datetime, marker: str) -> datetime | None:
        """When a message whose last error holds ``marker`` (a refused login) is next tried, if
        later than ``now``: until then no message is tried, or each new one would log in again."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(outbox.c.next_attempt_at)).where(
                outbox.c.state == "pending", outbox.c.next_attempt_at > now,
                outbox.c.last_error.contains(marker, autoescape=True))).scalar()

    def put_back(self, ids: Sequence[int], retry_at: datetime, error: str) -> None:
        """Give back claimed messages untried, due at ``retry_at``: the server failed another
        one (``error``), so they wait for the server too."""
        if ids:
            with self._writer.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id.in_(list(ids)), outbox.c.state == "pending")
                             .values(lease_until=None, next_attempt_at=retry_at,
                                     last_error=f"{SERVER_FAILED}not tried: {error}"))

    def due_now(self, now: datetime) -> int:
        """Make every waiting message due (``monitor run`` at its start: a restart is how a fixed
        password or server setting takes effect, so what waited for it is tried at once)."""
        return self._make_due(now)

    def wake_waiting(self, now: datetime) -> int:
        """Make due the messages waiting for a retry after a failure of the server (unreachable,
        no answer, login refused; SERVER_FAILED): the server has just taken a message, so they
        need not wait out their back-off (claim_due takes them in the order they were queued).
        Not a message refused for now for itself (greylisting, its recipients' full mailboxes):
        it keeps its own pace."""
        return self._make_due(now, outbox.c.last_error.startswith(SERVER_FAILED, autoescape=True))

    def _make_due(self, now: datetime, *only: ColumnElement[bool]) -> int:
        """Waiting messages (of those ``only`` picks) due now; how many."""
        with self._writer.begin() as conn:
            return conn.execute(update(outbox).where(outbox.c.state == "pending", outbox.c.next_attempt_at > now, *only)
                                .values(next_attempt_at=now)).rowcount

    def state(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(outbox.c.state).where(outbox.c.key == key)).scalar_one_or_none()

    def rows(self, kind: str | None = None) -> list[OutboxRow]:
        query = select(outbox).order_by(outbox.c.id)
        if kind:
            query = query.where(outbox.c.kind == kind)
        with self.engine.connect() as conn:
            return [OutboxRow(r.key, r.kind, r.state, r.attempts, r.last_error, r.created_at, r.sent_at)
                    for r in conn.execute(query)]

    def prune(self, before: datetime) -> int:
        """Forget messages sent before `before` (maintenance)."""
        with self._writer.begin() as conn:
            return conn.execute(delete(outbox).where(and_(outbox.c.state == "sent",
                                                          outbox.c.sent_at < before))).rowcount
