"""robots.txt against a real HTTP server on loopback: what it allows, status handling, the per-origin cache.

Every robots.txt here is written by the test itself; nothing leaves 127.0.0.x.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.net.fetcher import Fetcher, FetchSettings
from monitor.net.robots import (
    MAX_PARSED,
    RobotsDisallowed,
    RobotsPolicy,
    RobotsUnreachable,
    _matches,
    parse_robots,
)
from tests.support.httpserver import RequestInfo, Response, TestServer

UA = "monitor/0.1 (+https://example.org/monitor)"
T = TypeVar("T")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def run(go: Callable[[RobotsPolicy], Awaitable[T]], clock: Clock | None = None, **options: timedelta) -> T:
    """Run ``go`` with a fresh policy over a fresh fetcher sending our user agent."""

    async def main() -> T:
        async with Fetcher(FetchSettings(user_agent=UA)) as fetcher:
            return await go(RobotsPolicy(fetcher, UA, clock=clock or Clock(), **options))

    return asyncio.run(main())


def outcome(server: TestServer, path: str) -> str:
    """The word allowed, or the error class and message of a check of ``path`` on ``server``."""

    async def go(policy: RobotsPolicy) -> str:
        try:
            await policy.check(server.url(path))
        except RobotsDisallowed as exc:
            return f"{type(exc).__name__}: {exc}"
        return "allowed"

    return run(go)


def robots_requests(server: TestServer) -> int:
    return sum(r.path == "/robots.txt" for r in server.requests)


# --- what a robots.txt allows -------------------------------------------------------------------------------

# An HTML error page served as robots.txt, with a missing colon, binary junk and unknown keys around one rule.
MALFORMED = (
    "<html><body>Not a robots file\nDisallow /nocolon\n\x00\x01garbage: : :\nUser-agent: *\n"
    "Crawl-delay: soon\nNonsense: 42\nDisallow: /secret\n</body></html>\n"
)

CASES = [
    ("allow", "User-agent: *\nDisallow: /private/\n", "/cstp/ai/index.html", True),
    ("empty-file", "", "/anything", True),
    ("disallow-our-agent", "User-agent: monitor\nDisallow: /cstp/\n", "/cstp/ai/index.html", False),
    ("agent-case-insensitive", "USER-AGENT: Monitor/2.0\ndisallow: /cstp/\n", "/cstp/x", False),
    ("disallow-star-only", "User-agent: *\nDisallow: /\n", "/news.html", False),
    ("own-group-wins-over-star", "User-agent: *\nDisallow: /\n\nUser-agent: monitor\nAllow: /\n", "/a", True),
    ("other-agent-only", "User-agent: otherbot\nDisallow: /\n", "/news.html", True),
    ("monitorbot-is-not-monitor", "User-agent: monitorbot\nDisallow: /\n", "/news.html", True),
    (
        "groups-merged",
        "User-agent: monitor\nDisallow: /a/\nUser-agent: bot\nDisallow: /\nUser-agent: monitor\nDisallow: /b",
        "/b/x",
        False,
    ),
    (
        "agents-share-a-group",
        "User-agent: otherbot\nUser-agent: monitor\nDisallow: /b/\n",
        "/b/x",
        False,
    ),
    (
        "longest-allow-wins",
        "User-agent: *\nDisallow: /cstp/\nAllow: /cstp/ai/\n",
        "/cstp/ai/index.html",
        True,
    ),
    ("longest-disallow-wins", "User-agent: *\nAllow: /cstp/\nDisallow: /cstp/ai/\n", "/cstp/ai/x", False),
    ("tie-goes-to-allow", "User-agent: *\nDisallow: /page\nAllow: /page\n", "/page", True),
    ("empty-disallow-allows", "User-agent: *\nDisallow:\n", "/page", True),
    ("wildcard", "User-agent: *\nDisallow: /*/print/\n", "/news/print/1.html", False),
    ("dollar-anchors", "User-agent: *\nDisallow: /*.pdf$\n", "/a/b.pdf", False),
    ("dollar-not-at-end-of-url", "User-agent: *\nDisallow: /*.pdf$\n", "/a/b.pdf?x=1", True),
    ("query-is-matched", "User-agent: *\nDisallow: /search?\n", "/search?q=ai", False),
    (
        "non-ascii-rule-matches-escaped-url",
        "User-agent: *\nDisallow: /報道/\n",
        "/%E5%A0%B1%E9%81%93/1",
        False,
    ),
    ("escaped-unreserved-equals-plain", "User-agent: *\nDisallow: /%7Euser/\n", "/~user/page", False),
    ("comments-and-blank-lines", "# hi\nUser-agent: * # all\n\nDisallow: /x # no\n", "/x/1", False),
    ("byte-order-mark", "\ufeffUser-agent: *\nDisallow: /x\n", "/x", False),
    ("crlf", "User-agent: *\r\nDisallow: /x\r\n", "/x", False),
    ("robots-txt-always-allowed", "User-agent: *\nDisallow: /\n", "/robots.txt", True),
    ("rule-before-any-agent-ignored", "Disallow: /\nUser-agent: *\nDisallow: /x\n", "/news", True),
    (
        "malformed-allows-except-what-parses",
        MALFORMED,
        "/news",
        True,
    ),
    (
        "malformed-still-obeys-what-parses",
        MALFORMED,
        "/secret/1",
        False,
    ),
]


@pytest.mark.parametrize(("robots", "path", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(http_server: TestServer, robots: str, path: str, allowed: bool) -> None:
    http_server.route("/robots.txt", robots, content_type="text/plain")
    result = outcome(http_server, path)
    assert (result == "allowed") == allowed, result
    if not allowed:
        site = f"127.0.0.1:{http_server.port}"
        assert result.startswith(f"RobotsDisallowed: robots.txt of {site} disallows {path} for monitor/0.1")


def test_parse_robots_is_pure_and_reports_crawl_delay() -> None:
    rules = parse_robots(
        "User-agent: *\nCrawl-delay: 2\n\nUser-agent: monitor\nCrawl-delay: 7.5\n", "Monitor"
    )
    assert rules.crawl_delay == 7.5
    assert parse_robots("User-agent: *\nCrawl-delay: 2\n", "monitor").crawl_delay == 2.0


def test_hostile_wildcards_stay_fast() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /" + "*a" * 200 + "$\n", "monitor")
    assert rules.allows("/" + "a" * 5000 + "b")  # regex backtracking would take ages; this is one find a piece
    # a hostile-input test's file: 400,000 stars cost stars x path length (minutes, on the event loop)
    starred = parse_robots("User-agent: *\nDisallow: /" + "*" * 400_000 + "b\n", "monitor")
    assert not starred.allows("/" + "a" * 20_000 + "b") and starred.allows("/" + "a" * 20_000)


def _reference(pattern: str, path: str) -> bool:
    """RFC 9309's wildcards as a regular expression (fine for the short strings generated here)."""
    anchored = pattern.endswith("$")
    body = ".*".join(re.escape(piece) for piece in (pattern[:-1] if anchored else pattern).split("*"))
    return re.match(body + ("$" if anchored else ""), path, re.DOTALL) is not None


@given(st.text("ab*$", max_size=8), st.text("ab", max_size=10))
def test_wildcards_mean_what_the_rfc_says(pattern: str, path: str) -> None:
    assert _matches(pattern, path) == _reference(pattern, path)


def test_crawl_delay_through_the_policy(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "User-agent: monitor\nCrawl-delay: 5\n", content_type="text/plain")
    assert run(lambda policy: policy.crawl_delay(http_server.url("/page"))) == 5.0


def test_over_500_kib_only_the_first_500_kib_count(http_server: TestServer) -> None:
    padding = "# " + "x" * 98 + "\n"
    body = "User-agent: *\nDisallow: /early\n" + padding * (MAX_PARSED // len(padding)) + "Disallow: /late\n"
    assert len(body) > MAX_PARSED
    http_server.route("/robots.txt", body, content_type="text/plain")
    assert outcome(http_server, "/early").startswith("RobotsDisallowed")
    assert outcome(http_server, "/late") == "allowed"


def test_redirect_is_followed(http_server: TestServer) -> None:
    http_server.redirect("/robots.txt", "/real-robots.txt", status=301)
    http_server.route("/real-robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")
    assert outcome(http_server, "/x").startswith("RobotsDisallowed")


def test_redirect_loop_means_no_robots_txt(http_server: TestServer) -> None:
    http_server.redirect("/robots.txt", "/robots.txt")
    assert outcome(http_server, "/x") == "allowed"  # RFC 9309 §2.3.1.2: unavailable, like a 404


def test_sends_our_user_agent(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "", content_type="text/plain")
    outcome(http_server, "/x")
    assert http_server.requests[-1].headers["user-agent"] == UA


# --- status codes and failures ------------------------------------------------------------------------------

STATUSES = [
    ("404", 404, "allowed"),
    ("410", 410, "allowed"),
    ("403", 403, "allowed"),
    ("401", 401, "allowed"),
    ("429", 429, "RobotsUnreachable: robots.txt unreachable: HTTP 429 Too Many Requests"),
    ("500", 500, "RobotsUnreachable: robots.txt unreachable: HTTP 500 Internal Server Error"),
    ("503", 503, "RobotsUnreachable: robots.txt unreachable: HTTP 503 Service Unavailable"),
]


@pytest.mark.parametrize(("status", "expected"), [s[1:] for s in STATUSES], ids=[s[0] for s in STATUSES])
def test_status(http_server: TestServer, status: int, expected: str) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /\n", status=status, content_type="text/plain")
    assert outcome(http_server, "/page").startswith(expected)


def test_unreachable_says_which_site_and_what_next(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "oops", status=500, content_type="text/plain")
    message = outcome(http_server, "/page")
    assert f"from {http_server.url('/robots.txt')}" in message
    assert f"pages of 127.0.0.1:{http_server.port} are not fetched until it answers" in message


def test_connection_refused_is_unreachable() -> None:
    with TestServer() as gone:
        url = gone.url("/page")
    with pytest.raises(RobotsUnreachable, match=r"robots.txt unreachable: connection refused"):
        run(lambda policy: policy.check(url))


# --- the cache ----------------------------------------------------------------------------------------------


def test_two_checks_one_request(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")

    async def go(policy: RobotsPolicy) -> None:
        await policy.check(http_server.url("/a"))
        await policy.check(http_server.url("/b"))

    run(go)
    assert robots_requests(http_server) == 1


def test_concurrent_checks_share_one_request(http_server: TestServer) -> None:
    def slow(request: RequestInfo) -> Response:
        return Response(200, {"Content-Type": "text/plain"}, [0.2, b"User-agent: *\nDisallow: /x\n"])

    http_server.handler("/robots.txt", slow)

    async def go(policy: RobotsPolicy) -> list[BaseException | None]:
        checks = [policy.check(http_server.url(f"/{'x' if i % 2 else 'a'}/{i}")) for i in range(20)]
        return await asyncio.gather(*checks, return_exceptions=True)

    results = run(go)
    assert robots_requests(http_server) == 1
    assert [isinstance(r, RobotsDisallowed) for r in results] == [i % 2 == 1 for i in range(20)]


def test_cache_is_per_origin(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")
    with TestServer(host="127.0.0.2") as other:
        other.route("/robots.txt", "", content_type="text/plain")

        async def go(policy: RobotsPolicy) -> None:
            await policy.check(other.url("/x"))
            with pytest.raises(RobotsDisallowed):
                await policy.check(http_server.url("/x"))

        run(go)
        assert (robots_requests(http_server), robots_requests(other)) == (1, 1)


def test_expires_after_ttl(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")
    clock = Clock()

    async def go(policy: RobotsPolicy) -> list[int]:
        seen = []
        for step in (timedelta(0), timedelta(hours=23, minutes=59), timedelta(minutes=1), timedelta(hours=1)):
            clock.now += step
            await policy.check(http_server.url("/a"))
            seen.append(robots_requests(http_server))
        return seen

    assert run(go, clock) == [1, 1, 2, 2]


def test_unreachable_is_cached_briefly_then_retried(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "", status=503, content_type="text/plain")
    clock = Clock()

    async def go(policy: RobotsPolicy) -> None:
        for _ in range(2):
            with pytest.raises(RobotsUnreachable):
                await policy.check(http_server.url("/a"))
        assert robots_requests(http_server) == 1
        http_server.route("/robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")
        clock.now += timedelta(minutes=5)
        await policy.check(http_server.url("/a"))
        assert robots_requests(http_server) == 2

    run(go, clock, error_ttl=timedelta(minutes=5))


def test_failed_refresh_keeps_the_stale_copy(http_server: TestServer) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")
    clock = Clock()

    async def go(policy: RobotsPolicy) -> None:
        await policy.check(http_server.url("/a"))
        http_server.route("/robots.txt", "", status=503, content_type="text/plain")
        clock.now += timedelta(days=2)
        await policy.check(http_server.url("/a"))  # RFC 9309 §2.4: the cached copy, not "disallow all"
        with pytest.raises(RobotsDisallowed):
            await policy.check(http_server.url("/x"))
        clock.now += timedelta(minutes=1)
        await policy.check(http_server.url("/a"))  # retried after error_ttl, not a day later
        assert robots_requests(http_server) == 3

    run(go, clock)
