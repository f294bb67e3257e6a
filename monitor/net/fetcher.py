"""The HTTP adapter: one GET under our limits, returned as bytes plus the headers a caller needs.

Responsible for: at most ``per_host`` requests in flight to one host, one deadline for the whole request
(connect to last byte, across redirects), conditional GET, redirects followed by hand (so a loop or a
``file:`` target is refused rather than followed), the body size cap counted both on the wire and after
inflating gzip/deflate (a gzip bomb is cut while inflating), and mapping every httpx failure to the most
specific ``monitor.errors.FetchError`` with the httpx exception kept as ``__cause__``.

Not responsible for: which sources to fetch or when, what the body means (charset, feed or page), retries or
back-off. ``HTTPStatusError.retry_after`` only reports what the server asked for; the service decides.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import functools
import socket
import ssl
import time
import urllib.request
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import httpcore
import httpx

from monitor.errors import (
    BodyTooLarge,
    FetchConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RedirectError,
)
from monitor.net.guard import PublicOnlyBackend
from monitor.net.hosts import HostLimiter, host_key

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FetchSettings:
    """The ``fetch:`` section of the config, plus limits that are not (yet) configurable."""

    user_agent: str = "monitor/0.1 (+https://github.com/monitor)"
    timeout: float = 20.0  # seconds for the whole request, connect to last byte, redirects included
    max_bytes: int = 10_000_000  # on the wire and after inflating, whichever passes it first
    per_host: int = 2
    max_redirects: int = 5
    concurrency: int = 20  # requests in flight in all


@dataclass(frozen=True)
class Validators:
    """What a conditional GET sends back (RFC 9110 §13): the last response's ETag and Last-Modified."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch. ``body`` is already inflated; ``headers`` are as received (lower-case names)."""

    url: str  # the final URL, after redirects
    status: int  # 200..299, or 304
    body: bytes  # b"" on 304
    content_type: str | None  # the whole header, charset included
    headers: dict[str, str] = field(repr=False)
    validators: Validators  # to send next time
    elapsed: float  # seconds, first byte sent to last byte read
    moved_to: str | None = None  # the final URL when every redirect to it was permanent (301/308)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Fetcher:
    """Fetches URLs over one shared httpx.AsyncClient; safe to call ``fetch`` from many tasks at once."""

    def __init__(self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._hosts = HostLimiter(settings.per_host)
        self._inflight = asyncio.Semaphore(settings.concurrency)
        self._transport = transport
        self._client = self._new_client(_tls_context())
        self._unverified: httpx.AsyncClient | None = None  # made for the first `verify: false` source
        self._guarded: httpx.AsyncClient | None = None  # made for the first guarded fetch

    def _new_client(self, verify: ssl.SSLContext | bool,
                    transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
        settings = self._settings
        return httpx.AsyncClient(
            transport=self._transport or transport,
            follow_redirects=False,  # followed by hand in fetch(): we refuse loops and non-http targets
            # Stop at a redirect before httpx builds the next request: it fails on some Locations we want
            # to refuse with our own message (javascript:, data:), and we never follow its choice anyway.
            event_hooks={"response": [_stop_at_redirect]},
            # A backstop per phase; the real deadline is the asyncio.timeout around the whole request.
            timeout=httpx.Timeout(settings.timeout),
            # Only what _Inflater can decode: we inflate ourselves to cap the inflated size.
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            verify=verify,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
        for client in (self._unverified, self._guarded):
            if client is not None:
                await client.aclose()

    async def fetch(self, url: str, validators: Validators | None = None, *, verify: bool = True,
                    before_hop: Callable[[str], Awaitable[None]] | None = None, guarded: bool = False) -> FetchResult:
        """GET ``url``; raise a FetchError subclass for anything but a 2xx or a 304.

        The deadline starts once the first per-host slot is ours: time spent queueing behind other fetches to
        the same host is not the server's slowness. ``verify=False`` accepts any TLS certificate (a source's
        `verify: false`, for an intranet feed with a self-signed one); it never changes other fetches.
        ``before_hop`` is awaited with every redirect target before it is requested, and may raise to
        refuse it (article fetches: a public page must not redirect to a private address).
        ``guarded`` connects only to public addresses, the ones checked (guard.PublicOnlyBackend:
        a name that answers otherwise the second time is never asked), and raises
        PrivateAddressRefused before anything is sent to another. Behind a proxy set in the
        environment the proxy connects, not us: then the caller's name checks are the guard.
        """
        if guarded and not verify:
            raise ValueError("a guarded fetch always verifies TLS certificates")
        client = self._guarded_client() if guarded else self._client if verify else self._unverified_client()
        sent = validators or Validators()
        current = _parse_url(url)
        chain = [current]
        permanent = True  # every hop so far was a 301 or 308: the address has moved for good
        headers = {
            k: v for k, v in (("If-None-Match", sent.etag), ("If-Modified-Since", sent.last_modified)) if v
        }
        started: float | None = None
        try:
            async with asyncio.timeout(None) as deadline:
                while True:
                    # The host's slot first: waiting for a busy host must not hold a global one.
                    async with self._hosts.slot(host_key(current)), self._inflight:
                        if started is None:
                            started = time.monotonic()
                            deadline.reschedule(asyncio.get_running_loop().time() + self._settings.timeout)
                        try:
                            async with client.stream("GET", current, headers=headers) as response:
                                result = await self._result(response, sent, started)
                            moved = permanent and len(chain) > 1
                            return dataclasses.replace(result, moved_to=str(current)) if moved else result
                        except _Redirect as hop:
                            permanent = permanent and hop.status in (301, 308)
                            current = self._next_hop(hop, chain)
                            if before_hop is not None:
                                await before_hop(str(current))
        except TimeoutError as exc:
            raise FetchTimeout(
                f"timed out after {self._settings.timeout:g}s fetching {current} (fetch.timeout): "
                "the server is too slow or stalled"
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise _transport_error(exc, current, self._settings.timeout) from exc

    def _guarded_client(self) -> httpx.AsyncClient:
        if self._transport is not None:
            raise ValueError("a guarded fetch needs the real network, not an injected transport")
        if _environment_proxies():
            return self._client  # httpx takes a transport or the environment's proxies, not both
        if self._guarded is None:
            context = _tls_context()
            self._guarded = self._new_client(context, _PinnedTransport(context))
        return self._guarded

    def _unverified_client(self) -> httpx.AsyncClient:
        if self._unverified is None:
            self._unverified = self._new_client(False)
        return self._unverified

    def _next_hop(self, hop: _Redirect, chain: list[httpx.URL]) -> httpx.URL:
        """Resolve a redirect's Location (relative ones too); refuse loops, too many hops, non-http(s)."""
        try:
            target = hop.url.join(hop.location)
        except httpx.InvalidURL as exc:
            raise RedirectError(f"redirect from {hop.url} to an invalid URL {hop.location!r}") from exc
        if target.scheme not in _DEFAULT_PORTS or not target.host:
            raise RedirectError(f"redirect from {hop.url} to a non-http(s) URL {hop.location!r} refused")
        if target in chain:
            path = " -> ".join(str(u) for u in [*chain, target])
            raise RedirectError(f"redirect loop: {path}")
        if len(chain) > self._settings.max_redirects:
            raise RedirectError(
                f"too many redirects (more than {self._settings.max_redirects}) from {chain[0]}"
            )
        chain.append(target)
        return target

    async def _result(self, response: httpx.Response, sent: Validators, started: float) -> FetchResult:
        status = response.status_code
        if status == 304:
            body = b""
        elif 200 <= status < 300:
            body = await self._read_body(response)
        else:
            raise _status_error(response)
        # A 304 carries the validators a 200 would (RFC 9110 §15.4.5); keep the ones sent where it is silent.
        return FetchResult(
            url=str(response.url),
            status=status,
            body=body,
            content_type=response.headers.get("content-type"),
            headers=dict(response.headers.items()),
            validators=Validators(
                etag=response.headers.get("etag", sent.etag if status == 304 else None),
                last_modified=response.headers.get(
                    "last-modified", sent.last_modified if status == 304 else None
                ),
            ),
            elapsed=time.monotonic() - started,
        )

    async def _read_body(self, response: httpx.Response) -> bytes:
        """Stream the body, failing as soon as it passes ``max_bytes`` on the wire or once inflated."""
        limit = self._settings.max_bytes
        too_large = f"body of {response.url} is larger than fetch.max_bytes ({limit}); raise it to accept"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"{too_large} (Content-Length: {declared})")
        inflater = _Inflater(response.headers.get("content-encoding", ""), response.url)
        body = bytearray()
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge(too_large)
            body += inflater.feed(chunk, limit - len(body))
            if len(body) > limit:
                raise BodyTooLarge(f"{too_large} (once inflated)")
        if received:
            inflater.finish()
        return bytes(body)


def _environment_proxies() -> bool:
    """Whether the environment sets a proxy (which httpx, trusting it, would connect through)."""
    return any(value for scheme, value in urllib.request.getproxies().items() if scheme != "no")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi, SSL_CERT_FILE), built once: loading the CA bundle takes
    ~50 ms, paid by every new client otherwise (tests make many)."""
    return httpx.create_ssl_context()


class _Redirect(Exception):
    """Raised by the response hook to hand a redirect (301/302/303/307/308 with a Location) to fetch()."""

    def __init__(self, url: httpx.URL, location: str, status: int) -> None:
        super().__init__(f"redirect from {url} to {location}")
        self.url = url
        self.location = location
        self.status = status


async def _stop_at_redirect(response: httpx.Response) -> None:
    if response.status_code in _REDIRECTS and "location" in response.headers:
        raise _Redirect(response.url, response.headers["location"], response.status_code)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool whose connections go only to checked public addresses.

    httpx takes no network backend, so the pool it builds is replaced by the same pool with
    ``PublicOnlyBackend`` (its ``_pool``, which httpx 0.27 and 0.28 both use; this refuses to start,
    and the rebinding tests fail, if that ever stops working). httpx ignores the environment's
    proxies for a client given a transport, so the fetcher does not use this one behind a proxy."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(verify=context)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise TypeError("httpx.AsyncHTTPTransport no longer keeps an httpcore pool in _pool: "
                            "the guarded transport must be rebuilt for this httpx")
        self._pool = httpcore.AsyncConnectionPool(ssl_context=context, network_backend=PublicOnlyBackend(),
                                                  max_connections=100, max_keepalive_connections=20,
                                                  keepalive_expiry=5.0)


class _Inflater:
    """Incremental gzip/deflate decoding that never produces more than it is asked for (gzip bombs)."""

    def __init__(self, content_encoding: str, url: httpx.URL) -> None:
        codings = [
            c.strip() for c in content_encoding.lower().split(",") if c.strip() not in ("", "identity")
        ]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(f"unsupported Content-Encoding {content_encoding!r} from {url}")
        self._name = codings[0] if codings else None
        self._url = url
        self._first = True
        # "deflate" is meant to be zlib-wrapped (RFC 9110 §8.4.1.2) but some servers send it raw.
        wbits = zlib.MAX_WBITS | 16 if self._name in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits)

    def feed(self, data: bytes, budget: int) -> bytes:
        """Inflate ``data`` into at most ``budget + 1`` bytes: one past the budget is enough to know."""
        if self._name is None:
            return data
        try:
            try:
                out = self._zlib.decompress(data, budget + 1)
            except zlib.error:
                if not (self._first and self._name == "deflate"):
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._zlib.decompress(data, budget + 1)
            self._first = False
            while self._zlib.unconsumed_tail and len(out) <= budget:
                out += self._zlib.decompress(self._zlib.unconsumed_tail, budget + 1 - len(out))
        except zlib.error as exc:
            raise FetchError(f"corrupt {self._name} body from {self._url}: {exc}") from exc
        return out

    def finish(self) -> None:
        if self._name is not None and not self._zlib.eof:
            raise FetchError(f"corrupt {self._name} body from {self._url}: truncated")


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}") from exc
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
        raise FetchError(f"invalid URL {url!r}: only absolute http and https URLs are fetched")
    return parsed


_WEEK = 7 * 86400.0


def _status_error(response: httpx.Response) -> HTTPStatusError:
    status = response.status_code
    phrase = httpx.codes.get_reason_phrase(status) or response.reason_phrase
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    hint = "" if retry_after is None else (f", retry after {retry_after:g}s" if retry_after < _WEEK
                                          else ", retry after more than a week")  # not "infs"
    return HTTPStatusError(
        f"HTTP {status} {phrase}".rstrip() + f" from {response.url}{hint}", status, retry_after
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)  # 400 digits is inf: the schedule caps any wait at 7 days
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 850 / asctime forms carry no zone; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _transport_error(exc: Exception, url: httpx.URL, timeout: float) -> FetchError:
    """The most specific FetchError for an httpx exception; the message names the host and what failed."""
    where = f"{url.host}:{url.port or _DEFAULT_PORTS.get(url.scheme, '')}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchConnectError(f"connect timed out: {where}")
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(f"timed out after {timeout:g}s fetching {url} (fetch.timeout)")
    if isinstance(exc, httpx.ConnectError):
        causes = list(_causes(exc))
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return FetchConnectError(f"connection refused: {where}")
        if any(isinstance(c, socket.gaierror) for c in causes):
            return FetchConnectError(f"host not found: {url.host} (check the source URL, or this machine's "
                                     "network and DNS when every source says so)")
        if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes) or "certificate" in text.lower():
            return FetchConnectError(f"TLS certificate did not verify: {where} ({text}); "
                                     "`verify: false` on the source accepts it")
        return FetchConnectError(f"cannot connect to {where}: {text}")
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return FetchConnectError(f"connection broken by {where} while fetching {url}: {text}")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return FetchError(f"invalid URL {url}: {text}")
    return FetchError(f"fetch of {url} failed: {text}")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps: httpx -> httpcore -> anyio -> the OSError that says what happened."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
