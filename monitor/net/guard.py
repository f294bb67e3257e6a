"""Refuse to fetch article pages from addresses that are not on the public internet (issue 4).

A feed names the article links, so a hostile or careless feed could point the monitor at
``http://169.254.169.254/`` (cloud metadata), a router at ``192.168.1.1`` or a service on
``localhost``: server-side request forgery. Before an article fetch, ``check_public`` refuses a URL
whose scheme is not http(s), or whose host is, or resolves to, an address that is not public:
loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10),
unspecified, multicast, reserved or otherwise not globally routable (100.64/10, documentation
ranges). A name is refused if ANY of its addresses is non-public, since the connection may use any.

Hosts are read the way the fetcher reads them (``httpx.URL``), and numeric forms that resolvers and
browsers accept as IPv4 are decoded first (``2130706433``, ``0x7f.1``, ``127.1``); IPv6 addresses
that carry an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64) are judged by that address.

Redirects: the caller checks every hop it follows. DNS rebinding (a name that answers a public
address to this check and a private one to the connection): ``PublicOnlyBackend`` is the network
backend of the fetcher's guarded connections; it resolves the name itself, refuses it unless every
address is public, and connects to those very addresses, so no request reaches one that was not
checked. Behind a proxy set in the environment httpx connects to the proxy instead, and only the
names are checked. The article service applies all this to the robots.txt of an article's host too. ``allow_private`` (``fetch.allow_private``; tests set it) skips the address checks,
not the scheme.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote

import httpcore
import httpx

from monitor.errors import FetchConnectError, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = frozenset({"http", "https"})
_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REMEDY = "article pages are fetched only from public addresses (set fetch.allow_private: true to allow this)"


class PrivateAddressRefused(FetchError):
    """The URL points where an article fetch must not go: a non-public address or a non-http(s) scheme."""


def check_public(url: str, *, allow_private: bool) -> None:
    """Return if ``url`` may be fetched; raise PrivateAddressRefused (or FetchConnectError if its
    host does not resolve). Resolves names with the blocking ``socket.getaddrinfo``."""
    host, port = _target(url)
    if allow_private or _literal_verdict(url, host):
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchConnectError(f"{url}: cannot resolve {host}: {exc}") from exc
    _check_resolved(url, host, infos)


async def check_public_async(url: str, *, allow_private: bool) -> None:
    """``check_public`` for the event loop: names are resolved with ``loop.getaddrinfo``."""
    host, port = _target(url)
    if allow_private or _literal_verdict(url, host):
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchConnectError(f"{url}: cannot resolve {host}: {exc}") from exc
    _check_resolved(url, host, infos)


STAGGER = 0.25  # seconds before the next address is tried too (RFC 8305's connection attempt delay)


async def _abandon(tasks: set[asyncio.Task[httpcore.AsyncNetworkStream]]) -> None:
    """Cancel connection attempts that lost the race; close any that connected meanwhile."""
    for task in tasks:
        task.cancel()
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, httpcore.AsyncNetworkStream):
            await result.aclose()


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore connections that go only to public addresses, and only to those it checked.

    The name is resolved here, once; every address must be public (as ``check_public``), and the
    connection is made to them in turn, so a second lookup can never answer otherwise. TLS still
    names and verifies the host (httpcore passes it to ``start_tls``).
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        literal = _address_literal(where, host)
        if literal is not None:
            _refuse_if_private(where, host, literal)
            addresses = [str(literal)]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            _check_resolved(where, host, infos)
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        return await self._first_connected(addresses, port, timeout, local_address, socket_options)

    async def _first_connected(self, addresses: list[str], port: int, timeout: float | None,
                               local_address: str | None,
                               socket_options: Iterable[Any] | None) -> httpcore.AsyncNetworkStream:
        """Happy Eyeballs (RFC 8305), as anyio does for a name: the addresses in getaddrinfo's order,
        the next one started when the last fails or after ``STAGGER`` seconds, the first connected
        wins and the others are closed. A silent first address (IPv6 without a route) costs 0.25 s,
        not the whole timeout."""
        async def attempt(address: str) -> httpcore.AsyncNetworkStream:
            return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                 socket_options=socket_options)

        waiting, pending = list(addresses), set[asyncio.Task[httpcore.AsyncNetworkStream]]()
        failure: BaseException | None = None
        try:
            while waiting or pending:
                if waiting:
                    pending.add(asyncio.ensure_future(attempt(waiting.pop(0))))
                done, pending = await asyncio.wait(pending, timeout=STAGGER if waiting else None,
                                                   return_when=asyncio.FIRST_COMPLETED)
                connected = [task for task in done if task.exception() is None]
                if connected:
                    pending |= set(connected[1:])  # a tie: the first wins, the rest are closed below
                    return connected[0].result()
                failure = next(iter(done)).exception() if done else failure
        finally:
            await _abandon(pending)
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise PrivateAddressRefused(f"unix socket {path}: {_REMEDY}")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address ("loopback", "private"...), or None if it is."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return non_public_reason(embedded)
    for reason, flag in (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
                         ("link-local", address.is_link_local), ("multicast", address.is_multicast),
                         ("private", address.is_private), ("reserved", address.is_reserved),
                         ("site-local", getattr(address, "is_site_local", False))):
        if flag:
            return reason
    return None if address.is_global else "not globally routable"


def _target(url: str) -> tuple[str, int]:
    """(ASCII host, port) as the fetcher would connect; refuses other schemes and hostless URLs."""
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, TypeError) as exc:
        raise PrivateAddressRefused(f"{url}: not a valid http(s) URL ({exc}), refused") from exc
    if parsed.scheme not in _SCHEMES:
        raise PrivateAddressRefused(f"{url}: scheme {parsed.scheme or '(none)'!r} refused: "
                                    f"article pages are fetched over http(s) only")
    if not host:
        raise PrivateAddressRefused(f"{url}: no host, refused")
    return host, parsed.port or (443 if parsed.scheme == "https" else 80)


def _literal_verdict(url: str, host: str) -> bool:
    """True if ``host`` is a public address literal; raise if it is a non-public one; False for a name."""
    address = _address_literal(url, host)
    if address is None:
        return False
    _refuse_if_private(url, host, address)
    return True


def _check_resolved(url: str, host: str, infos: Sequence[tuple[object, ...]]) -> None:
    if not infos:
        raise FetchConnectError(f"{url}: {host} has no addresses")
    for info in infos:
        sockaddr = info[4]
        if not isinstance(sockaddr, tuple) or not isinstance(sockaddr[0], str):
            raise PrivateAddressRefused(f"{url}: {host} resolved to a non-IP address, refused")
        _refuse_if_private(url, host, ipaddress.ip_address(sockaddr[0].partition("%")[0]))


def _refuse_if_private(url: str, host: str, address: IPAddress) -> None:
    reason = non_public_reason(address)
    if reason is not None:
        shown = host if host == str(address) else f"{host} = {address}"
        raise PrivateAddressRefused(f"{url}: {shown} is not a public address ({reason}): {_REMEDY}")


def _address_literal(url: str, host: str) -> IPAddress | None:
    """The address a numeric host stands for, None for a name; a malformed number is refused."""
    if ":" in host:  # httpx keeps IPv6 literals without brackets, a zone as %25eth0
        try:
            return ipaddress.IPv6Address(unquote(host).partition("%")[0])
        except ValueError as exc:
            raise PrivateAddressRefused(f"{url}: bad IPv6 address {host!r}, refused") from exc
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # "127.0.0.1." is 127.0.0.1
    if not (labels[-1].isdigit() or _HEX.fullmatch(labels[-1])):
        return None  # a name: it ends in letters
    # WHATWG URL "IPv4 parser" (and inet_aton): up to four parts, each decimal, 0x-hex or 0-octal;
    # the last part fills the remaining bytes, so 2130706433 and 0x7f.1 are both 127.0.0.1.
    try:
        numbers = [_ipv4_part(label) for label in labels]
    except ValueError as exc:
        raise PrivateAddressRefused(f"{url}: {host!r} is neither a name nor an IPv4 address, refused") from exc
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise PrivateAddressRefused(f"{url}: {host!r} is not a valid IPv4 address, refused")
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def _ipv4_part(label: str) -> int:
    if _HEX.fullmatch(label):
        return int(label[2:] or "0", 16)
    if not (label.isascii() and label.isdigit()):
        raise ValueError(f"not a number: {label!r}")
    return int(label, 8) if len(label) > 1 and label.startswith("0") else int(label)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), 6to4 or NAT64 IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
