"""A fault-injection server: every way a feed server on the internet goes wrong, on demand, on loopback.

Three real servers on 127.0.0.1: plain HTTP, HTTPS with a certificate from a test CA made now (trusted by
the client when the test points SSL_CERT_FILE at ``ca_file``), and HTTPS with a certificate from another CA
that nobody trusts. ``healthy()`` serves a good feed or listing page; ``fault(name)`` sets up one fault of
``FAULTS`` and returns the address that produces it.

    faults = FaultServer(tmp_path)
    url = faults.healthy("feed", items)          # a good RSS feed
    url = faults.fault("gzip-bomb")              # 50 MB of zeros in a 50 KB gzip body
"""

from __future__ import annotations

import gzip
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import trustme

from tests.support.httpserver import RESET, Chunk, RequestInfo, Response, TestServer, dribble

Item = tuple[str, str]  # (title, link)

STALL = 4.0  # seconds a stalled server waits: longer than the tests' fetch.timeout
MAX_BYTES = 3_000_000  # the tests' fetch.max_bytes


def rss(items: Sequence[Item], *, encoding: str = "utf-8", extra: str = "") -> str:
    """An RSS 2.0 document declaring ``encoding`` (the caller encodes it, rightly or not)."""
    body = "".join(f"<item><title>{t}</title><link>{link}</link>{extra}</item>" for t, link in items)
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel><title>Faults</title>'
            f"<link>http://example.com/</link>{body}</channel></rss>")


def listing(items: Sequence[Item], *, charset: str | None = "utf-8") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    lis = "".join(f'<li class="news"><a href="{link}">{t}</a></li>' for t, link in items)
    return f"<html><head>{meta}<title>News</title></head><body><ul>{lis}</ul></body></html>"


def _bomb(doctype: str, use: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{doctype}\n]>\n<rss version="2.0"><channel><title>t</title>'
            f"<item><title>{use}</title><link>https://bomb.example/1</link></item></channel></rss>").encode()


def billion_laughs() -> bytes:
    lines = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)]
    return _bomb("\n".join(lines), "&lol9;")


def quadratic_blowup() -> bytes:
    return _bomb(f'<!ENTITY a "{"A" * 50_000}">', "&a;" * 50_000)


def external_entity(target: str) -> bytes:
    return _bomb(f'<!ENTITY x SYSTEM "{target}">', "secret: &x;")


class FaultServer:
    """HTTP, trusted HTTPS and untrusted HTTPS servers on 127.0.0.1 with a fault for every row of the matrix."""

    def __init__(self, tmp: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = tmp / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.http = TestServer()
        self.https = TestServer(ssl_context=_server_context(self.ca))
        self.untrusted = TestServer(ssl_context=_server_context(trustme.CA()))

    def healthy(self, kind: str, items: Sequence[Item], *, tls: bool = False) -> str:
        """A good feed (kind "feed") or listing page ("html") with these items."""
        server = self.https if tls else self.http
        if kind == "html":
            server.route("/healthy", listing(items), content_type="text/html; charset=utf-8")
        else:
            server.route("/healthy", rss(items), content_type="application/rss+xml")
        return server.url("/healthy")

    def fault(self, name: str) -> str:
        """Set up fault ``name`` (a key of FAULTS) and return the URL that produces it."""
        return FAULTS[name](self)

    def route(self, path: str, body: bytes | str, *, server: TestServer | None = None, **options: object) -> str:
        server = server or self.http
        server.route(path, body, **options)  # type: ignore[arg-type]
        return server.url(path)

    def handle(self, path: str, fn: Callable[[RequestInfo], Response]) -> str:
        self.http.handler(path, fn)
        return self.http.url(path)

    def forget_requests(self) -> None:
        """Empty the servers' request logs (a memory test measures the client, not this log)."""
        for server in (self.http, self.https, self.untrusted):
            server.requests.clear()

    def close(self) -> None:
        for server in (self.http, self.https, self.untrusted):
            server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def _free_port() -> int:
    """A port nothing listens on: bound, then released (connect refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stalled(request: RequestInfo) -> Response:
    time.sleep(STALL)  # no status line at all until the client has given up
    return Response(200, {"Content-Type": "application/rss+xml"}, rss([("late", "https://late.example/")]))


def _reset_mid_body(request: RequestInfo) -> Response:
    whole = rss([(f"item {i}", f"https://reset.example/{i}") for i in range(200)]).encode()
    parts: list[Chunk] = [whole[: len(whole) // 2], RESET]
    return Response(200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(whole))}, parts)


def _endless(request: RequestInfo) -> Response:
    chunk = b"<item><title>more</title></item>" * 1000
    return Response(200, {"Content-Type": "application/rss+xml"},
                    (chunk for _ in range(2 * MAX_BYTES // len(chunk) + 2)))


def _gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * (50 * MAX_BYTES), compresslevel=9)


def _truncated_gzip() -> bytes:
    whole = gzip.compress(rss(_items("gz", 50)).encode())
    return whole[: len(whole) // 2]


def _items(prefix: str, n: int) -> list[Item]:
    return [(f"{prefix} {i}", f"https://{prefix}.example/{i}") for i in range(n)]


FAULTS: dict[str, Callable[[FaultServer], str]] = {
    # Network
    "connect-refused": lambda fs: f"http://127.0.0.1:{_free_port()}/feed",
    "dns-failure": lambda fs: "http://feed.invalid/feed",
    "read-timeout": lambda fs: fs.handle("/stall", _stalled),
    "dribble": lambda fs: fs.handle("/dribble", lambda r: Response(
        200, {"Content-Type": "application/rss+xml"}, dribble(rss(_items("drip", 3)).encode(), 0.5))),
    "reset-mid-body": lambda fs: fs.handle("/reset", _reset_mid_body),
    "tls-untrusted": lambda fs: fs.route("/feed", rss(_items("tls", 2)), server=fs.untrusted,
                                         content_type="application/rss+xml"),
    "https-trusted": lambda fs: fs.route("/feed", rss(_items("https", 2)), server=fs.https,
                                         content_type="application/rss+xml"),
    "http-403": lambda fs: fs.route("/403", "forbidden", status=403, content_type="text/plain"),
    "http-404": lambda fs: fs.route("/404", "not found", status=404, content_type="text/plain"),
    "http-410": lambda fs: fs.route("/410", "gone", status=410, content_type="text/plain"),
    "http-429": lambda fs: fs.route("/429", "slow down", status=429, content_type="text/plain",
                                    headers={"Retry-After": "120"}),
    "http-503": lambda fs: fs.route("/503", "busy", status=503, content_type="text/plain",
                                    headers={"Retry-After": "120"}),
    "http-500": lambda fs: fs.route("/500", "boom", status=500, content_type="text/plain"),
    "redirect-loop": lambda fs: (fs.http.redirect("/loop-b", "/loop-a"), fs.http.redirect("/loop-a", "/loop-b"),
                                 fs.http.url("/loop-a"))[-1],
    "redirect-file": lambda fs: (fs.http.redirect("/to-file", "file:///etc/passwd"), fs.http.url("/to-file"))[-1],
    "redirect-ftp": lambda fs: (fs.http.redirect("/to-ftp", "ftp://127.0.0.1/feed.xml"), fs.http.url("/to-ftp"))[-1],
    "redirect-gopher": lambda fs: (fs.http.redirect("/to-gopher", "gopher://127.0.0.1:70/1"),
                                   fs.http.url("/to-gopher"))[-1],
    # Bodies
    "empty-body": lambda fs: fs.route("/empty", b"", content_type="application/rss+xml"),
    "over-max-bytes": lambda fs: fs.handle("/huge", _endless),
    "gzip-bomb": lambda fs: fs.route("/bomb", _gzip_bomb(), content_type="application/rss+xml",
                                     headers={"Content-Encoding": "gzip"}),
    "truncated-gzip": lambda fs: fs.route("/truncated", _truncated_gzip(),
                                          content_type="application/rss+xml", headers={"Content-Encoding": "gzip"}),
    "wrong-charset": lambda fs: fs.route(
        "/sjis-as-utf8", rss([("ソフトバンクとOpenAIが合弁会社", "https://charset.example/1")]).encode("cp932"),
        content_type="application/rss+xml; charset=utf-8"),
    "invalid-utf8": lambda fs: fs.route(
        "/bad-utf8", rss([("ソフトバンク\udcff合弁", "https://utf8.example/1")]).encode("utf-8", "surrogateescape"),
        content_type="application/rss+xml"),
    "nul-bytes": lambda fs: fs.route(
        "/nul", rss([("Open\0AI and Soft\0Bank", "https://nul.example/1")]).encode().replace(b"<item>", b"\0<item>"),
        content_type="application/rss+xml"),
    "html-not-feed": lambda fs: fs.route(
        "/page", '<!doctype html><html><head><link rel="alternate" type="application/rss+xml" '
                 'href="/real-feed.xml"></head><body>news</body></html>', content_type="text/html"),
    # XML
    "billion-laughs": lambda fs: fs.route("/laughs", billion_laughs(), content_type="application/rss+xml"),
    "quadratic-blowup": lambda fs: fs.route("/quadratic", quadratic_blowup(), content_type="application/rss+xml"),
    "external-entity": lambda fs: fs.route("/xxe", external_entity("file:///etc/passwd"),
                                           content_type="application/rss+xml"),
    "20000-items": lambda fs: fs.route("/many", rss(_items("many", 20_000)), content_type="application/rss+xml"),
    "1mb-title": lambda fs: fs.route("/long-title", rss([("long " * 200_000, "https://long.example/1")]),
                                     content_type="application/rss+xml"),
    "odd-dates": lambda fs: fs.route("/dates", rss([]).replace("</channel>", "".join(
        f"<item><title>date {i}</title><link>https://dates.example/{i}</link><pubDate>{d}</pubDate></item>"
        for i, d in enumerate(["Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                               "the day after tomorrow", "2025-13-45T99:99:99Z"])) + "</channel>"),
        content_type="application/rss+xml"),
    "duplicate-ids": lambda fs: fs.route("/dups", rss([]).replace("</channel>", "".join(
        f"<item><title>dup {i}</title><guid isPermaLink='false'>same-id</guid></item>" for i in range(3))
        + "</channel>"), content_type="application/rss+xml"),
    "no-link-or-id": lambda fs: fs.route("/nolink", rss([]).replace("</channel>", "".join(
        f"<item><title>orphan {i}</title></item>" for i in range(3))
        + "<item><title>kept</title><link>https://nolink.example/kept</link></item></channel>"),
        content_type="application/rss+xml"),
    # HTML listing pages (the source's selector is li.news)
    "selectors-match-nothing": lambda fs: fs.route(
        "/redesigned", "<html><body><div class='card'><a href='/x'>Redesigned</a></div></body></html>",
        content_type="text/html"),
    "deeply-nested": lambda fs: fs.route(
        "/nested", "<html><body>" + "<div>" * 100_000 + "<ul><li class='news'><a href='/n'>deep</a></ul>",
        content_type="text/html"),
    "euc-jp-undeclared": lambda fs: fs.route(
        "/eucjp", listing([("人工知能戦略本部の開催について", "/n/1"), ("ＡＩ基本計画の決定", "/n/2")],
                          charset=None).encode("euc-jp"), content_type="text/html"),
}
