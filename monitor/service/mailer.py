"""Sending what the outbox holds: claim due messages, hand them to SMTP, record the answer.

A temporary failure (server down, 4xx) is retried by the outbox's schedule (30 s, then
doubling, at most 15 minutes) by `monitor run`, and for alerts by the next `monitor poll`
too; a permanent one (5xx) is recorded and not retried. Runs in a worker thread: smtplib blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy

from monitor.deliver.smtp import SmtpSettings, send
from monitor.errors import DeliveryError
from monitor.store.outbox import Outbox

log = logging.getLogger("monitor.mail")


@dataclass(frozen=True, slots=True)
class Delivery:
    key: str
    sent: bool
    error: str | None = None  # sent: the recipients the server refused, if some
    retry_at: datetime | None = None


class Mailer:
    def __init__(self, outbox: Outbox, settings: SmtpSettings, clock: Callable[[], datetime]) -> None:
        self.outbox = outbox
        self.settings = settings
        self.clock = clock

    def deliver_due(self, keys: Sequence[str] | None = None, kind: str | None = None) -> list[Delivery]:
        """Send what is due (of ``keys``, of ``kind``: "digest" or "alert"); a failure is retried later."""
        results = []
        for item in self.outbox.claim_due(self.clock(), keys=keys, kind=kind):
            message = message_from_bytes(item.message, policy=policy.SMTP)
            try:
                partly = send(message, self.settings)  # type: ignore[arg-type]
            except DeliveryError as exc:
                retry_at = self.outbox.failed(item.id, self.clock(), str(exc), temporary=exc.temporary)
                log.warning("event=mail_failed key=%s temporary=%s attempts=%d error=%r retry_at=%s", item.key,
                            exc.temporary, item.attempts + 1, str(exc), retry_at.isoformat() if retry_at else None)
                results.append(Delivery(item.key, False, str(exc), retry_at))
                continue
            self.outbox.sent(item.id, self.clock(), note=partly)
            log.info("event=mail_sent key=%s recipients=%d", item.key, len(item.recipients))
            results.append(Delivery(item.key, True, partly))
        return results
