"""The polling worker of `monitor run`: claim due sources, poll them, schedule the next poll.

Each tick asks the database which sources are due (it decides nothing itself), leases at
most as many as there are free slots (`fetch.concurrency`), and polls them as tasks. When a
poll ends, the next poll time comes from monitor.core.schedule (interval and offset after a
success, exponential back-off or the server's Retry-After after a failure), the lease is
released, and the free slot is filled at once if a source is due: waiting for the next tick
capped a worker at `fetch.concurrency` polls per tick (10 a second by default). New matches
for `alert: immediate` topics are queued by the poll's own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from monitor.config import Config, SourceConfig
from monitor.core.schedule import after_failure, after_success
from monitor.errors import MonitorError, SchemaChanged, StoreError
from monitor.service.poll import Outcome, Poller
from monitor.store.schedule import Claim, Schedule

log = logging.getLogger("monitor.worker")
CLAIM_WAIT = 5.0  # seconds a claim waits for another writer's lock: the next tick (2 s on) tries again
CLAIM_ERROR_EVERY = 60.0  # seconds between two lines of the same claim error


def next_poll(source: SourceConfig, outcome: Outcome, failures: int, now: datetime) -> datetime:
    """When to poll again: interval and offset after a success, back-off or Retry-After after the
    `failures`-th failure in a row."""
    if outcome.status == "error":
        return after_failure(source.name, source.every, failures, now, outcome.retry_after)
    return after_success(source.name, source.every, now)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, *, config: Config, poller: Poller, schedule: Schedule,
                 clock: Callable[[], datetime], owner: str | None = None) -> None:
        self.config = config
        self.poller = poller
        self.schedule = schedule
        self.clock = clock
        self.owner = owner or worker_id()
        self.names = [s.name for s in config.sources]
        # A lease outlives one request (its whole deadline plus parsing and storing) and is
        # renewed every third of it while the poll goes on (article pages, paced, can take
        # minutes); after a crash the source is free again once it expires.
        self.lease = timedelta(seconds=config.fetch.timeout + 10)
        self.renew_every = self.lease.total_seconds() / 3
        self.inflight: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._refill: asyncio.Task[None] | None = None  # claims into slots that polls freed
        self._freed = False  # a poll ended since the refill last claimed
        self._claiming = asyncio.Lock()  # the ticker and the refill: one claim at a time, never past the slots
        self.outdated: SchemaChanged | None = None  # set when the database was upgraded under this worker
        self.outdated_event = asyncio.Event()  # ... and the service stops for it (monitor.service.scheduler)
        self._failing_since: float | None = None  # when claims began to fail (loop time)
        self._claim_errors: dict[str, tuple[float, int]] = {}  # error -> when last logged, repeats since

    def _claim_failed(self, error: str) -> None:
        """One line when claiming starts to fail with an error, then one a minute while it lasts
        (a full disk fails every 2 s tick: 43,000 lines a day), with how many it stands for; each
        error on its own, so two that alternate do not undo each other's pause."""
        now = self._loop_time()
        if self._failing_since is None:
            self._failing_since = now
        said, unsaid = self._claim_errors.get(error, (None, 0))
        if said is None:
            log.error("event=claim_failed error=%r", error)
        elif now - said >= CLAIM_ERROR_EVERY:
            log.error("event=claim_failed error=%r repeated=%d", error, unsaid + 1)
        else:
            self._claim_errors[error] = (said, unsaid + 1)
            return
        self._claim_errors[error] = (now, 0)

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    async def tick(self) -> int:
        """Claim due sources up to the free slots and start polling them; returns how many."""
        async with self._claiming:
            free = self.config.fetch.concurrency - len(self.inflight)
            if self.stopping or free <= 0:
                return 0
            claiming = asyncio.ensure_future(asyncio.to_thread(
                self.schedule.claim_due, self.owner, self.names, self.clock(), limit=free, lease=self.lease,
                wait=CLAIM_WAIT))
            try:
                claims = await asyncio.shield(claiming)
            except asyncio.CancelledError:
                # Shutdown cancels the ticker, but the claim's thread goes on and commits: hold the
                # lock until it has, so that drain's release (which waits for the lock) gives it back.
                with contextlib.suppress(Exception):
                    await claiming
                raise
            except MonitorError as exc:
                self._claim_failed(str(exc))
                return 0
            if self._failing_since is not None:
                log.info("event=claim_recovered failed_for=%ds", round(self._loop_time() - self._failing_since))
                self._failing_since, self._claim_errors = None, {}
            if self.stopping:  # drain began while we claimed: its release gives these back
                return 0
            for claim in claims:
                task = asyncio.create_task(self._poll(claim), name=f"poll:{claim.name}")
                self.inflight.add(task)
                task.add_done_callback(self.inflight.discard)
            return len(claims)

    async def _poll(self, claim: Claim) -> None:
        source = self.config.source(claim.name)
        keeping = asyncio.create_task(self._keep_lease(claim), name=f"lease:{claim.name}")
        try:
            outcome = await self.poller.poll_one(source)
            next_at = next_poll(source, outcome, claim.failures + (outcome.status == "error"), self.clock())
        except SchemaChanged as exc:  # stored nothing: the source is due again, for a worker with the new code
            if self.outdated is None:
                log.error("event=schema_changed error=%r: stopping", str(exc))
            self.outdated = exc
            self.outdated_event.set()
            next_at = self.clock()
        except Exception:  # a bug of ours: the source backs off and gives its lease back; the slot goes on
            log.exception("event=poll_crashed source=%s", source.name)
            next_at = after_failure(source.name, source.every, claim.failures + 1, self.clock())
        finally:
            keeping.cancel()
        try:
            await asyncio.to_thread(self.schedule.finish, claim.source_id, self.owner, next_poll_at=next_at)
        except MonitorError as exc:
            log.error("event=schedule_failed source=%s error=%r", source.name, str(exc))
        log.debug("event=scheduled source=%s next=%s", source.name, next_at.isoformat())
        self.inflight.discard(asyncio.current_task())  # its slot is free now
        self._freed = True
        if not self.stopping and (self._refill is None or self._refill.done()):
            self._refill = asyncio.create_task(self._fill_freed_slots(), name="refill")

    async def _keep_lease(self, claim: Claim) -> None:
        """Renew the lease while the poll runs, so that no other worker polls the source too."""
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                kept = await asyncio.to_thread(self.schedule.renew, claim.source_id, self.owner,
                                               self.clock() + self.lease)
            except MonitorError as exc:  # the next renewal may get through; the poll goes on
                log.warning("event=lease_renew_failed source=%s error=%r", claim.name, str(exc))
                continue
            if not kept:
                log.warning("event=lease_lost source=%s", claim.name)
                return

    async def _fill_freed_slots(self) -> None:
        """Claim into the slots that ended polls freed, until nothing more is due; one claim at a
        time, however many polls end together."""
        while self._freed and not self.stopping:
            self._freed = False
            if not await self.tick():
                break

    async def drain(self, grace: float = 10.0) -> None:
        """Stop claiming; let polls in flight finish within `grace` seconds, abandon the rest,
        and give back our leases (an abandoned source is due again at once)."""
        self.stopping = True
        loop = asyncio.get_running_loop()
        end = loop.time() + grace
        # A claim under way (the ticker's or the refill's) must end before the release below, or
        # the leases it takes would outlive this worker; after it, tick() claims nothing more.
        try:
            async with asyncio.timeout(grace), self._claiming:
                pass
        except TimeoutError:
            log.warning("event=claim_outlived_grace")
        if self.inflight:
            _done, pending = await asyncio.wait(set(self.inflight), timeout=max(0.0, end - loop.time()))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
                log.warning("event=abandoned polls=%d", len(pending))
        try:  # within what is left of the grace, at least a second
            await asyncio.to_thread(self.schedule.release, self.owner, max(1.0, end - loop.time()))
        except StoreError as exc:
            log.warning("event=leases_kept error=%r: they expire by themselves, and another worker "
                        "or the next start polls those sources then", str(exc))
