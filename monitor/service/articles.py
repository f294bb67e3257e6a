"""Article text for entries whose feed gives only a title or a short summary.

A source or a topic with `fetch_article: true` asks for it: after a poll, each new entry of
such a source (or new entry matching such a topic) whose summary is short gets its page
fetched — only public addresses unless `fetch.allow_private`, robots.txt obeyed, at most
one request per host per second, within the fetch limits — and its main text extracted,
stored, indexed and matched. The page's og:description and published time fill in what the
feed lacked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select

from monitor.config import Config, SourceConfig
from monitor.core.intake import credible_date
from monitor.core.topics import TopicSet
from monitor.errors import MonitorError
from monitor.ingest.article import extract_article
from monitor.net.fetcher import Fetcher
from monitor.net.guard import check_public_async
from monitor.net.robots import RobotsPolicy
from monitor.store.archive import Archive, Indexed
from monitor.store.reading import Reader
from monitor.store.schema import matches

log = logging.getLogger("monitor.articles")
SHORT_SUMMARY = 280  # characters: a summary shorter than this says too little to match on
PER_POLL = 30  # pages fetched at most per poll of one source
HOST_SPACING = 1.0  # seconds between two article requests to one host


class Articles:
    def __init__(self, *, config: Config, fetcher: Fetcher, archive: Archive, reader: Reader,
                 topics: TopicSet, clock: Callable[[], datetime], alert_topics: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.fetcher = fetcher
        # Its own robots.txt cache: an article host's robots.txt is fetched under the same guard
        # as its pages (public addresses only: every hop checked, connections only to checked ones).
        self._guarded = not config.fetch.allow_private
        self.robots = RobotsPolicy(fetcher, config.fetch.user_agent, clock=clock, before_hop=self._public,
                                   guarded=self._guarded)
        self.archive = archive
        self.reader = reader
        self.topics = topics
        self.clock = clock
        self.tz = ZoneInfo(config.timezone)
        self._asking = {t.name for t in config.topics if t.fetch_article}
        self.alert_topics = alert_topics  # a topic first matched by the article text alerts too
        self._last: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def wanted(self, source: SourceConfig) -> bool:
        return source.fetch_article or bool(self._asking)

    async def enrich(self, source: SourceConfig, new_ids: Sequence[int]) -> int:
        """Fetch and store the text of the entries that need it; returns how many got text."""
        ids = list(new_ids) if source.fetch_article else await asyncio.to_thread(self._matching_asking, new_ids)
        rows = [r for r in await asyncio.to_thread(self.reader.by_ids, ids[:PER_POLL])
                if r.url and len(r.summary) < SHORT_SUMMARY and not r.text]
        done = 0
        for row in rows:
            try:
                done += await self._one(row.id, row.url or "", row.title, row.summary, row.published)
            except MonitorError as exc:  # one page failing never fails the poll
                log.warning("event=article_failed source=%s url=%s error=%r", source.name, row.url, str(exc))
        return done

    def _matching_asking(self, ids: Sequence[int]) -> list[int]:
        if not self._asking or not ids:
            return []
        with self.archive.engine.connect() as conn:
            return sorted({r[0] for r in conn.execute(select(matches.c.entry_id).where(
                matches.c.entry_id.in_(list(ids)), matches.c.topic.in_(sorted(self._asking))))})

    async def _one(self, entry_id: int, url: str, title: str, summary: str, published: datetime | None) -> int:
        await self._public(url)
        await self.robots.check(url)
        await self._pace(urlsplit(url).hostname or "")
        # every redirect hop is checked too, and connections go only to checked addresses (DNS rebinding)
        fetched = await self.fetcher.fetch(url, before_hop=self._public, guarded=self._guarded)
        article = await asyncio.to_thread(extract_article, fetched.body, url=fetched.url,
                                          content_type=fetched.content_type, tz=self.tz)
        if not article.text:
            return 0
        summary = summary or (article.description or "")
        analysed = self.topics.analyse(title, summary, article.text)
        await asyncio.to_thread(self.archive.set_article, entry_id, text=article.text, summary=summary,
                                published=published or credible_date(article.published, self.clock()),
                                indexed=Indexed(analysed.tokens, analysed.topics, analysed.hits), now=self.clock(),
                                alert_topics=self.alert_topics)
        log.info("event=article source_entry=%d chars=%d topics=%s", entry_id, len(article.text),
                 ",".join(analysed.topics) or "-")
        return 1

    async def _public(self, url: str) -> None:
        await check_public_async(url, allow_private=self.config.fetch.allow_private)

    async def _pace(self, host: str) -> None:
        """At most one article request per host per second (across this process)."""
        async with self._lock:
            wait = self._last.get(host, 0.0) + HOST_SPACING - time.monotonic()
            self._last[host] = time.monotonic() + max(wait, 0.0)
        if wait > 0:
            await asyncio.sleep(wait)
