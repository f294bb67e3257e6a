"""Article text for entries whose feed gives only a title or a short summary.

A source or a topic with `fetch_article: true` asks for it: the poll that stores a new entry
of such a source (or one matching such a topic) whose summary is short queues its page
(monitor.store.article_queue); then, and at each later poll of the source, the queued pages
are fetched — only public addresses unless `fetch.allow_private`, robots.txt obeyed, at most
one request per host per second, within the fetch limits — and their main text extracted,
stored, indexed and matched. The page's og:description and published time fill in what the
feed lacked. A page a shutdown or a crash interrupted is fetched at the next poll; one that
fails is tried again later, three times in all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from monitor.config import Config, SourceConfig
from monitor.core.digest import alert_floor
from monitor.core.intake import credible_date
from monitor.core.topics import TopicSet
from monitor.errors import MonitorError, SchemaChanged
from monitor.ingest.article import extract_article
from monitor.net.fetcher import Fetcher
from monitor.net.guard import check_public_async
from monitor.net.robots import RobotsPolicy, RobotsUnreachable
from monitor.store.archive import Archive, ArticleStored, Indexed
from monitor.store.article_queue import ArticleQueue

log = logging.getLogger("monitor.articles")
PER_POLL = 30  # pages fetched at most per poll of one source
HOST_SPACING = 1.0  # seconds between two article requests to one host


class Enriched(NamedTuple):
    texts: int = 0  # pages whose text was stored
    matched: int = 0  # ... of entries that matched no topic until then


NOTHING = Enriched()


class Articles:
    def __init__(self, *, config: Config, fetcher: Fetcher, archive: Archive,
                 topics: TopicSet, clock: Callable[[], datetime], alert_topics: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.fetcher = fetcher
        # Its own robots.txt cache: an article host's robots.txt is fetched under the same guard
        # as its pages (public addresses only: every hop checked, connections only to checked ones).
        self._guarded = not config.fetch.allow_private
        self.robots = RobotsPolicy(fetcher, config.fetch.user_agent, clock=clock, before_hop=self._public,
                                   guarded=self._guarded)
        self.archive = archive
        self.topics = topics
        self.clock = clock
        self.tz = ZoneInfo(config.timezone)
        self.queue = ArticleQueue(archive.engine)
        self._asking = {t.name for t in config.topics if t.fetch_article}
        self.alert_topics = alert_topics  # a topic first matched by the article text alerts too
        self._last: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def wanted(self, source: SourceConfig) -> bool:
        return source.fetch_article or bool(self._asking)

    async def enrich(self, source: SourceConfig, source_id: int) -> Enriched:
        """Fetch and store the queued pages of the source that are due: how many got text, and
        how many of those match a topic they did not match before."""
        done = matched = 0
        unreachable: Counter[str] = Counter()  # host -> its pages that robots.txt kept out this round
        for page in await asyncio.to_thread(self.queue.due, source_id, self.clock(), PER_POLL):
            try:
                added = await self._one(page.entry_id, page.url, page.title, page.summary, page.published)
            except SchemaChanged:
                raise
            except Exception as exc:  # one page failing never fails the poll; it is tried again later
                given_up = await asyncio.to_thread(self.queue.failed, page, self.clock())
                if not isinstance(exc, MonitorError):  # a bug of ours: it must not block the queue either
                    log.exception("event=article_crashed source=%s url=%s", source.name, page.url)
                if isinstance(exc, RobotsUnreachable) and not given_up:
                    host = urlsplit(page.url).hostname or ""
                    unreachable[host] += 1
                    if unreachable[host] > 1:
                        continue  # one line per host, not one per page
                log.warning("event=article_failed source=%s url=%s error=%r%s", source.name, page.url, str(exc),
                            " given_up=1" if given_up else "")
                continue
            if added is None:
                await asyncio.to_thread(self.queue.drop, page.entry_id)
                continue
            done += 1
            matched += added.first_match  # one that matched by its title already is counted by the poll
        for host, pages in unreachable.items():
            if pages > 1:
                log.warning("event=article_failed source=%s host=%s pages=%d error='robots.txt unreachable, as above'",
                            source.name, host, pages - 1)
        return Enriched(done, matched)

    async def _one(self, entry_id: int, url: str, title: str, summary: str,
                   published: datetime | None) -> ArticleStored | None:
        """The page's text stored: what it made the entry match; None when the page had no text,
        or another worker stored it first."""
        await self._public(url)
        await self.robots.check(url)
        await self._pace(urlsplit(url).hostname or "")
        # every redirect hop is checked too, and connections go only to checked addresses (DNS rebinding)
        fetched = await self.fetcher.fetch(url, before_hop=self._public, guarded=self._guarded)
        article = await asyncio.to_thread(extract_article, fetched.body, url=fetched.url,
                                          content_type=fetched.content_type, tz=self.tz)
        if not article.text:
            return None
        summary = summary or (article.description or "")
        analysed = self.topics.analyse(title, summary, article.text)
        stored = await asyncio.to_thread(self.archive.set_article, entry_id, text=article.text, summary=summary,
                                published=published or credible_date(article.published, self.clock()),
                                indexed=Indexed(analysed.tokens, analysed.topics, analysed.hits), now=self.clock(),
                                alert_topics=self.alert_topics, alert_since=self._alert_floor())
        if stored is None:  # another worker stored it meanwhile
            return None
        log.info("event=article source_entry=%d chars=%d topics=%s", entry_id, len(article.text),
                 ",".join(analysed.topics) or "-")
        return stored

    def _alert_floor(self) -> datetime:
        digest = self.config.digest
        return alert_floor(self.clock(), digest.at, self.config.tz, digest.lookback)

    async def _public(self, url: str) -> None:
        await check_public_async(url, allow_private=self.config.fetch.allow_private)

    async def _pace(self, host: str) -> None:
        """At most one article request per host per second (across this process)."""
        async with self._lock:
            wait = self._last.get(host, 0.0) + HOST_SPACING - time.monotonic()
            self._last[host] = time.monotonic() + max(wait, 0.0)
        if wait > 0:
            await asyncio.sleep(wait)
