"""The fetcher against a real HTTP server on loopback: limits, deadlines, conditional GET, redirects, errors.

Every document here is written by the test itself; nothing leaves 127.0.0.x.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from monitor.errors import (
    BodyTooLarge,
    FetchConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RedirectError,
)
from monitor.net.fetcher import Fetcher, FetchResult, FetchSettings, Validators, parse_retry_after
from monitor.net.hosts import HostLimiter
from tests.support.httpserver import RESET, Chunk, RequestInfo, Response, TestServer, dribble

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
MB = 1_000_000


def fetch(url: str, validators: Validators | None = None, **settings: float | str) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(FetchSettings(**settings)) as fetcher:  # type: ignore[arg-type]
            return await fetcher.fetch(url, validators)

    return asyncio.run(go())


# --- success, headers, conditional GET ----------------------------------------------------------------------


def test_returns_body_type_headers_and_validators(http_server: TestServer) -> None:
    http_server.route(
        "/feed.xml",
        RSS,
        content_type="application/rss+xml; charset=utf-8",
        etag='"v1"',
        last_modified="Mon, 03 Feb 2025 10:00:00 GMT",
        headers={"X-Extra": "yes"},
    )
    result = fetch(http_server.url("/feed.xml"))
    assert (result.status, result.body, result.not_modified) == (200, RSS, False)
    assert result.url == http_server.url("/feed.xml")
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.headers["x-extra"] == "yes"
    assert result.validators == Validators('"v1"', "Mon, 03 Feb 2025 10:00:00 GMT")
    assert 0 <= result.elapsed < 5


def test_sends_user_agent_and_accepts_gzip_and_deflate(http_server: TestServer) -> None:
    http_server.route("/feed.xml", RSS)
    fetch(http_server.url("/feed.xml"), user_agent="monitor-test/9")
    sent = http_server.requests[-1].headers
    assert sent["user-agent"] == "monitor-test/9"
    assert {"gzip", "deflate"} <= {c.strip() for c in sent["accept-encoding"].split(",")}


@pytest.mark.parametrize(
    ("validators", "header"),
    [
        (Validators(etag='"v1"'), "if-none-match"),
        (Validators(last_modified="Mon, 03 Feb 2025 10:00:00 GMT"), "if-modified-since"),
    ],
    ids=["etag", "last-modified"],
)
def test_conditional_get_answers_304_with_empty_body(
    http_server: TestServer, validators: Validators, header: str
) -> None:
    http_server.route("/feed.xml", RSS, etag='"v1"', last_modified="Mon, 03 Feb 2025 10:00:00 GMT")
    result = fetch(http_server.url("/feed.xml"), validators)
    assert (result.status, result.body, result.not_modified) == (304, b"", True)
    assert http_server.requests[-1].headers[header] in (validators.etag, validators.last_modified)
    # Kept from the request or re-sent by the server: either way the next GET can use it.
    assert result.validators.etag == '"v1"'


def test_changed_document_is_fetched_in_full_despite_validators(http_server: TestServer) -> None:
    http_server.route("/feed.xml", RSS, etag='"v2"')
    result = fetch(http_server.url("/feed.xml"), Validators(etag='"v1"'))
    assert (result.status, result.body, result.validators.etag) == (200, RSS, '"v2"')


def test_empty_body_is_not_an_error(http_server: TestServer) -> None:
    http_server.route("/empty", b"", gzip_body=False)
    assert fetch(http_server.url("/empty")).body == b""


# --- content encodings --------------------------------------------------------------------------------------


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [("gzip", gzip.compress(RSS)), ("deflate", zlib.compress(RSS)), ("deflate", _raw_deflate(RSS))],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_inflates_compressed_bodies(http_server: TestServer, encoding: str, encoded: bytes) -> None:
    http_server.route("/feed.xml", encoded, headers={"Content-Encoding": encoding})
    assert fetch(http_server.url("/feed.xml")).body == RSS


@pytest.mark.parametrize(
    "encoded", [gzip.compress(RSS * 50)[:-30], b"\x1f\x8b not gzip at all"], ids=["truncated", "garbage"]
)
def test_corrupt_gzip_is_a_fetch_error(http_server: TestServer, encoded: bytes) -> None:
    http_server.route("/feed.xml", encoded, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="corrupt gzip body"):
        fetch(http_server.url("/feed.xml"))


def test_unrequested_encoding_is_refused_through_an_injected_transport() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"Content-Encoding": "br"}, content=b"x")
    )

    async def go() -> None:
        async with Fetcher(FetchSettings(), transport=transport) as fetcher:
            await fetcher.fetch("http://example.test/feed")

    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        asyncio.run(go())


# --- redirects ----------------------------------------------------------------------------------------------


def test_follows_relative_and_absolute_redirects_to_the_final_url(http_server: TestServer) -> None:
    http_server.redirect("/old/feed", "new", status=301)  # relative to /old/
    http_server.redirect("/old/new", "/moved?x=1", status=308)
    http_server.redirect("/moved", http_server.url("/final"), status=302)
    http_server.route("/final", RSS)
    result = fetch(http_server.url("/old/feed"))
    assert (result.url, result.body) == (http_server.url("/final"), RSS)
    assert [r.path for r in http_server.requests] == ["/old/feed", "/old/new", "/moved?x=1", "/final"]
    assert result.moved_to is None  # a 302 on the way: moved for now, not for good


def test_an_address_moved_for_good_is_told(http_server: TestServer) -> None:
    """301 and 308 all the way: the feed lives at the new address now (an ops test asked that
    the source say so, rather than follow it silently for months)."""
    http_server.redirect("/old", "/newer", status=301)
    http_server.redirect("/newer", "/feed", status=308)
    http_server.route("/feed", RSS)
    assert fetch(http_server.url("/old")).moved_to == http_server.url("/feed")
    assert fetch(http_server.url("/feed")).moved_to is None


def test_follows_a_redirect_to_another_host(http_server: TestServer) -> None:
    with TestServer(host="127.0.0.2") as other:
        other.route("/feed", RSS)
        http_server.redirect("/feed", other.url("/feed"))
        assert fetch(http_server.url("/feed")).url == other.url("/feed")


def test_every_redirect_hop_passes_the_callers_check_before_it_is_requested(http_server: TestServer) -> None:
    """Article fetches check each hop with the private-address guard: here a check that refuses 127.0.0.2."""
    seen: list[str] = []

    async def refuse_other_host(url: str) -> None:
        seen.append(url)
        if "127.0.0.2" in url:
            raise FetchError(f"refused {url}")

    async def go(url: str) -> FetchResult:
        async with Fetcher(FetchSettings()) as fetcher:
            return await fetcher.fetch(url, before_hop=refuse_other_host)

    with TestServer(host="127.0.0.2") as other:
        other.route("/feed", RSS)
        http_server.redirect("/a", "/b")
        http_server.redirect("/b", other.url("/feed"))
        with pytest.raises(FetchError, match="refused http://127.0.0.2"):
            asyncio.run(go(http_server.url("/a")))
        assert other.requests == []  # refused before it was asked
    assert seen == [http_server.url("/b"), other.url("/feed")]


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)], ids=["five-followed", "six-refused"])
def test_at_most_max_redirects(http_server: TestServer, hops: int, ok: bool) -> None:
    for i in range(hops):
        http_server.redirect(f"/r{i}", f"/r{i + 1}")
    http_server.route(f"/r{hops}", RSS)
    if ok:
        assert fetch(http_server.url("/r0")).url == http_server.url(f"/r{hops}")
    else:
        with pytest.raises(RedirectError, match=r"too many redirects \(more than 5\)"):
            fetch(http_server.url("/r0"))


def test_redirect_loop_is_an_error(http_server: TestServer) -> None:
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", "/a")
    with pytest.raises(RedirectError, match="redirect loop: .*/a -> .*/b -> .*/a"):
        fetch(http_server.url("/a"))


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "data:text/xml,<rss/>", "javascript:alert(1)"],
    ids=["file", "ftp", "data", "javascript"],
)
def test_redirect_to_a_non_http_scheme_is_refused(http_server: TestServer, location: str) -> None:
    http_server.redirect("/feed", location)
    with pytest.raises(RedirectError, match="non-http"):
        fetch(http_server.url("/feed"))


# --- deadline and size caps ---------------------------------------------------------------------------------


def test_a_dribbling_server_is_cut_off_at_the_whole_request_deadline(http_server: TestServer) -> None:
    http_server.handler("/slow", lambda request: Response(body=dribble(RSS, every=1.0, forever=True)))
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=r"timed out after 1\.5s"):
        fetch(http_server.url("/slow"), timeout=1.5)
    assert time.monotonic() - started < 2.5


def test_the_deadline_spans_redirects(http_server: TestServer) -> None:
    def slow_redirect(request: RequestInfo) -> Response:
        time.sleep(0.15)
        hop = int(request.path[2:])
        return Response(302, {"Location": f"/h{hop + 1}"})

    for i in range(5):
        http_server.handler(f"/h{i}", slow_redirect)  # 5 x 0.15 s, each hop well inside the deadline
    http_server.route("/h5", RSS)
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch(http_server.url("/h0"), timeout=0.4)
    assert time.monotonic() - started < 0.7


def _stream(total: int, chunk: bytes = b"x" * 65536) -> Iterator[bytes]:
    for _ in range(total // len(chunk)):
        yield chunk


def _peak_memory_of(fn: object) -> int:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_streamed_body_over_max_bytes_is_abandoned_with_flat_memory(http_server: TestServer) -> None:
    http_server.handler("/huge", lambda request: Response(body=_stream(50 * MB)))  # chunked, no length

    def attempt() -> None:
        with pytest.raises(BodyTooLarge, match=r"larger than fetch.max_bytes \(1000000\)"):
            fetch(http_server.url("/huge"), max_bytes=MB)

    assert _peak_memory_of(attempt) < 4 * MB


def test_a_declared_length_over_max_bytes_fails_before_reading(http_server: TestServer) -> None:
    # The body would take 20 s to arrive: only a failure before reading passes quickly.
    http_server.handler(
        "/big",
        lambda request: Response(headers={"Content-Length": str(50 * MB)}, body=dribble(RSS, every=1.0)),
    )
    started = time.monotonic()
    with pytest.raises(BodyTooLarge, match="Content-Length: 50000000"):
        fetch(http_server.url("/big"), max_bytes=MB)
    assert time.monotonic() - started < 1


def test_a_gzip_bomb_is_cut_while_inflating(http_server: TestServer) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(MB)
    bomb = b"".join(packer.compress(zeros) for _ in range(20)) + packer.flush()  # ~20 KB -> 20 MB
    assert len(bomb) < MB // 20
    http_server.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})

    def attempt() -> None:
        with pytest.raises(BodyTooLarge, match="once inflated"):
            fetch(http_server.url("/bomb"), max_bytes=MB)

    assert _peak_memory_of(attempt) < 5 * MB


# --- status codes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "HTTP 403 Forbidden"),
        (404, "HTTP 404 Not Found"),
        (410, "HTTP 410 Gone"),
        (500, "HTTP 500 Internal Server Error"),
        (300, "HTTP 300 Multiple Choices"),
    ],
    ids=["403", "404", "410", "500", "300-without-location"],
)
def test_other_statuses_are_http_status_errors(http_server: TestServer, status: int, message: str) -> None:
    http_server.route("/feed", "nope", status=status)
    with pytest.raises(HTTPStatusError, match=message) as caught:
        fetch(http_server.url("/feed"))
    assert (caught.value.status, caught.value.retry_after) == (status, None)


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(429, "120", 120.0), (503, "Wed, 21 Oct 2099 07:28:00 GMT", None), (503, "soon", None)],
    ids=["429-seconds", "503-http-date", "503-unreadable"],
)
def test_retry_after_is_reported_for_429_and_503(
    http_server: TestServer, status: int, retry_after: str, expected: float | None
) -> None:
    http_server.route("/feed", "busy", status=status, headers={"Retry-After": retry_after})
    with pytest.raises(HTTPStatusError) as caught:
        fetch(http_server.url("/feed"))
    assert caught.value.status == status
    if retry_after[0].isdigit():
        assert caught.value.retry_after == expected
    elif retry_after == "soon":
        assert caught.value.retry_after is None
    else:
        assert caught.value.retry_after is not None and caught.value.retry_after > 365 * 86400


NOW = datetime(2025, 2, 3, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        (" 0 ", 0.0),
        ("Mon, 03 Feb 2025 10:02:00 GMT", 120.0),
        ("Mon, 03 Feb 2025 09:00:00 GMT", 0.0),
        ("Monday, 03-Feb-25 10:01:00 GMT", 60.0),
        ("-5", None),
        ("1.5", None),
        ("9" * 400, float("inf")),  # the schedule caps it at 7 days; the error says "more than a week"
        ("", None),
        (None, None),
    ],
    ids=["seconds", "spaces", "http-date", "date-past", "rfc850", "negative", "fraction", "huge", "empty", "absent"],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


# --- connection failures and bad URLs -----------------------------------------------------------------------


def test_connection_refused_names_host_and_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens once it is closed
    with pytest.raises(FetchConnectError, match=f"connection refused: 127.0.0.1:{port}") as caught:
        fetch(f"http://127.0.0.1:{port}/feed")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    "body", [[RSS[:20], RESET], [RSS[:20]]], ids=["reset-mid-body", "closed-before-content-length"]
)
def test_a_connection_broken_mid_body_is_a_connect_error(http_server: TestServer, body: list[Chunk]) -> None:
    promise = {"Content-Length": "1000"}  # more than is sent
    http_server.handler("/feed", lambda request: Response(headers=promise, body=body))
    with pytest.raises(FetchConnectError, match="connection broken") as caught:
        fetch(http_server.url("/feed"))
    assert isinstance(caught.value.__cause__, httpx.TransportError)


@pytest.mark.parametrize(
    "url",
    ["not a url", "ftp://127.0.0.1/feed", "file:///etc/passwd", "http://", "/relative/feed", "http://[::1/"],
    ids=["words", "ftp", "file", "no-host", "relative", "bad-ipv6"],
)
def test_an_unfetchable_url_is_a_fetch_error(url: str) -> None:
    with pytest.raises(FetchError, match="invalid URL"):
        fetch(url)


# --- concurrency --------------------------------------------------------------------------------------------


class InFlight:
    """A handler that counts concurrent requests (across servers, if shared) and holds each one a while."""

    def __init__(self, hold: float) -> None:
        self.hold, self.now, self.peak = hold, 0, 0
        self._lock = threading.Lock()

    def __call__(self, request: RequestInfo) -> Response:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self._lock:
            self.now -= 1
        return Response(body=RSS)


def _fetch_all(urls: list[str], **settings: int) -> list[FetchResult]:
    async def go() -> list[FetchResult]:
        async with Fetcher(FetchSettings(**settings)) as fetcher:  # type: ignore[arg-type]
            return await asyncio.gather(*(fetcher.fetch(url) for url in urls))

    return asyncio.run(go())


def test_at_most_per_host_requests_in_flight_to_one_host(http_server: TestServer) -> None:
    counter = InFlight(hold=0.1)
    http_server.handler("/feed", counter)
    results = _fetch_all([http_server.url(f"/feed?n={i}") for i in range(6)], per_host=2)
    assert [r.body for r in results] == [RSS] * 6
    assert counter.peak == 2


def test_different_hosts_are_limited_separately(http_server: TestServer) -> None:
    counter = InFlight(hold=0.1)
    with TestServer(host="127.0.0.2") as other:
        for server in (http_server, other):
            server.handler("/feed", counter)
        urls = [server.url(f"/feed?n={i}") for server in (http_server, other) for i in range(3)]
        _fetch_all(urls, per_host=2)
    assert 3 <= counter.peak <= 4  # more than per_host: the two hosts do not share slots


def test_host_limiter_forgets_idle_hosts() -> None:
    async def go() -> int:
        limiter = HostLimiter(1)
        async with limiter.slot("a:1"), limiter.slot("b:2"):
            assert limiter.active_hosts() == 2
        return limiter.active_hosts()

    assert asyncio.run(go()) == 0


def test_concurrency_bounds_requests_in_flight_across_hosts(http_server: TestServer) -> None:
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(_request: RequestInfo) -> Response:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        with lock:
            active[0] -= 1
        return Response(200, {"Content-Type": "text/plain"}, b"ok")

    http_server.handler("/slow", slow)
    with TestServer(host="127.0.0.2") as other, TestServer(host="127.0.0.3") as third:
        other.handler("/slow", slow)
        third.handler("/slow", slow)
        urls = [s.url("/slow") for s in (http_server, other, third) for _ in range(3)]

        async def main() -> None:
            async with Fetcher(FetchSettings(per_host=3, concurrency=4)) as fetcher:
                await asyncio.gather(*(fetcher.fetch(u) for u in urls))

        asyncio.run(main())
    assert peak[0] == 4
