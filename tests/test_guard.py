"""The article-fetch guard refuses non-public addresses and non-http(s) schemes (issue 4).

Offline: address literals need no resolver, ``localhost`` resolves from the hosts file, and names
that would need DNS are answered by a fake ``socket.getaddrinfo`` (the resolver is the port here).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpcore
import pytest

from monitor.errors import FetchConnectError, FetchError
from monitor.net.fetcher import Fetcher, FetchSettings
from monitor.net.guard import PrivateAddressRefused, PublicOnlyBackend, check_public, check_public_async
from tests.support.httpserver import TestServer

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


def _rebinding(first: str, then: str) -> Any:
    """A resolver whose answer for rebind.example changes after the first question (the guard's)."""
    real, asked = socket.getaddrinfo, []

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
    monkeypatch.setattr(socket, "getaddrinfo", _rebinding("127.0.0.1" if allow_private else "93.184.216.34",
                                                          "127.0.0.1"))
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


class _Recording(httpcore.AnyIOBackend):
    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        return await super().connect_tcp(host, port, *args, **kwargs)


def test_the_backend_connects_to_the_addresses_it_checked_not_to_the_name(http_server: TestServer,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """One lookup, then the connection is to those addresses (in order, the next if one fails):
    nothing is left for a second lookup to change."""
    port = int(http_server.url("/").rsplit(":", 1)[1].split("/")[0])
    asked: list[str] = []

    def resolver(host: str | bytes, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        asked.append(host.decode() if isinstance(host, bytes) else host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.35", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    inner = _Recording()

    async def connect() -> None:
        await PublicOnlyBackend(inner).connect_tcp("news.example", port, timeout=2)

    with pytest.raises((httpcore.ConnectError, httpcore.ConnectTimeout)):  # offline: no route to them
        asyncio.run(connect())
    assert asked == ["news.example"] and inner.hosts == ["93.184.216.34", "93.184.216.35"]
    with pytest.raises(PrivateAddressRefused, match="not a public address"):
        asyncio.run(PublicOnlyBackend(inner).connect_tcp("10.0.0.7", 80))
    assert inner.hosts == ["93.184.216.34", "93.184.216.35"]  # a private literal is never connected
