"""robots.txt (RFC 9309): may this crawler fetch this page? Asked before every html page and every page
fetched beyond a feed (issue 3); a page the site keeps us out of is a source error, never a silent skip.

Responsible for: fetching ``/robots.txt`` once per origin through the shared Fetcher (so its per-host limit,
deadline, size cap and user agent apply), caching the answer per origin for ``ttl``, and reading the rules
that apply to our product token. The parser is a small one of our own rather than ``urllib.robotparser``,
which (3.11) takes the first matching rule instead of the longest (so ``Disallow: /a/`` then
``Allow: /a/b/`` forbids /a/b/), knows no ``*`` or ``$`` wildcards, and drops the first group of a file that
starts with a byte-order mark; each of these turns up in real files.

Not responsible for: fetching the pages themselves, honouring Crawl-delay (``crawl_delay`` only reports it;
the scheduler decides), feeds (a subscribed feed is meant for machines, as most crawlers treat it).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import quote

import httpx

from monitor.errors import FetchError, HTTPStatusError, RedirectError
from monitor.net.fetcher import Fetcher

MAX_PARSED = 500 * 1024  # RFC 9309 §2.5: parse at least the first 500 KiB; we parse exactly that


class RobotsDisallowed(FetchError):
    """robots.txt forbids our user agent this page."""


class RobotsUnreachable(RobotsDisallowed):
    """robots.txt answered 5xx/429 or not at all: RFC 9309 §2.3.1.4 says assume complete disallow, for now."""


class _Rule(NamedTuple):
    allow: bool
    pattern: str  # percent-encoded as _encode does, so that it compares with a path byte for byte


@dataclass(frozen=True)
class RobotsRules:
    """The rules of one robots.txt that apply to one product token. Pure: no I/O."""

    rules: tuple[_Rule, ...] = ()
    crawl_delay: float | None = None

    def allows(self, path: str) -> bool:
        """Whether ``path`` (with its query) may be fetched: the longest matching pattern wins and Allow wins
        a tie (RFC 9309 §2.2.2); no match allows. /robots.txt itself is always allowed."""
        target = _encode(path or "/")
        if target == "/robots.txt":
            return True
        best: _Rule | None = None
        for rule in self.rules:
            if (best is None or (len(rule.pattern), rule.allow) > (len(best.pattern), best.allow)) and (
                _matches(rule.pattern, target)
            ):
                best = rule
        return best is None or best.allow


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[_Rule] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    closed: bool = False  # a member line was seen: the next user-agent line starts a new group


_LINE = re.compile(r"\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")
# RFC 9309 §2.2.1: a product token is letters, "_" and "-"; "Googlebot/2.1" or "Googlebot News" -> "Googlebot"
_TOKEN = re.compile(r"[^A-Za-z_-]")


def parse_robots(text: str, product: str) -> RobotsRules:
    """The rules for ``product`` (case-insensitive): its groups merged, else the ``*`` groups merged, else
    none (RFC 9309 §2.2.1). Lines that do not parse are ignored, so a broken file still yields what parses."""
    groups: list[_Group] = []
    for line in text.removeprefix("\ufeff").splitlines():
        match = _LINE.match(line.split("#", 1)[0])
        if match is None:
            continue
        key, value = match[1].lower(), match[2]
        if key == "user-agent":
            if not groups or groups[-1].closed:
                groups.append(_Group())
            groups[-1].agents.append("*" if value == "*" else _TOKEN.split(value, 1)[0].lower())
        elif groups and key in ("allow", "disallow", "crawl-delay"):
            group = groups[-1]
            group.closed = True
            if key == "crawl-delay":
                try:
                    group.delays.append(float(value))
                except ValueError:
                    pass
            elif value:  # an empty "Disallow:" matches nothing
                group.rules.append(_Rule(key == "allow", _encode(value)))
    token = product.lower()
    chosen = [g for g in groups if token in g.agents] or [g for g in groups if "*" in g.agents]
    delays = [d for g in chosen for d in g.delays if d >= 0]
    # Several groups for one agent may disagree on the delay: the longest one is the polite reading.
    return RobotsRules(tuple(r for g in chosen for r in g.rules), max(delays, default=None))


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _encode(path: str) -> str:
    """One spelling per path (RFC 9309 §2.2.2): non-ASCII as UTF-8 escapes, escapes of unreserved characters
    decoded, hex in capitals; so ``/報道/`` in a file matches ``/%e5%a0%b1%e9%81%93/`` in a URL."""
    path = "".join(c if c.isascii() else quote(c, safe="") for c in path)

    def one(m: re.Match[str]) -> str:
        char = chr(int(m[1], 16))
        return char if char in _UNRESERVED else f"%{m[1].upper()}"

    return _ESCAPE.sub(one, path)


def _matches(pattern: str, path: str) -> bool:
    """``*`` is any run of characters, a final ``$`` ends the path (RFC 9309 §2.2.3).

    The pieces between stars are found in order, each at its first place after the one before:
    with ``*`` the only wildcard, the first place is never worse than a later one, so this is
    exact, and it costs one ``str.find`` per piece. (Walking every reachable position cost stars
    times path length: a hostile file of 400,000 stars blocked the event loop for minutes.)"""
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    if "*" not in pattern:
        return path == pattern if anchored else path.startswith(pattern)
    first, *middle, last = pattern.split("*")
    if not path.startswith(first):
        return False
    at = len(first)
    for piece in middle:
        found = path.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    if anchored:
        return path.endswith(last) and len(path) - len(last) >= at
    return path.find(last, at) >= 0


@dataclass(frozen=True)
class _Entry:
    rules: RobotsRules | None  # None: unreachable, everything disallowed until ``expires``
    expires: datetime
    error: FetchError | None = None


class RobotsPolicy:
    """Answers "may we fetch this URL?" from each origin's robots.txt, fetched at most once per ``ttl``.

    Concurrent checks of one origin wait for a single fetch (a lock per origin), so twenty pages of one
    host cost one robots.txt request. An unreachable robots.txt is remembered only for ``error_ttl``.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        user_agent: str,
        *,
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(days=1),
        error_ttl: timedelta = timedelta(minutes=1),
        before_hop: Callable[[str], Awaitable[None]] | None = None,
        guarded: bool = False,
    ) -> None:
        self._fetcher = fetcher
        self._before_hop, self._guarded = before_hop, guarded  # Fetcher.fetch's, for article hosts
        self._product = user_agent.split("/", 1)[0].strip()  # "monitor/0.1 (+https://…)" -> "monitor"
        self._agent = (user_agent.split() or [user_agent])[0]  # "monitor/0.1", for messages
        self._clock = clock
        self._ttl = ttl
        self._error_ttl = error_ttl
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str) -> None:
        """Return if ``url`` may be fetched; raise RobotsDisallowed (RobotsUnreachable when robots.txt could
        not be read) if not. A URL that is not absolute http(s) is left for the fetcher to refuse."""
        parsed = _http_url(url)
        if parsed is None or parsed.raw_path == b"/robots.txt":
            return
        entry = await self._entry(parsed)
        site = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
        if entry.rules is None:
            raise RobotsUnreachable(
                f"robots.txt unreachable: {entry.error}; pages of {site} are not fetched until it answers "
                "(retried on the next poll)"
            ) from entry.error
        path = parsed.raw_path.decode("ascii")
        if not entry.rules.allows(path):
            raise RobotsDisallowed(
                f"robots.txt of {site} disallows {path} for {self._agent}: "
                "the site asks crawlers to keep out; remove the source or follow the site's feed instead"
            )

    async def crawl_delay(self, url: str) -> float | None:
        """The Crawl-delay (seconds) robots.txt asks of us for ``url``'s origin, if any (not in RFC 9309)."""
        parsed = _http_url(url)
        entry = await self._entry(parsed) if parsed is not None else None
        return entry.rules.crawl_delay if entry is not None and entry.rules is not None else None

    async def _entry(self, url: httpx.URL) -> _Entry:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}/robots.txt"  # netloc has no userinfo
        entry = self._cache.get(origin)
        if entry is not None and self._clock() < entry.expires:
            return entry
        async with self._locks.setdefault(origin, asyncio.Lock()):
            entry = self._cache.get(origin)  # another task may have fetched it while we waited
            if entry is None or self._clock() >= entry.expires:
                entry = self._cache[origin] = await self._load(origin, entry)
            return entry

    async def _load(self, robots_url: str, previous: _Entry | None) -> _Entry:
        """RFC 9309 §2.3.1: 2xx parse; 4xx (429 aside) and redirect failures: no rules; 5xx, 429 and network
        errors: disallow all, but keep a stale copy if we have one (§2.4 allows it) and retry soon."""
        try:
            result = await self._fetcher.fetch(robots_url, before_hop=self._before_hop, guarded=self._guarded)
        except (HTTPStatusError, RedirectError) as exc:
            # A redirect we would not follow (over 5 hops, a loop) is "unavailable", like a 404 (§2.3.1.2)
            status = exc.status if isinstance(exc, HTTPStatusError) else 404
            if status < 500 and status != 429:  # Google treats 429 as a server error
                return _Entry(RobotsRules(), self._clock() + self._ttl)
            error: FetchError = exc
        except FetchError as exc:  # timeout, connection, size cap, corrupt body
            error = exc
        else:
            body = result.body[:MAX_PARSED]
            if len(result.body) > MAX_PARSED:  # a line cut in the middle could say something it did not
                body = body[: body.rfind(b"\n") + 1]
            text = body.decode("utf-8", errors="replace")
            return _Entry(parse_robots(text, self._product), self._clock() + self._ttl)
        stale = previous.rules if previous is not None else None
        return _Entry(stale, self._clock() + self._error_ttl, error)


def _http_url(url: str) -> httpx.URL | None:
    """``url`` parsed if it is absolute http(s); anything else is for the fetcher to refuse, and say why."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    return parsed if parsed.scheme in ("http", "https") and parsed.host else None
