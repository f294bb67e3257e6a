"""The fault matrix: one row per way a source goes wrong, each through a real poll of a real server.

Every row runs the same story: a healthy victim and a bystander are polled; the victim turns into the fault
and both are polled again; then the victim heals and both are polled a third time. Each row promises:

- the victim fails with a clear error naming what went wrong, or keeps the good part and says so;
- the bystander is polled normally (one failing source never stops the others);
- nothing stored before the fault is lost, nothing is stored twice, and the database passes integrity_check;
- after healing, exactly the victim's one new item is stored.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor.net import fetcher as fetcher_module
from monitor.service.poll import Outcome
from tests.support.faults import FAULTS, MAX_BYTES, FaultServer, Item
from tests.support.workspace import Clock, Workspace

BEFORE: list[Item] = [("Victim before one", "https://victim.example/1"), ("Victim before two", "https://victim.example/2")]
AFTER: list[Item] = [*BEFORE, ("Victim after", "https://victim.example/3")]
FETCH = {"timeout": 1.5, "max_bytes": MAX_BYTES, "user_agent": "monitor-test/1", "per_host": 4}

Check = Callable[[Outcome, sqlite3.Connection], None]


@dataclass(frozen=True)
class Row:
    fault: str
    error: str | None  # the victim fails with this in its error; None: it is read, and `check` says how
    check: Check | None = None
    kind: str = "feed"
    source: dict[str, Any] = field(default_factory=dict)  # more keys for the victim's config entry
    stored: int = 0  # entries the faulty document itself adds


def _titles(conn: sqlite3.Connection, like: str) -> list[str]:
    return [t for (t,) in conn.execute("select title from entries where url like ? order by id", (like,))]


def _warned(*words: str) -> Check:
    def check(out: Outcome, conn: sqlite3.Connection) -> None:
        assert any(all(w in warning for w in words) for warning in out.warnings), out.warnings
    return check


def _charset_repaired(out: Outcome, conn: sqlite3.Connection) -> None:
    assert _titles(conn, "https://charset.example/%") == ["ソフトバンクとOpenAIが合弁会社"]
    _warned("declared charset utf-8")(out, conn)


def _bad_bytes_replaced(out: Outcome, conn: sqlite3.Connection) -> None:
    assert _titles(conn, "https://utf8.example/%") == ["ソフトバンク\ufffd合弁"]  # one byte lost, not the title
    _warned("declared charset utf-8")(out, conn)


def _nul_dropped(out: Outcome, conn: sqlite3.Connection) -> None:
    assert _titles(conn, "https://nul.example/%") == ["OpenAI and SoftBank"]
    _warned("not well-formed")(out, conn)


def _all_many(out: Outcome, conn: sqlite3.Connection) -> None:
    assert out.new == 20_000
    assert conn.execute("select count(distinct key) from entries where url like 'https://many.example/%'").fetchone() \
        == (20_000,)


def _title_capped(out: Outcome, conn: sqlite3.Connection) -> None:
    (title,) = _titles(conn, "https://long.example/%")
    assert 900 <= len(title) <= 1000 and title.endswith("…"), len(title)


def _dates_unknown(out: Outcome, conn: sqlite3.Connection) -> None:
    rows = conn.execute("select title, published_at from entries where url like 'https://dates.example/%' "
                        "order by title").fetchall()
    assert rows == [(f"date {i}", None) for i in range(4)]


def _dups_once(out: Outcome, conn: sqlite3.Connection) -> None:
    assert out.new == 1
    assert conn.execute("select count(*) from entries where guid = 'same-id'").fetchone() == (1,)


def _orphans_counted(out: Outcome, conn: sqlite3.Connection) -> None:
    assert (out.new, out.skipped) == (1, 3)
    assert _titles(conn, "https://nolink.example/%") == ["kept"]


def _layout_flagged(out: Outcome, conn: sqlite3.Connection) -> None:
    assert (out.new, out.items) == (0, 0)
    _warned("matched nothing")(out, conn)
    assert conn.execute("select layout_changed_at is not null from sources where name = 'victim'").fetchone() \
        == (1,)


def _euc_jp_read(out: Outcome, conn: sqlite3.Connection) -> None:
    assert _titles(conn, "http://127.0.0.1:%/n/%") == ["人工知能戦略本部の開催について", "ＡＩ基本計画の決定"]


ROWS = [
    # Network
    Row("connect-refused", "connection refused: 127.0.0.1:"),
    Row("dns-failure", "host not found: feed.invalid"),
    Row("read-timeout", "timed out after 1.5s"),
    Row("dribble", "timed out after 1.5s"),
    Row("reset-mid-body", "connection broken"),
    Row("tls-untrusted", "TLS certificate did not verify"),
    Row("tls-untrusted", None, source={"verify": False}, stored=2),
    Row("https-trusted", None, stored=2),
    Row("http-403", "HTTP 403 Forbidden"),
    Row("http-404", "HTTP 404 Not Found"),
    Row("http-410", "HTTP 410 Gone"),
    Row("http-429", "HTTP 429 Too Many Requests"),
    Row("http-503", "HTTP 503 Service Unavailable"),
    Row("http-500", "HTTP 500 Internal Server Error"),
    Row("redirect-loop", "redirect loop"),
    Row("redirect-file", "to a non-http(s) URL 'file:///etc/passwd' refused"),
    Row("redirect-ftp", "to a non-http(s) URL 'ftp://"),
    Row("redirect-gopher", "to a non-http(s) URL 'gopher://"),
    # Bodies
    Row("empty-body", "empty response"),
    Row("over-max-bytes", "larger than fetch.max_bytes"),
    Row("gzip-bomb", "larger than fetch.max_bytes (3000000); raise it to accept (once inflated)"),
    Row("truncated-gzip", "corrupt gzip body"),
    Row("wrong-charset", None, _charset_repaired, stored=1),
    Row("invalid-utf8", None, _bad_bytes_replaced, stored=1),
    Row("nul-bytes", None, _nul_dropped, stored=1),
    Row("html-not-feed", "not a feed: {url} is an HTML page that advertises the feed http://127.0.0.1:"),
    # XML
    Row("billion-laughs", "refused: the DOCTYPE declares the entity 'lol1' in terms of other entities"),
    Row("quadratic-blowup", "refused: the DOCTYPE declares the entity 'a' of 50000 bytes"),
    Row("external-entity", "refused: the DOCTYPE declares the external entity 'x'"),
    Row("20000-items", None, _all_many, stored=20_000),
    Row("1mb-title", None, _title_capped, stored=1),
    Row("odd-dates", None, _dates_unknown, stored=4),
    Row("duplicate-ids", None, _dups_once, stored=1),
    Row("no-link-or-id", None, _orphans_counted, stored=1),
    # HTML listing pages
    Row("selectors-match-nothing", None, _layout_flagged, kind="html"),
    Row("euc-jp-undeclared", None, _euc_jp_read, kind="html", stored=2),
    Row("deeply-nested", "refused: the page nests its elements too deeply", kind="html"),
]


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    with FaultServer(tmp_path_factory.mktemp("faults")) as server:
        yield server


@pytest.fixture
def trusting_test_ca(faults: FaultServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fetcher trusts the fault server's test CA (and still not the other one)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(faults.ca_file))
    fetcher_module._tls_context.cache_clear()
    yield
    fetcher_module._tls_context.cache_clear()


def _victim(kind: str, url: str, extra: dict[str, Any]) -> dict[str, Any]:
    source = {"name": "victim", "url": url, "type": kind, **extra}
    return source | ({"item": "li.news"} if kind == "html" else {})


def _poll(ws: Workspace, clock: Clock) -> dict[str, Outcome]:
    clock.advance(hours=1)
    app = ws.app(clock)
    try:
        return {o.source: o for o in asyncio.run(app.poll(list(app.config.sources)))}
    finally:
        app.close()


def _integrity(conn: sqlite3.Connection) -> None:
    assert conn.execute("pragma integrity_check").fetchall() == [("ok",)]
    assert conn.execute("select count(*) - count(distinct key) from entries").fetchone() == (0,)
    assert conn.execute("select count(*) from (select entry_id, source_id from entry_sources "
                        "group by 1, 2 having count(*) > 1)").fetchone() == (0,)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.fault + ("+" + ",".join(r.source) if r.source else ""))
@pytest.mark.usefixtures("trusting_test_ca")
def test_fault(row: Row, faults: FaultServer, workspace: Workspace) -> None:
    bystander = {"name": "bystander", "url": faults.route("/bystander", _bystander_feed(),
                                                          content_type="application/rss+xml")}
    healthy = faults.healthy(row.kind, BEFORE)
    clock = Clock()
    workspace.write(sources=[bystander, _victim(row.kind, healthy, {})], fetch=FETCH)
    first = _poll(workspace, clock)
    assert (first["victim"].new, first["bystander"].new) == (2, 1), first

    url = faults.fault(row.fault)
    workspace.write(sources=[bystander, _victim(row.kind, url, row.source)], fetch=FETCH)
    faulty = _poll(workspace, clock)
    out = faulty["victim"]
    assert faulty["bystander"].status == "ok", faulty["bystander"]
    with sqlite3.connect(workspace.db_path) as conn:
        if row.error is not None:
            assert out.status == "error", out
            assert row.error.format(url=url) in (out.error or ""), out.error
            assert conn.execute("select last_status, last_error from sources where name = 'victim'").fetchone() \
                == ("error", out.error)
        else:
            assert out.status == "ok" and out.new == row.stored, out
            assert row.check is None or row.check(out, conn) is None
        assert conn.execute("select count(*) from entries").fetchone() == (3 + row.stored,)
        _integrity(conn)

    faults.healthy(row.kind, AFTER)
    workspace.write(sources=[bystander, _victim(row.kind, healthy, {})], fetch=FETCH)
    healed = _poll(workspace, clock)
    assert healed["victim"].status == "ok" and healed["victim"].new == 1, healed["victim"]
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from entries").fetchone() == (4 + row.stored,)
        assert {u for (u,) in conn.execute("select url from entries")} >= {link for _, link in AFTER}
        _integrity(conn)


def test_every_fault_has_a_row() -> None:
    assert {r.fault for r in ROWS} == set(FAULTS)


def _bystander_feed() -> str:
    from tests.support.faults import rss

    return rss([("Bystander news", "https://bystander.example/1")])


def test_retry_after_reaches_the_schedule(faults: FaultServer, workspace: Workspace) -> None:
    """429 and 503 say how long to wait; the outcome carries it to the scheduler (tests/test_service.py)."""
    workspace.write(sources=[{"name": "busy", "url": faults.fault("http-503")},
                             {"name": "slow", "url": faults.fault("http-429")}], fetch=FETCH)
    out = _poll(workspace, Clock())
    assert (out["busy"].retry_after, out["slow"].retry_after) == (120.0, 120.0)
    assert "retry after 120s" in (out["busy"].error or "")


def test_the_external_entity_target_is_never_read(faults: FaultServer, workspace: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN", encoding="utf-8")
    from tests.support.faults import external_entity

    url = faults.route("/xxe-secret", external_entity(secret.as_uri()), content_type="application/rss+xml")
    workspace.write(sources=[{"name": "xxe", "url": url}], fetch=FETCH)
    out = _poll(workspace, Clock())["xxe"]
    assert out.status == "error" and "external entity" in (out.error or "")
    assert b"TOP-SECRET-TOKEN" not in workspace.db_path.read_bytes()


def test_memory_stays_flat_over_rounds_of_every_fault(faults: FaultServer, workspace: Workspace,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """All faults at once, polled round after round by one process: once warm (caches filled, after
    round 3), memory still held grows less than 10% over the next rounds."""
    cheap = [f for f in FAULTS if f not in ("20000-items", "read-timeout", "dribble")]
    sources = [_victim(next((r.kind for r in ROWS if r.fault == f), "feed"), faults.fault(f), {}) | {"name": f}
               for f in cheap]
    workspace.write(sources=sources, fetch=FETCH)
    # pytest keeps every log record of a test: that is the test's memory, not the monitor's.
    monkeypatch.setattr(logging.getLogger("monitor"), "propagate", False)
    clock = Clock()
    app = workspace.app(clock)
    try:
        tracemalloc.start()
        sizes = []
        for _ in range(9):
            for name in app.archive.disabled():
                app.archive.enable(name)  # 410 disables: enable it so every round meets every fault
            clock.advance(hours=1)
            outcomes = asyncio.run(app.poll(list(app.config.sources)))
            assert len(outcomes) == len(cheap)
            faults.forget_requests()
            gc.collect()
            sizes.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
    finally:
        app.close()
    assert sizes[-1] < sizes[2] * 1.10, sizes
