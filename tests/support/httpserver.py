"""A real HTTP/1.1 server on loopback for the tests: static routes, files, and handlers for the odd cases.

Why real and not httpx.MockTransport: deadlines, size caps, per-host limits, resets and redirects live at the
socket level, and the ingest tests should meet the same bytes a real server sends. Offline by construction:
it binds 127.0.0.x only. Not a general web server: no directory listing, no auth; GET, HEAD and POST.

    server.route("/feed.xml", rss_bytes, etag='"v1"')            # static; 304 when If-None-Match matches
    server.route_file("/jt.xml", CORPUS / "japantimes.xml")       # a captured document
    server.redirect("/old", "/feed.xml")                           # 302 with Location
    server.handler("/slow", lambda req: Response(body=dribble(b"<rss>", every=1.0)))
    server.url("/feed.xml")                                        # "http://127.0.0.1:PORT/feed.xml"
    server.requests[-1].headers["user-agent"]                      # what the client sent

A second "host" is another instance on another loopback address:
``with TestServer(host="127.0.0.2") as other: ...``.
"""

from __future__ import annotations

import email.utils
import gzip
import mimetypes
import socket
import ssl
import struct
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self


class _Reset:
    def __repr__(self) -> str:
        return "RESET"


RESET: Final = _Reset()
"""Put in a body iterator to drop the connection there with a TCP reset (a server dying mid-body)."""

Chunk = bytes | float | _Reset  # a float in a body iterator means: sleep that many seconds first


@dataclass(frozen=True)
class RequestInfo:
    """One request as the server saw it; ``headers`` has lower-case names."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    """What a handler returns. A bytes/str body is sent with Content-Length; an iterable of chunks is sent
    chunked, or raw when ``headers`` sets Content-Length (so a test can promise more than it sends)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | Iterable[Chunk] = b""


Handler = Callable[[RequestInfo], Response]


def dribble(data: bytes, every: float = 1.0, *, forever: bool = False) -> Iterator[Chunk]:
    """A body sending one byte of ``data`` per ``every`` seconds (then stops, or repeats it ``forever``)."""
    while True:
        for i in range(len(data)):
            yield data[i : i + 1]
            yield every
        if not forever:
            return


class TestServer:
    """A threaded HTTP/1.1 server on ``host`` and a free port, serving from a daemon thread until close()."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, host: str = "127.0.0.1", *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.requests: list[RequestInfo] = []
        self._routes: dict[str, Handler] = {}
        self._server = _Server((host, 0), _RequestHandler)
        self._server.owner = self
        if ssl_context is not None:
            # Handshake in the handler thread, so that one bad client cannot stall accept().
            self._server.socket = ssl_context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.host = host
        self.port: int = self._server.server_address[1]
        self.scheme = "https" if ssl_context else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server, e.g. ``http://127.0.0.1:40123/feed.xml``."""
        return f"{self.scheme}://{self.host}:{self.port}/{path.lstrip('/')}"

    def handler(self, path: str, fn: Handler) -> None:
        """Answer ``path`` (matched with its query string first, then without) by calling ``fn``."""
        self._routes[path] = fn

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/xml",
        etag: str | None = None,
        last_modified: str | None = None,
        gzip_body: bool = False,
    ) -> None:
        """A static response. With ``etag``/``last_modified`` it answers conditional GETs with 304 (RFC 9110
        §13.1: If-None-Match wins over If-Modified-Since); ``gzip_body`` sends it Content-Encoding: gzip."""
        data = body.encode() if isinstance(body, str) else body
        fixed = {"Content-Type": content_type} if content_type else {}
        fixed |= {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}
        if gzip_body:
            data = gzip.compress(data)
            fixed["Content-Encoding"] = "gzip"
        fixed |= headers or {}
        validators = {k: v for k, v in fixed.items() if k in ("ETag", "Last-Modified")}

        def serve(request: RequestInfo) -> Response:
            if _not_modified(request.headers, etag, last_modified):
                return Response(304, dict(validators))
            return Response(status, dict(fixed), data)

        self.handler(path, serve)

    def route_file(
        self, path: str, file_path: str | Path, content_type: str | None = None, **options: Any
    ) -> None:
        """Serve a file's bytes as they are (a corpus capture); the type is guessed from its name if not
        given. ``options`` are route()'s (etag, headers, gzip_body...)."""
        guessed = mimetypes.guess_type(str(file_path))[0] or "application/octet-stream"
        self.route(path, Path(file_path).read_bytes(), content_type=content_type or guessed, **options)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer ``path`` with ``status`` and ``Location: location`` as given (relative, any scheme)."""
        self.handler(path, lambda request: Response(status, {"Location": location}))

    def reset(self) -> None:
        """Forget every route and the request log (a shared server between tests)."""
        self._routes.clear()
        self.requests.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _dispatch(self, request: RequestInfo) -> Response:
        self.requests.append(request)
        fn = self._routes.get(request.path) or self._routes.get(request.path.split("?", 1)[0])
        if fn is None:
            return Response(404, {"Content-Type": "text/plain"}, f"no route for {request.path}\n")
        try:
            return fn(request)
        except Exception as exc:  # noqa: BLE001 -- a broken test handler: a 500, and its traceback in stderr
            traceback.print_exc()
            return Response(500, {"Content-Type": "text/plain"}, f"handler failed: {exc!r}\n")


def _not_modified(headers: dict[str, str], etag: str | None, last_modified: str | None) -> bool:
    if "if-none-match" in headers:
        tags = [t.strip() for t in headers["if-none-match"].split(",")]
        return etag is not None and ("*" in tags or etag in tags)
    since = headers.get("if-modified-since")
    if not (since and last_modified):
        return False
    try:
        return email.utils.parsedate_to_datetime(last_modified) <= email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: TestServer


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = RequestInfo(self.command, self.path, headers, self.rfile.read(length) if length else b"")
        response = self.server.owner._dispatch(request)
        try:
            self._write(response)
        except OSError:  # the client gave up (that is often the point of the test)
            self.close_connection = True

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        declared = {k.lower() for k in response.headers}
        for name, value in response.headers.items():
            self.send_header(name, value)
        body = response.body.encode() if isinstance(response.body, str) else response.body
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        if isinstance(body, bytes):
            if "content-length" not in declared and response.status not in (204, 304):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not no_body:
                self.wfile.write(body)
            return
        chunked = "content-length" not in declared
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if no_body:
            return
        for chunk in body:
            if isinstance(chunk, _Reset):
                # SO_LINGER 0: close() sends RST instead of FIN, like a crashed server or a middlebox.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return
            if isinstance(chunk, float | int):
                time.sleep(chunk)
            elif chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # a client that resets a kept-alive connection (or fails TLS) is not a server bug
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):  # the socket was reset on purpose or by the client
            pass

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass
