"""The feed farm of bench/soak.py: 200 feeds on 100 loopback hosts, items that change every few
seconds, and a tenth of the requests answered with a fault a real server produces.

Why a farm of its own rather than tests/support/httpserver.py: the soak needs a hundred hosts in
one process for twenty minutes, faults drawn at random per request, and a ledger of exactly which
items went out in a clean response (the ground truth the soak checks the archive against). One
asyncio loop in one thread serves every host; it writes raw HTTP/1.1 so that resets, stalls and
lying headers are what the socket really does.

The ledger:
- `published`: links of items sent in a clean, complete 200 response (the service must store them);
- `exposed`: links of items that appeared intact in any body sent, clean or damaged (the service
  may store them; anything else it stores is a fault leaking into the archive);
- `counts`: requests by outcome (`ok`, `not_modified`, each fault kind, `redirect_hop`).

Items are a pure function of time: feed i publishes item n at `t0 + phase_i + n * period_i`
(n from -PRE, so the first poll finds a backlog) and serves its newest WINDOW items. `freeze()`
stops time for the farm and turns faults off, so a last poll can fetch exactly what is left.

Not responsible for running the service or checking the archive (bench/soak.py does that).
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

WINDOW = 30  # items in a document: at 3 s a period, 90 s of history, past any back-off of a 5 s source
PRE = 10  # items already there when the farm starts
FAULTS = (
    "reset", "stall", "dribble", "http_403", "http_404", "http_429", "http_500", "http_503",
    "redirect_loop", "redirect_file", "empty", "too_large", "gzip_bomb", "truncated_gzip",
    "wrong_charset", "invalid_utf8", "nul_bytes", "html", "malformed_xml",
)  # never 410: it disables a source for good, which would end that feed's part of the soak
_LINK = re.compile(rb"https://news\d+\.soak\.test/[^<\"\s]+(?=[<\"])")

_TOPIC_EN = (
    "SoftBank and OpenAI widen Cristal intelligence venture to {place}",
    "OpenAI, SoftBank pick {place} for SB OAI Japan office",
    "Stargate site in {place} breaks ground as {who} signs on",
    "{who} joins Stargate AI infrastructure push in {place}",
)
_TOPIC_JA = (
    "ソフトバンクとOpenAI、{place_ja}で合弁事業を拡大",
    "スターゲート計画、{place_ja}に新データセンター",
)
_PLAIN_EN = (
    "{place} council approves {thing} budget for next year",
    "Markets in {place} close higher on {thing} earnings",
    "{who} reports record quarter, shares in {place} rise",
    "Rail operator in {place} delays {thing} timetable & fares",
    "Weather: heavy snow expected across {place} this week",
)
_PLAIN_JA = (
    "{place_ja}で{thing_ja}の新制度、来年度から",
    "{place_ja}の株価、{thing_ja}関連が上昇",
    "{place_ja}、大雪に警戒呼びかけ",
)
_DISTRACTOR = "Stargate SG-1 cast reunite in {place} for anniversary"  # the topic says -"SG-1"
_PLACES = ("Tokyo", "Osaka", "Sakai", "Hokkaido", "Abu Dhabi", "Texas", "Norway", "Nagoya", "Fukuoka")
_PLACES_JA = ("東京", "大阪", "堺市", "北海道", "福岡", "名古屋", "仙台")
_WHO = ("Oracle", "Arm", "NTT", "Toyota", "Mizuho", "KDDI", "Rakuten")
_THINGS = ("chip", "port", "bridge", "school", "transit", "energy")
_THINGS_JA = ("半導体", "港湾", "教育", "交通", "電力")


@dataclass(frozen=True, slots=True)
class Item:
    link: str
    guid: str
    title: str
    summary: str
    published: float  # epoch seconds
    topic: bool  # its title is written to match a soak topic


@dataclass(frozen=True, slots=True)
class Feed:
    index: int
    host_no: int  # 0..99: the host in item links (newsNNN.soak.test), whatever address serves it
    host: str
    port: int
    path: str
    period: float  # seconds between items
    phase: float
    atom: bool
    japanese: bool
    gzip: bool  # clean responses are gzip-encoded
    partner: int | None  # a feed whose every fifth item this one also carries (syndication)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def name(self) -> str:
        return f"f{self.index:03d}"

    def item(self, n: int, t0: float) -> Item:
        """Item n of this feed; the same every time it is asked for (seeded by feed and n)."""
        rng = random.Random(self.index * 1_000_003 + n)
        words = {"place": rng.choice(_PLACES), "place_ja": rng.choice(_PLACES_JA), "who": rng.choice(_WHO),
                 "thing": rng.choice(_THINGS), "thing_ja": rng.choice(_THINGS_JA)}
        roll = rng.random()
        topic = roll < 0.15
        if topic:
            pattern = rng.choice(_TOPIC_JA if self.japanese else _TOPIC_EN)
        elif roll < 0.18 and not self.japanese:
            pattern = _DISTRACTOR
        else:
            pattern = rng.choice(_PLAIN_JA if self.japanese else _PLAIN_EN)
        serial = f"{self.index}-{n + PRE}"
        title = pattern.format(**words) + (f"（第{serial}報）" if self.japanese else f" ({serial})")
        return Item(
            link=f"https://news{self.host_no:03d}.soak.test/{self.name}/{n + PRE:06d}.html",
            guid=f"tag:soak.test,2025:{serial}",
            title=title,
            summary=f"Item {serial} of soak feed {self.index}." + (" 本文の要約です。" if self.japanese else ""),
            published=t0 + self.phase + n * self.period,
            topic=topic,
        )

    def newest(self, now: float, t0: float) -> int:
        return max(-PRE, int((now - t0 - self.phase) // self.period))


def make_feeds(hosts: list[tuple[str, int]], per_host: int, seed: int) -> list[Feed]:
    rng = random.Random(seed)
    feeds = []
    for h, (host, port) in enumerate(hosts):
        for k in range(per_host):
            index = h * per_host + k
            atom = k % 2 == 1 and h % 2 == 0
            feeds.append(Feed(index, h, host, port, f"/{'atom' if atom else 'rss'}{k}.xml",
                              period=rng.uniform(3.0, 12.0), phase=rng.uniform(0, 3.0), atom=atom,
                              japanese=h % 3 == 0, gzip=h % 4 == 1, partner=index - 1 if k % 2 == 1 else None))
    return feeds


def render(feed: Feed, items: list[Item]) -> bytes:
    """RSS 2.0 or Atom, UTF-8."""
    if feed.atom:
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
                 f"<title>Soak feed {feed.index}</title><id>tag:soak.test,2025:{feed.name}</id>",
                 f"<updated>{_iso(items[0].published if items else 0)}</updated>"]
        for it in items:
            parts.append(f"<entry><title>{escape(it.title)}</title><link href={quoteattr(it.link)}/>"
                         f"<id>{it.guid}</id><updated>{_iso(it.published)}</updated>"
                         f"<summary>{escape(it.summary)}</summary></entry>")
        parts.append("</feed>\n")
    else:
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
                 f"<title>Soak feed {feed.index}</title><link>https://soak.test/{feed.name}/</link>",
                 "<description>bench/soak.py</description>"]
        for it in items:
            parts.append(f"<item><title>{escape(it.title)}</title><link>{it.link}</link>"
                         f'<guid isPermaLink="false">{it.guid}</guid>'
                         f"<pubDate>{email.utils.formatdate(it.published, usegmt=True)}</pubDate>"
                         f"<description>{escape(it.summary)}</description></item>")
        parts.append("</channel></rss>\n")
    return "\n".join(parts).encode("utf-8")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass
class Ledger:
    """What the farm sent: the soak's ground truth. Touched only on the farm's loop thread until
    the farm stops, except for reading counters (a stale read is harmless for progress lines)."""

    items: dict[str, Item] = field(default_factory=dict)  # every item ever put in a document
    published: set[str] = field(default_factory=set)
    exposed: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    drawn: int = 0  # requests that drew for a fault (not frozen, not a redirect loop's later hop)


class Farm:
    """Serves the feeds from a daemon thread: `start()`, `freeze()`, `stop()`."""

    def __init__(self, *, hosts: int, per_host: int, seed: int, fault_rate: float, timeout: float,
                 max_bytes: int) -> None:
        self.hosts_wanted = hosts
        self.per_host = per_host
        self.seed = seed
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ledger = Ledger()
        self.feeds: list[Feed] = []
        self.loopback_hosts = True  # False: every host is 127.0.0.1 on a port of its own
        self.t0 = time.time()
        self.frozen_at: float | None = None
        self._routes: dict[tuple[str, int, str], Feed] = {}
        self._docs: dict[int, tuple[str, bytes, list[Item]]] = {}  # feed -> (etag, body, items)
        self._bomb = gzip.compress(b"\0" * (max_bytes * 20), compresslevel=9)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="soak-farm", daemon=True)

    # -- control, from the soak's thread -------------------------------------------------------

    def start(self) -> Farm:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"the farm did not start: {self._error}") from self._error
        return self

    def freeze(self) -> None:
        """No new items from now on, and no more faults: what is left is there for a last poll."""
        assert self._loop is not None
        done = threading.Event()

        def set_frozen() -> None:
            self.frozen_at = time.time()
            self.fault_rate = 0.0
            done.set()

        self._loop.call_soon_threadsafe(set_frozen)
        done.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def created(self) -> dict[str, Item]:
        """Every item that existed (by its publication time) up to the freeze: served or not."""
        end = self.frozen_at or time.time()
        out = {}
        for feed in self.feeds:
            for n in range(-PRE, feed.newest(end, self.t0) + 1):
                item = feed.item(n, self.t0)
                out[item.link] = item
        return out

    # -- the loop thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # start() reports it; the thread prints it too
            self._error = exc
            self._ready.set()
            raise

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        servers, hosts = await self._listen()
        self.feeds = make_feeds(hosts, self.per_host, self.seed)
        self._routes = {(f.host, f.port, f.path): f for f in self.feeds}
        self._ready.set()
        await self._stop.wait()
        for server in servers:
            server.close()

    async def _listen(self) -> tuple[list[asyncio.Server], list[tuple[str, int]]]:
        """One listener per host on 127.0.0.2..: Linux routes all of 127/8 to lo. Elsewhere (macOS
        has only 127.0.0.1 unless aliased) fall back to one port per host on 127.0.0.1."""
        servers: list[asyncio.Server] = []
        try:
            first = await asyncio.start_server(self._serve, "127.0.0.2", 0)
            port = first.sockets[0].getsockname()[1]
            servers.append(first)
            for i in range(3, 2 + self.hosts_wanted):
                servers.append(await asyncio.start_server(self._serve, f"127.0.0.{i}", port))
            return servers, [(f"127.0.0.{i}", port) for i in range(2, 2 + self.hosts_wanted)]
        except OSError:
            for s in servers:
                s.close()
            self.loopback_hosts = False
            servers = [await asyncio.start_server(self._serve, "127.0.0.1", 0) for _ in range(self.hosts_wanted)]
            return servers, [("127.0.0.1", s.sockets[0].getsockname()[1]) for s in servers]

    def _document(self, feed: Feed) -> tuple[str, bytes, list[Item]]:
        """The feed's current ETag, body and items, rendered once per change (feeds are polled more
        often than they change)."""
        now = self.frozen_at or time.time()
        newest = feed.newest(now, self.t0)
        partner = self.feeds[feed.partner] if feed.partner is not None else None
        top = partner.newest(now, self.t0) if partner else 0
        etag = f'"{feed.name}-{newest}-{top}"'
        cached = self._docs.get(feed.index)
        if cached and cached[0] == etag:
            return cached
        items = [feed.item(n, self.t0) for n in range(max(-PRE, newest - WINDOW + 1), newest + 1)]
        if partner:  # syndicated: the partner's every fifth item
            items += [partner.item(n, self.t0) for n in range(max(-PRE, top - WINDOW + 1), top + 1) if n % 5 == 0]
        items.sort(key=lambda it: it.published, reverse=True)
        for it in items:
            self.ledger.items[it.link] = it
        doc = (etag, render(feed, items), items)
        self._docs[feed.index] = doc
        return doc

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            await self._answer(head, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # the client went away: its side of the story is in the service's log
        finally:
            writer.close()

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        lines = head.decode("latin-1").split("\r\n")
        _method, target, _version = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        sockname = writer.get_extra_info("sockname")
        path, _, query = target.partition("?")
        ledger = self.ledger
        ledger.requests += 1
        feed = self._routes.get((sockname[0], sockname[1], path))
        if feed is None:
            await _send(writer, 404, {"Content-Type": "text/plain"}, b"no such feed")
            ledger.counts["unknown_path"] += 1
            return
        if query.startswith("hop="):  # the rest of a redirect loop: no new draw
            ledger.counts["redirect_hop"] += 1
            await _send(writer, 302, {"Location": f"{path}?hop={2 if query == 'hop=1' else 1}"}, b"")
            return
        etag, body, items = self._document(feed)
        if self.fault_rate > 0:
            ledger.drawn += 1
        if self.rng.random() < self.fault_rate:
            kind = self.rng.choice(FAULTS)
            ledger.counts[kind] += 1
            await self._fault(kind, writer, feed, body)
            return
        if headers.get("if-none-match") == etag:
            ledger.counts["not_modified"] += 1
            await _send(writer, 304, {"ETag": etag}, None)
            return
        ctype = "application/atom+xml" if feed.atom else "application/rss+xml; charset=utf-8"
        extra = {"ETag": etag, "Content-Type": ctype}
        wire = body
        if feed.gzip and "gzip" in headers.get("accept-encoding", ""):
            wire = gzip.compress(body, compresslevel=5)
            extra["Content-Encoding"] = "gzip"
        ledger.exposed.update(it.link for it in items)
        await _send(writer, 200, extra, wire)
        ledger.published.update(it.link for it in items)  # only once the whole body is handed over
        ledger.counts["ok"] += 1

    async def _fault(self, kind: str, writer: asyncio.StreamWriter, feed: Feed, body: bytes) -> None:
        """Answer as a broken or hostile server would. Bodies that still carry whole items (a lying
        charset, bad bytes, broken XML) mark them exposed: the service may store them, not must."""
        xml = {"Content-Type": "application/rss+xml"}
        half = body[: len(body) // 2]
        if kind == "reset":  # headers promise the whole body; the connection dies halfway
            writer.write(_head(200, {**xml, "Content-Length": str(len(body))}) + half)
            await writer.drain()
            self._expose(half)
            await asyncio.sleep(0.05)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif kind == "stall":  # half the body, then nothing until well past fetch.timeout
            writer.write(_head(200, {**xml, "Content-Length": str(len(body))}) + half)
            await writer.drain()
            self._expose(half)
            await asyncio.sleep(self.timeout + 3)
        elif kind == "dribble":  # the whole body at ~200 bytes a second: far past the deadline
            writer.write(_head(200, {**xml, "Content-Length": str(len(body))}))
            sent = 0
            deadline = time.monotonic() + self.timeout * 4
            while sent < len(body) and time.monotonic() < deadline and not writer.is_closing():
                writer.write(body[sent : sent + 100])
                await writer.drain()
                sent += 100
                await asyncio.sleep(0.5)
            self._expose(body[:sent])
        elif kind.startswith("http_"):
            status = int(kind[5:])
            extra = {"Content-Type": "text/plain"}
            if status == 429:
                extra["Retry-After"] = str(self.rng.randint(1, 8))
            elif status == 503:  # the HTTP-date form (RFC 9110 §10.2.3)
                extra["Retry-After"] = email.utils.formatdate(time.time() + self.rng.randint(2, 8), usegmt=True)
            await _send(writer, status, extra, f"{status} from the soak farm\n".encode())
        elif kind == "redirect_loop":
            await _send(writer, 302, {"Location": f"{feed.path}?hop=1"}, b"")
        elif kind == "redirect_file":
            await _send(writer, 302, {"Location": "file:///etc/passwd"}, b"")
        elif kind == "empty":
            await _send(writer, 200, xml, b"")
        elif kind == "too_large":  # declared (refused at once) or not (cut while streaming)
            declared = self.rng.random() < 0.5
            size = self.max_bytes + 500_000
            extra = {**xml, "Content-Length": str(size)} if declared else xml  # else: body ends at close
            writer.write(_head(200, extra) + b"<rss><channel><!--")
            chunk = b"x" * 65536
            for _ in range(size // len(chunk)):
                if writer.is_closing():
                    break
                writer.write(chunk)
                await writer.drain()
        elif kind == "gzip_bomb":  # 20 x max_bytes of zeros once inflated
            await _send(writer, 200, {**xml, "Content-Encoding": "gzip"}, self._bomb)
        elif kind == "truncated_gzip":
            packed = gzip.compress(body)
            await _send(writer, 200, {**xml, "Content-Encoding": "gzip"}, packed[: len(packed) * 2 // 3])
        elif kind == "wrong_charset":  # UTF-8 said to be Shift_JIS, or Shift_JIS said to be UTF-8
            if self.rng.random() < 0.5:
                await _send(writer, 200, {"Content-Type": "application/rss+xml; charset=shift_jis"}, body)
                self._expose(body)
            else:
                sjis = body.decode("utf-8").encode("cp932", errors="replace")
                await _send(writer, 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, sjis)
                self._expose(sjis)
        elif kind == "invalid_utf8":
            bad = body.replace(b"<title>", b"<title>\xff\xfe\xc3(", 3)
            await _send(writer, 200, xml, bad)
            self._expose(bad)
        elif kind == "nul_bytes":
            bad = body.replace(b"</title>", b"\x00</title>", 3).replace(b"<description>", b"<description>\x00\x00")
            await _send(writer, 200, xml, bad)
            self._expose(bad)
        elif kind == "html":
            page = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body><p>Back soon</p></body></html>"
            await _send(writer, 200, {"Content-Type": "text/html; charset=utf-8"}, page)
        elif kind == "malformed_xml":  # a mistyped end tag, a bare &, and the end cut off
            bad = body.replace(b"</title>", b"</titel>", 1).replace(b"<description>", b"<description>R&D <br>", 1)
            bad = bad.rsplit(b"</item>", 1)[0].rsplit(b"</entry>", 1)[0]
            await _send(writer, 200, xml, bad)
            self._expose(bad)
        else:
            raise ValueError(f"unknown fault {kind!r}")

    def _expose(self, sent: bytes) -> None:
        self.ledger.exposed.update(m.decode() for m in _LINK.findall(sent))


def _head(status: int, headers: dict[str, str]) -> bytes:
    """A status line and headers; every response closes its connection, so one request is one socket."""
    reason = {200: "OK", 302: "Found", 304: "Not Modified", 403: "Forbidden", 404: "Not Found",
              429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes | None) -> None:
    """A whole response; raises OSError if the client is gone before it is handed to the kernel."""
    if body is not None:
        headers = {**headers, "Content-Length": str(len(body))}
    writer.write(_head(status, headers) + (body or b""))
    await writer.drain()
