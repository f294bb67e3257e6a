"""One poll of some sources: fetch concurrently, parse, ingest, record the outcome.

A failing source is recorded and reported; it never stops the others. Parsing and
storing run in worker threads so a big document does not stall the event loop (and with
it the deadlines of other fetches); stores are serialised, one poll per transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.config import SourceConfig
from monitor.core.entry import ParseResult
from monitor.errors import HTTPStatusError, MonitorError, SchemaChanged, StoreError
from monitor.ingest.feed import parse_feed
from monitor.ingest.listing import parse_listing
from monitor.net.fetcher import Fetcher, FetchResult, Validators
from monitor.net.robots import RobotsPolicy
from monitor.service.articles import NOTHING, Articles, Enriched
from monitor.service.google_links import GoogleLinks
from monitor.service.pipeline import Pipeline
from monitor.store.archive import PollRecord

log = logging.getLogger("monitor.poll")


@dataclass(frozen=True, slots=True)
class Outcome:
    source: str
    status: str  # ok | not_modified | error | disabled (a 410 Gone earlier) | waiting (backing off): not polled
    new: int = 0
    matched: int = 0
    skipped: int = 0
    error: str | None = None
    items: int | None = None  # items the document held (health: an html page suddenly empty)
    retry_after: float | None = None  # seconds a 429/503 asked us to wait
    new_ids: tuple[int, ...] = ()
    bytes: int | None = None
    warnings: tuple[str, ...] = ()  # kept what could be read, but the document was broken
    articles: Enriched = NOTHING  # article pages fetched after the feed (this poll's or earlier)

    def line(self) -> str:
        if self.status == "error":
            return f"{self.source}: error: {self.error}"
        warned = "".join(f"; warning: {w}" for w in self.warnings)
        by_text = self.articles.matched
        if self.status == "not_modified":
            return f"{self.source}: not modified" + (f", {by_text} matched by article text" if by_text else "") + warned
        if self.status in ("disabled", "waiting"):
            return f"{self.source}: skipped, {self.status}: {self.error}"
        matched = f"{self.matched + by_text} matched" + (f" ({by_text} by article text)" if by_text else "")
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return f"{self.source}: {self.new} new, {matched}{skipped}{warned}"


class Poller:
    """Polls sources once; knows the order of the steps, decides nothing about content."""

    def __init__(self, *, fetcher: Fetcher, pipeline: Pipeline, source_ids: dict[str, int],
                 tz: ZoneInfo, clock: Callable[[], datetime], robots: RobotsPolicy | None = None,
                 google: GoogleLinks | None = None, articles: Articles | None = None) -> None:
        self.fetcher = fetcher
        self.articles = articles
        self.robots = robots
        self.google = google
        self.pipeline = pipeline
        self.source_ids = source_ids
        self.tz = tz
        self.clock = clock
        self._store_lock = asyncio.Lock()

    async def poll(self, sources: Sequence[SourceConfig], waiting: Mapping[str, datetime] | None = None,
                   ) -> list[Outcome]:
        """Poll each source once (the one-shot `monitor poll`), except those a 410 Gone disabled,
        and those ``waiting`` names: failing, with the time their back-off or Retry-After ends."""
        disabled = await asyncio.to_thread(self.pipeline.archive.disabled)
        waiting = waiting or {}

        def one(s: SourceConfig) -> Awaitable[Outcome]:
            if s.name in disabled:
                return self._skipped(s, "disabled", disabled[s.name])
            if s.name in waiting:
                until = waiting[s.name].astimezone(self.tz)
                return self._skipped(s, "waiting", f"its last poll failed; next try at {until:%Y-%m-%d %H:%M} "
                                     f"(back-off, or the server's Retry-After); --source {s.name} polls it now")
            return self.poll_one(s)

        return list(await asyncio.gather(*(one(s) for s in sources)))

    async def _skipped(self, source: SourceConfig, status: str, reason: str) -> Outcome:
        return self._logged(source, Outcome(source.name, status, error=reason), self.clock())

    async def poll_one(self, source: SourceConfig) -> Outcome:
        source_id = self.source_ids[source.name]
        archive = self.pipeline.archive
        started = self.clock()
        try:
            if source.type == "html" and self.robots is not None:
                await self.robots.check(source.url)  # feeds are meant for machines; pages ask first
            etag, modified = await asyncio.to_thread(archive.validators, source_id, source.reading)
            fetched = await self.fetcher.fetch(source.url, Validators(etag, modified), verify=source.verify)
            moved = [f"moved permanently to {fetched.moved_to}: update the source's url"] if fetched.moved_to else []
            if fetched.not_modified:  # a move is still told: a 304 from the new address is the common case
                # not _record: a 304 that could not be recorded is a failed poll, not "not modified"
                await self._store_record(source_id, PollRecord("not_modified", error="; ".join(moved) or None))
                enriched = await self._articles(source, source_id)  # what an earlier poll left queued
                return self._logged(source, Outcome(source.name, "not_modified", warnings=tuple(moved),
                                                    articles=enriched), started)
            parsed = await asyncio.to_thread(self._parse, source, fetched)
            if moved:
                parsed = dataclasses.replace(parsed, warnings=[*parsed.warnings, *moved])
            if source.type == "google_news" and self.google is not None:
                parsed = dataclasses.replace(parsed, drafts=await self.google.rewrite(parsed.drafts))
            record = PollRecord("ok", etag=fetched.validators.etag, last_modified=fetched.validators.last_modified,
                                reading=source.reading,
                                error="; ".join(parsed.warnings) or None,
                                items=len(parsed.drafts) + parsed.skipped if source.type == "html" else None)
            async with self._store_lock:
                done = await asyncio.to_thread(self.pipeline.ingest, source_id, source.name, parsed.drafts,
                                               now=self.clock(), record=record, skipped=parsed.skipped,
                                               fetch_article=source.fetch_article)
            enriched = await self._articles(source, source_id)
            outcome = Outcome(source.name, "ok", done.new, done.matched, done.skipped,
                              items=len(parsed.drafts) + parsed.skipped, new_ids=done.new_ids,
                              bytes=len(fetched.body), warnings=tuple(parsed.warnings), articles=enriched)
        except SchemaChanged:
            raise  # not this source's failure: the process must stop (monitor.service.worker)
        except HTTPStatusError as exc:
            outcome = await self._failed(source, source_id, exc, gone=exc.status == 410)
        except MonitorError as exc:  # fetch, parse or store: recorded if the database allows
            outcome = await self._failed(source, source_id, exc)
        except Exception as exc:  # a bug must cost one source one poll, not the whole run
            log.exception("event=internal_error source=%s", source.name)
            message = f"internal error: {exc.__class__.__name__}: {exc}"
            outcome = Outcome(source.name, "error", error=message)
            await self._record(source_id, PollRecord("error", error=message))
        return self._logged(source, outcome, started)

    async def _articles(self, source: SourceConfig, source_id: int) -> Enriched:
        """The queued article pages of the source: the poll stored its entries already, so a
        database error here is logged and leaves the pages queued, not a failed poll."""
        if self.articles is None or not self.articles.wanted(source):
            return NOTHING
        try:
            return await self.articles.enrich(source, source_id)
        except SchemaChanged:
            raise
        except StoreError as exc:
            log.error("event=articles_failed source=%s error=%r", source.name, str(exc))
            return NOTHING

    async def _failed(self, source: SourceConfig, source_id: int, exc: MonitorError, *,
                      gone: bool = False) -> Outcome:
        """Record a failure; a 410 Gone also disables the source, said in the error everyone sees."""
        message = str(exc)
        if gone:
            message += (f"; the source is disabled until its config entry changes or "
                        f"`monitor sources enable {source.name}`")
        await self._record(source_id, PollRecord("error", error=message,
                                                 disable=source.fingerprint if gone else None))
        return Outcome(source.name, "error", error=message, retry_after=getattr(exc, "retry_after", None))

    def _parse(self, source: SourceConfig, fetched: FetchResult) -> ParseResult:
        if source.type == "html":
            assert source.item is not None  # the config guarantees it
            return parse_listing(fetched.body, url=fetched.url, content_type=fetched.content_type, tz=self.tz,
                                 item=source.item, title=source.title, link=source.link, date=source.date,
                                 now=self.clock())
        return parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type, tz=self.tz)

    async def _store_record(self, source_id: int, record: PollRecord) -> None:
        async with self._store_lock:
            await asyncio.to_thread(self.pipeline.archive.record_poll, source_id, record, self.clock())

    async def _record(self, source_id: int, record: PollRecord) -> None:
        """Record a failure if the database allows: the failure is what the poll reports."""
        try:
            await self._store_record(source_id, record)
        except StoreError as exc:
            log.error("event=record_failed source_id=%s error=%r", source_id, str(exc))

    def _logged(self, source: SourceConfig, outcome: Outcome, started: datetime) -> Outcome:
        seconds = (self.clock() - started).total_seconds()
        # a failed poll is a warning: with log_level warning (or -q) a failing source still shows
        log.log(logging.WARNING if outcome.status == "error" else logging.INFO,
                "event=poll source=%s status=%s duration=%.2f bytes=%s new=%d matched=%d%s%s",
                source.name, outcome.status, seconds, outcome.bytes if outcome.bytes is not None else "-",
                outcome.new, outcome.matched, _articles_fields(outcome.articles),
                f" error={outcome.error!r}" if outcome.error else "")
        for warning in outcome.warnings:
            log.warning("event=poll_warning source=%s warning=%r", source.name, warning)
        return outcome


def _articles_fields(enriched: Enriched) -> str:
    """Log fields for the article pages a poll fetched, when it fetched any: ``matched`` counts
    the feed's new entries; ``text_matched`` those an article text made match, new or older."""
    return f" articles={enriched.texts} text_matched={enriched.matched}" if enriched.texts else ""
