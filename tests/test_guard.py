"""The article-fetch guard refuses non-public addresses and non-http(s) schemes (issue 4).

Offline: address literals need no resolver, ``localhost`` resolves from the hosts file, and names
that would need DNS are answered by a fake ``socket.getaddrinfo`` (the resolver is the port here).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpcore
import httpx
import pytest

from monitor.errors import FetchConnectError, FetchError
from monitor.net.fetcher import Fetcher, FetchSettings
from monitor.net.guard import PrivateAddressRefused, PublicOnlyBackend, check_public, check_public_async
from tests.support.httpserver import Response, TestServer

REFUSED = {
    "loopback": "http://127.0.0.1/",
    "loopback-v6": "http://[::1]/",
    "localhost": "http://localhost:8080/feed",
    "private-10": "http://10.0.0.1/",
    "private-172": "http://172.16.5.4/",
    "private-192": "http://192.168.1.1/admin",
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "unspecified": "http://0.0.0.0/",
    "decimal-ip": "http://2130706433/",
    "hex-short-ip": "http://0x7f.1/",
    "hex-ip": "http://0x7f000001/",
    "short-ip": "http://127.1/",
    "trailing-dot": "http://127.0.0.1./",
    "ipv4-mapped": "http://[::ffff:127.0.0.1]/",
    "ipv4-mapped-metadata": "http://[::ffff:169.254.169.254]/",
    "6to4-loopback": "http://[2002:7f00:1::]/",
    "link-local-v6": "http://[fe80::1]/",
    "link-local-v6-zone": "http://[fe80::1%25eth0]/",
    "unique-local-v6": "http://[fc00::1]/",
    "aws-metadata-v6": "http://[fd00:ec2::254]/",
    "multicast": "http://224.0.0.1/",
    "multicast-v6": "http://[ff02::1]/",
    "shared-cgnat": "http://100.64.0.1/",
    "reserved": "http://240.0.0.1/",
    "broadcast": "http://255.255.255.255/",
    "userinfo": "https://user:secret@10.1.2.3:8443/x",
}
PUBLIC = {
    "v4": "http://93.184.216.34/",
    "v4-port-path": "https://93.184.216.34:8443/news/1?x=y",
    "v6": "http://[2606:2800:220:1:248:1893:25c8:1946]/",
    "ipv4-mapped-public": "http://[::ffff:93.184.216.34]/",
    "nat64-public": "http://[64:ff9b::5db8:d822]/",
}
BAD_SCHEMES = {
    "file": "file:///etc/passwd",
    "ftp": "ftp://93.184.216.34/pub/",
    "gopher": "gopher://93.184.216.34:70/",
    "javascript": "javascript:alert(1)",
    "data": "data:text/html,<p>hi</p>",
}
MALFORMED = {
    "five-parts": "http://1.2.3.4.5/",
    "big-part": "http://1.2.3.999/",
    "octal-8": "http://08.1.1.1/",
    "no-host": "http:///path",
}


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(PrivateAddressRefused) as info:
        check_public(url, allow_private=False)
    assert isinstance(info.value, FetchError)
    assert str(info.value).startswith(url) and "fetch.allow_private" in str(info.value)


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_allow_private_lets_them_through(url: str) -> None:
    check_public(url, allow_private=True)


@pytest.mark.parametrize("url", PUBLIC.values(), ids=PUBLIC.keys())
def test_public_literals_pass(url: str) -> None:
    check_public(url, allow_private=False)


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize("url", BAD_SCHEMES.values(), ids=BAD_SCHEMES.keys())
def test_other_schemes_are_refused_even_with_allow_private(url: str, allow_private: bool) -> None:
    with pytest.raises(PrivateAddressRefused, match="refused"):
        check_public(url, allow_private=allow_private)


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_hosts_are_refused(url: str) -> None:
    with pytest.raises(PrivateAddressRefused):
        check_public(url, allow_private=False)


@pytest.mark.parametrize("url", list(REFUSED.values()) + list(BAD_SCHEMES.values()),
                         ids=list(REFUSED.keys()) + list(BAD_SCHEMES.keys()))
def test_async_variant_refuses_the_same(url: str) -> None:
    with pytest.raises(PrivateAddressRefused):
        asyncio.run(check_public_async(url, allow_private=False))


@pytest.mark.parametrize("url", PUBLIC.values(), ids=PUBLIC.keys())
def test_async_variant_passes_public_literals(url: str) -> None:
    asyncio.run(check_public_async(url, allow_private=False))


def _fake_resolver(answers: dict[str, list[str]]) -> Any:
    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in answers[host]]
    return getaddrinfo


ANSWERS = {
    "news.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "rebind.example": ["93.184.216.34", "10.0.0.7"],  # one private answer is enough to refuse
    "metadata.internal.example": ["169.254.169.254"],
    "scoped.example": ["fe80::1%eth0"],
}


@pytest.mark.parametrize("variant", ["sync", "async"])
def test_names_are_judged_by_every_address(monkeypatch: pytest.MonkeyPatch, variant: str) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_resolver(ANSWERS))

    def check(url: str) -> None:
        if variant == "sync":
            check_public(url, allow_private=False)
        else:
            asyncio.run(check_public_async(url, allow_private=False))

    check("https://news.example/2025/02/03/story")
    for host in ("rebind.example", "metadata.internal.example", "scoped.example"):
        with pytest.raises(PrivateAddressRefused, match=host):
            check(f"https://{host}/")
    with pytest.raises(FetchConnectError, match="cannot resolve"):
        check("https://unknown.example/")


def test_names_are_not_resolved_when_private_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_resolver({}))
    check_public("https://intranet.example/", allow_private=True)


def _rebinding(first: str, then: str, asked: list[str] | None = None) -> Any:
    """A resolver whose answer for rebind.example changes after the first question (the guard's)."""
    real, asked = socket.getaddrinfo, [] if asked is None else asked

    def getaddrinfo(host: str | bytes, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        if (host.decode() if isinstance(host, bytes) else host) != "rebind.example":  # anyio asks in bytes
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (first if len(asked) == 1 else then, port))]
    return getaddrinfo


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_name_rebound_to_a_private_address_is_never_connected(
        http_server: TestServer, monkeypatch: pytest.MonkeyPatch, allow_private: bool) -> None:
    """The guard's check sees a public address; the second answer is 127.0.0.1: the guarded
    connection resolves once, refuses it, and sends nothing (unless private addresses are allowed)."""
    http_server.route("/page", "<html><body><p>internal admin page</p></body></html>", content_type="text/html")
    # with allow_private the guard asks nothing, so the connection's is the first question
    lookups: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", _rebinding("127.0.0.1" if allow_private else "93.184.216.34",
                                                          "127.0.0.1", lookups))
    url = http_server.url("/page").replace("127.0.0.1", "rebind.example")

    async def fetch() -> bytes:
        await check_public_async(url, allow_private=allow_private)
        async with Fetcher(FetchSettings()) as fetcher:
            result = await fetcher.fetch(url, guarded=not allow_private)
        return result.body

    if allow_private:
        assert b"internal admin page" in asyncio.run(fetch())
        assert [r.path for r in http_server.requests] == ["/page"]
    else:
        with pytest.raises(PrivateAddressRefused, match=r"rebind\.example = 127\.0\.0\.1 is not a public address"):
            asyncio.run(fetch())
        assert http_server.requests == []
        assert len(lookups) == 2  # the guard's, then the connection's own: one each, nothing after


class _Recording(httpcore.AsyncNetworkBackend):
    """The network under the guard's backend: records where it is asked to connect; an address in
    ``silent`` never answers, one in ``up`` connects, any other refuses."""

    def __init__(self, up: tuple[str, ...] = (), silent: tuple[str, ...] = ()) -> None:
        self.hosts: list[str] = []
        self.up, self.silent = up, silent

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        if host in self.silent:
            await asyncio.sleep(30)
        if host in self.up:
            return httpcore.AsyncMockStream([])
        raise httpcore.ConnectError(f"connection refused: {host}")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _resolving(answers: list[str], asked: list[str]) -> Any:
    def getaddrinfo(host: str | bytes, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        asked.append(host.decode() if isinstance(host, bytes) else host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]
    return getaddrinfo


def test_the_backend_connects_to_the_addresses_it_checked_not_to_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """One lookup, then connections to those addresses in order: nothing is left for a second
    lookup to change; a private literal is refused without a connection."""
    asked: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", _resolving(["93.184.216.34", "93.184.216.35"], asked))
    network = _Recording()
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(PublicOnlyBackend(network).connect_tcp("news.example", 443, timeout=2))
    assert asked == ["news.example"] and network.hosts == ["93.184.216.34", "93.184.216.35"]
    with pytest.raises(PrivateAddressRefused, match=r"\[::1\]:80: ::1 is not a public address \(loopback\)"):
        asyncio.run(PublicOnlyBackend(network).connect_tcp("::1", 80))
    with pytest.raises(PrivateAddressRefused, match="site-local"):
        asyncio.run(PublicOnlyBackend(network).connect_tcp("fec0::1", 80))
    assert len(network.hosts) == 2


def test_a_silent_first_address_costs_a_quarter_second_not_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Happy Eyeballs: the IPv6 address that never answers is passed by after STAGGER, the next
    one connects, and the silent attempt is abandoned."""
    monkeypatch.setattr(socket, "getaddrinfo", _resolving(["2606:2800:220:1::1", "93.184.216.34"], []))
    network = _Recording(up=("93.184.216.34",), silent=("2606:2800:220:1::1",))

    async def connect() -> float:
        started = time.monotonic()
        stream = await PublicOnlyBackend(network).connect_tcp("news.example", 443, timeout=20)
        assert isinstance(stream, httpcore.AsyncMockStream)
        return time.monotonic() - started

    assert asyncio.run(connect()) < 2
    assert network.hosts == ["2606:2800:220:1::1", "93.184.216.34"]


def test_behind_an_environment_proxy_a_guarded_fetch_goes_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx ignores the environment's proxies for a client given a transport: behind a proxy the
    guarded fetch uses the proxying client (the names were checked; the proxy connects)."""
    with TestServer() as proxy:
        proxy.handler("http://news.example/p", lambda request: Response(body=b"via proxy"))
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")

        async def fetch() -> bytes:
            async with Fetcher(FetchSettings(timeout=5)) as fetcher:
                return (await fetcher.fetch("http://news.example/p", guarded=True)).body

        assert asyncio.run(fetch()) == b"via proxy"


def test_a_guarded_fetch_is_never_quietly_unguarded() -> None:
    async def fetch(fetcher: Fetcher, **kwargs: Any) -> None:
        async with fetcher:
            await fetcher.fetch("https://news.example/", guarded=True, **kwargs)

    with pytest.raises(ValueError, match="verifies"):
        asyncio.run(fetch(Fetcher(FetchSettings()), verify=False))
    with pytest.raises(ValueError, match="injected transport"):
        asyncio.run(fetch(Fetcher(FetchSettings(), transport=httpx.MockTransport(lambda r: httpx.Response(200)))))
