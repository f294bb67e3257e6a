"""Sending what the outbox holds: claim due messages, hand them to SMTP, record the answer.

A temporary failure (server down, 4xx, a setup problem) is retried by the outbox's schedule
(30 s, then doubling, at most 15 minutes; a refused login hourly) by `monitor run`, and for
alerts by the next `monitor poll` too; a permanent one (5xx to the message) is recorded and
not retried. Runs in a worker thread: smtplib blocks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from hashlib import sha256

from sqlalchemy.exc import SQLAlchemyError

from monitor.deliver.smtp import LOGIN_REFUSED, Refused, SmtpSettings, refusal_note, send
from monitor.errors import DeliveryError, MonitorError
from monitor.store.outbox import Again, Outbox, Outgoing, retry_delay

log = logging.getLogger("monitor.mail")
LEASE = timedelta(minutes=2)  # how long a claimed message is this worker's alone
MARGIN = 15.0  # seconds before the lease ends when trying to record a sent message stops


@dataclass(frozen=True, slots=True)
class Delivery:
    key: str
    sent: bool
    error: str | None = None  # sent: the recipients the server refused, if some
    retry_at: datetime | None = None
    refused: tuple[str, ...] = ()  # sent: the recipients that did not get it (yet)


class Mailer:
    def __init__(self, outbox: Outbox, settings: SmtpSettings, clock: Callable[[], datetime]) -> None:
        self.outbox = outbox
        self.settings = settings
        self.clock = clock

    def deliver_due(self, keys: Sequence[str] | None = None, kind: str | None = None, *,
                    at_once: bool = False) -> list[Delivery]:
        """Send what is due (of ``keys``, of ``kind``: "digest" or "alert"; ``at_once``: also what
        waits for its next try); a failure is retried later. When the server or the login fails,
        the rest is put back untried: ten queued alerts to a server that does not answer would
        otherwise wait out ten timeouts, or try a wrong password ten times."""
        results: list[Delivery] = []
        if not at_once and (held := self.outbox.held_until(self.clock(), LOGIN_REFUSED)) is not None:
            log.debug("event=mail_held until=%s reason=login_refused", held.isoformat())
            return results  # the login was refused: tried again hourly, not at each new message
        claimed = self.outbox.claim_due(self.clock(), keys=keys, kind=kind, waiting_too=at_once, lease=LEASE)
        lease_ends = time.monotonic() + LEASE.total_seconds()
        for n, item in enumerate(claimed):
            message = message_from_bytes(item.message, policy=policy.SMTP)
            try:
                refused = send(message, self.settings, recipients=item.recipients)  # type: ignore[arg-type]
            except DeliveryError as exc:
                retry_at = self.outbox.failed(item.id, self.clock(), str(exc), temporary=exc.temporary,
                                              at_least=exc.retry_after, server=exc.server)
                log.warning("event=mail_failed key=%s temporary=%s attempts=%d error=%r retry_at=%s", item.key,
                            exc.temporary, item.attempts + 1, str(exc), retry_at.isoformat() if retry_at else None)
                results.append(Delivery(item.key, False, str(exc), retry_at))
                if exc.server and claimed[n + 1:]:
                    results += self._put_back(claimed[n + 1:], exc, retry_at)
                    break
                continue
            note = refusal_note(refused)
            again = self._again_for(item, refused)
            if again is not None:
                note = f"{note}; tried again for {', '.join(again.recipients)}"
            self._record_sent(item, note, again, lease_ends - MARGIN)
            log.info("event=mail_sent key=%s recipients=%d", item.key, len(item.recipients) - len(refused))
            results.append(Delivery(item.key, True, note, refused=tuple(sorted(refused))))
        if any(d.sent for d in results) and (woken := self.outbox.wake_waiting(self.clock())):
            # the server is back: what waited for it goes now, in queue order, not one by one as
            # each back-off runs out (an ops test saw an older alert come minutes after a newer one)
            log.info("event=mail_due_now count=%d reason=server_answered", woken)
            results += self.deliver_due(keys, kind)
        return results

    def _record_sent(self, item: Outgoing, note: str | None, again: Again | None, deadline: float) -> None:
        """Mark the message sent (and queue it anew for those refused for now), trying again
        while the database cannot be reached: the server has it, and unrecorded it would go out
        again once its lease expires (a PostgreSQL restart during the SMTP exchange mailed an alert
        twice). Not past ``deadline``, the lease's end less a margin, so no other worker sends it
        meanwhile."""
        pause = 1.0
        while True:
            try:
                self.outbox.sent(item.id, self.clock(), note=note, again=again)
                if again is not None:
                    log.info("event=mail_requeued key=%s for=%s", again.key, ",".join(again.recipients))
                return
            except (SQLAlchemyError, MonitorError) as exc:
                if time.monotonic() + pause > deadline:
                    log.error("event=mail_sent_unrecorded key=%s error=%r: the server accepted it, and it may "
                              "be sent again", item.key, str(exc))
                    raise
                log.warning("event=mail_sent_not_recorded_yet key=%s error=%r retry_in=%gs", item.key,
                            str(exc), pause)
                time.sleep(pause)
                pause = min(pause * 2, 10.0)

    def _again_for(self, item: Outgoing, refused: Refused) -> Again | None:
        """The message anew for the recipients the server refused for now (4xx: a full mailbox,
        greylisting), alone: the others have it."""
        later = tuple(sorted(r for r, (code, _) in refused.items() if 400 <= code < 500))
        if not later:
            return None
        key = f"{item.key}:again:{sha256(chr(10).join(later).encode()).hexdigest()[:12]}"
        return Again(key, item.kind, later, item.message, self.clock() + retry_delay(1))

    def _put_back(self, rest: Sequence[Outgoing], exc: DeliveryError, retry_at: datetime | None) -> list[Delivery]:
        when = retry_at or self.clock() + retry_delay(1)
        self.outbox.put_back([item.id for item in rest], when, str(exc))
        log.info("event=mail_deferred count=%d retry_at=%s", len(rest), when.isoformat())
        return [Delivery(item.key, False, f"not tried: {exc}", when) for item in rest]
