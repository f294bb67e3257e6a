"""`monitor run`: poll each source every `every` and write the digest at `digest.at`.

APScheduler (3.x) wiring only: jobs call the same poll and digest code as the one-shot
commands. One job per source, so a slow source never delays another; `max_instances=1`
and `coalesce` mean a poll that overruns its interval is not stacked up.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import date, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import App
from monitor.config import SourceConfig
from monitor.net.fetcher import Fetcher
from monitor.render.markdown import render
from monitor.service.digests import write_atomically
from monitor.service.poll import Poller

log = logging.getLogger("monitor.run")


async def serve(app: App, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    async with Fetcher(app.fetch_settings()) as fetcher:
        scheduler = build_scheduler(app, app.poller(fetcher))
        scheduler.start()
        log.info("event=started sources=%d topics=%d digest_at=%s", len(app.config.sources),
                 len(app.config.topics), app.config.digest.at.strftime("%H:%M"))
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            log.info("event=stopped")


def build_scheduler(app: App, poller: Poller) -> AsyncIOScheduler:
    """One interval job per source (first run now) and the daily digest job at `digest.at`."""
    config = app.config
    scheduler = AsyncIOScheduler(timezone=config.tz)
    for source in config.sources:
        every = source.every.total_seconds()
        # Jitter spreads sources of one host that share an interval (at most a tenth of it).
        scheduler.add_job(_poll, IntervalTrigger(seconds=every, timezone=config.tz, jitter=min(60, every / 10)),
                          args=(poller, source), id=f"poll:{source.name}", max_instances=1, coalesce=True,
                          next_run_time=app.clock())
    at = config.digest.at
    scheduler.add_job(_digest, CronTrigger(hour=at.hour, minute=at.minute, timezone=config.tz), args=(app,),
                      id="digest", max_instances=1, coalesce=True, misfire_grace_time=3600)
    return scheduler


async def _poll(poller: Poller, source: SourceConfig) -> None:
    await poller.poll_one(source)


async def _digest(app: App) -> None:
    # The digest due is the newest whose window has closed: today's once `at` has passed,
    # else yesterday's (a job that fires late, past midnight, still writes the right day).
    local = app.clock().astimezone(app.config.tz)
    day: date = local.date() if local.time() >= app.config.digest.at else local.date() - timedelta(days=1)
    digest = await asyncio.to_thread(app.digest, day)
    path = app.config.digest_dir / f"{day.isoformat()}.md"
    await asyncio.to_thread(write_atomically, path, render(digest))
    log.info("event=digest date=%s entries=%d path=%s", day.isoformat(), digest.entries, path)
