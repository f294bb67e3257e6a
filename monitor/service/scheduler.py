"""`monitor run`: APScheduler wiring of the service's jobs. Decides nothing itself.

- a short ticker that claims due sources from the database and polls them (the schedule
  lives in the database: a restart resumes where it stopped);
- the daily digest at `digest.at`, and every minute any missing one of the past week;
- the outbox, every few seconds, when email is configured;
- immediate alerts, every few seconds, for topics that ask for them;
- daily maintenance;
- a watch that warns when the config in force is not the one this worker runs.
SIGTERM, SIGINT or SIGHUP: stop claiming, let polls in flight (and mail or a digest being made)
finish or abandon them within 10 s, give back leases, exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import InterfaceError, OperationalError

from monitor.app import App
from monitor.errors import MonitorError
from monitor.net.fetcher import Fetcher
from monitor.render.email import load_templates
from monitor.service import maintenance
from monitor.service.background import Background
from monitor.service.worker import Worker
from monitor.store.db import ensure_writable

log = logging.getLogger("monitor.run")
TICK_SECONDS = 2
OUTBOX_SECONDS = 5
ALERT_SECONDS = 5
GRACE_SECONDS = 10
CATCH_UP_SECONDS = 60  # a crashed digest's claim lasts 5 minutes
WATCH_SECONDS = 60


async def serve(app: App, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM, SIGINT or SIGHUP (a closed terminal: a clean stop, not a dead
    process holding its leases), or until `stop` is set."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # `nohup monitor run`: asked to outlive its terminal
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    load_templates()  # before anything can replace them on disk (an upgrade under the service)
    await asyncio.to_thread(ensure_writable, app.engine)  # not a failed poll every minute for months
    for done in await asyncio.to_thread(app.topic_service().sync):
        log.info("event=topic_rematched topic=%s matched=%d", done.topic, done.matched)
    if app.config.digest.email is not None and (waiting := await asyncio.to_thread(app.outbox().due_now, app.clock())):
        log.info("event=mail_due_now count=%d reason=restart", waiting)  # a fixed password is tried at once
    async with Fetcher(app.fetch_settings()) as fetcher:
        worker = app.worker(fetcher)
        background = Background()
        scheduler = build_scheduler(app, worker, background)
        scheduler.start()
        log.info("event=started worker=%s sources=%d topics=%d digest_at=%s", worker.owner,
                 len(app.config.sources), len(app.config.topics), app.config.digest.at.strftime("%H:%M"))
        try:
            outdated = asyncio.create_task(worker.outdated_event.wait())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait((outdated, stopped), return_when=asyncio.FIRST_COMPLETED)
            outdated.cancel()
            stopped.cancel()
        finally:
            scheduler.shutdown(wait=False)
            end = asyncio.get_running_loop().time() + GRACE_SECONDS
            await worker.drain(GRACE_SECONDS)
            if left := await background.settle(end - asyncio.get_running_loop().time()):
                log.warning("event=abandoned jobs=%d", left)  # a mail to a server that does not answer
            log.info("event=stopped")
        if worker.outdated is not None:  # exit non-zero: a supervisor restarts it with the new code
            raise worker.outdated


def build_scheduler(app: App, worker: Worker, background: Background | None = None) -> AsyncIOScheduler:
    config = app.config
    background = background or Background()
    scheduler = AsyncIOScheduler(timezone=config.tz)
    now = app.clock()

    def every(seconds: float, job: Callable[[], Awaitable[object]], name: str, first: bool = True) -> None:
        # next_run_time=None would add the job paused (APScheduler 3): the config watch never ran
        first_run = now if first else now + timedelta(seconds=seconds)
        scheduler.add_job(_guarded(job, name), IntervalTrigger(seconds=seconds, timezone=config.tz), id=name,
                          max_instances=1, coalesce=True, next_run_time=first_run)

    every(TICK_SECONDS, worker.tick, "poll-ticker")
    digests = app.digest_service()
    at = config.digest.at
    scheduler.add_job(_guarded(lambda: background.run(digests.run_due, "digest"), "digest"),
                      CronTrigger(hour=at.hour, minute=at.minute, timezone=config.tz), id="digest",
                      max_instances=1, coalesce=True, misfire_grace_time=None)
    # A digest missed while the service was down is made when it comes back, and one whose maker
    # (this worker or another) died half-way is made once its claim expires.
    every(CATCH_UP_SECONDS, lambda: background.run(digests.run_due, "digest"), "digest-catch-up")
    if config.digest.email is not None:
        mailer = app.mailer()
        every(OUTBOX_SECONDS, lambda: background.run(mailer.deliver_due, "outbox"), "outbox")
    if config.alerting:
        alerts = app.alerts()
        every(ALERT_SECONDS, lambda: background.run(alerts.flush, "alerts"), "alerts")
    watch = ConfigWatch(app)
    every(WATCH_SECONDS, lambda: asyncio.to_thread(watch.check), "config-watch", first=False)
    scheduler.add_job(_guarded(lambda: asyncio.to_thread(maintenance.run, app.engine, retention=config.retention,
                                                         now=app.clock()), "maintenance"),
                      CronTrigger(hour=4, minute=17, timezone=config.tz), id="maintenance", max_instances=1,
                      coalesce=True)
    return scheduler


class ConfigWatch:
    """Says (once per change) when this worker no longer runs the config in force: the file was
    edited since it started, or another process matched the archive against other topic queries.
    Its new entries would then be matched by stale rules until it is restarted."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.started_with = _read(app.config.path)
        self.said: tuple[bool, tuple[str, ...]] = (False, ())

    def check(self) -> tuple[bool, tuple[str, ...]]:
        edited = self.started_with is not None and _read(self.app.config.path) not in (None, self.started_with)
        differing = tuple(self.app.topic_service().stale()[0])
        if (edited, differing) != self.said and (edited or differing):
            log.warning("event=config_changed file_edited=%s topics_matched_elsewhere=%s: restart monitor run "
                        "to apply the config in force (what it stored meanwhile is matched again at the start)",
                        edited, ",".join(differing) or "-")
        self.said = (edited, differing)
        return self.said


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _guarded(job: Callable[[], Awaitable[object]], name: str) -> Callable[[], Awaitable[None]]:
    """A job whose failure is logged as one line and never stops the scheduler. A database that
    cannot be reached or locked (a writer holding SQLite's lock for 30 s, PostgreSQL
    restarting) is one line too: expected in a service's life, retried at the job's next run.
    Any other error, a database's "no such column" included, is a bug: logged with its traceback."""

    async def run() -> None:
        try:
            await job()
        except asyncio.CancelledError:  # the service stopped while it ran: said by event=abandoned
            log.debug("event=job_cancelled job=%s", name)
        except MonitorError as exc:
            log.error("event=job_failed job=%s error=%r", name, str(exc))
        except (OperationalError, InterfaceError) as exc:  # not a ProgrammingError: that is a bug
            log.error("event=job_failed job=%s error=%r", name, f"database: {getattr(exc, 'orig', None) or exc}")
        except Exception:
            log.exception("event=job_crashed job=%s", name)

    return run
