"""Google News items: headline and outlet split, links resolved to the publisher's URL.

A Google News item's link is a redirect address. Where the id decodes offline (2024-style
ids) or the redirect can be followed, the entry gets the publisher's URL, so it is the same
entry as the one the publisher's own feed brings; the mapping is remembered in
`google_links` (unresolvable links too), so each link costs at most one request and an
entry's identity never changes between polls. An unresolvable item keeps its Google link
(and clusters with the publisher's copy by its title).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Engine, insert, select

from monitor.core.entry import EntryDraft
from monitor.ingest.google_news import google_item
from monitor.net.fetcher import Fetcher
from monitor.net.guard import check_public_async
from monitor.net.redirects import resolve_redirect
from monitor.store.db import writer
from monitor.store.schema import google_links

GOOGLE_HOSTS = ("news.google.com",)


class GoogleLinks:
    def __init__(self, engine: Engine, fetcher: Fetcher, clock: Callable[[], datetime],
                 hosts: tuple[str, ...] = GOOGLE_HOSTS, *, allow_private: bool = False) -> None:
        self.engine = engine
        self.fetcher = fetcher
        self.clock = clock
        self.hosts = hosts  # only these links are followed: a feed's links can point anywhere
        # ... and where they redirect is guarded as for article pages: public addresses only,
        # every hop checked, connections only to the checked addresses (fetch.allow_private lifts it)
        self.allow_private = allow_private

    async def rewrite(self, drafts: list[EntryDraft]) -> list[EntryDraft]:
        items = [google_item(d, d.publisher) for d in drafts]
        links = [i.google_link for i in items if i.google_link and not i.publisher_url
                 and (urlsplit(i.google_link).hostname or "").lower() in self.hosts]
        known = await asyncio.to_thread(self._cached, links)
        unknown = [link for link in dict.fromkeys(links) if link not in known]
        guarded = not self.allow_private
        resolved = await asyncio.gather(*(resolve_redirect(self.fetcher, link, before_hop=self._public if guarded else None,
                                                           guarded=guarded) for link in unknown))
        fresh = dict(zip(unknown, resolved, strict=True))
        if fresh:
            await asyncio.to_thread(self._remember, list(fresh.items()))
        known.update(fresh)
        out = []
        for draft, item in zip(drafts, items, strict=True):
            target = item.publisher_url or (known.get(item.google_link) if item.google_link else None)
            out.append(dataclasses.replace(draft, title=item.headline or draft.title, link=target or draft.link,
                                           publisher=item.publisher or draft.publisher))
        return out

    async def _public(self, url: str) -> None:
        await check_public_async(url, allow_private=self.allow_private)

    def _cached(self, links: list[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(links), 500):
                for r in conn.execute(select(google_links).where(google_links.c.google_url.in_(links[i:i + 500]))):
                    found[r.google_url] = r.publisher_url
        return found

    def _remember(self, pairs: list[tuple[str, str | None]]) -> None:
        now = self.clock()
        with writer(self.engine).begin() as conn:
            have = {r[0] for r in conn.execute(select(google_links.c.google_url)
                                               .where(google_links.c.google_url.in_([p[0] for p in pairs])))}
            rows = [{"google_url": g, "publisher_url": p, "resolved_at": now} for g, p in pairs if g not in have]
            if rows:
                conn.execute(insert(google_links), rows)

