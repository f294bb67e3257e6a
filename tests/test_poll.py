"""Polling end to end: a real local HTTP server, the real parsers, a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, date, datetime

import pytest

from tests.corpus import corpus_path
from tests.support.httpserver import TestServer
from tests.support.workspace import Clock, Workspace

JT_FEED = corpus_path("real/www.japantimes.co.jp/feed.xml")
KANTEI_PAGE = corpus_path("real/www.kantei.go.jp/index.html")

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test</title><link>http://example.com/</link>
{items}
</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{link}</link><description>{summary}</description>{extra}</item>"


def rss(*items: tuple[str, str] | tuple[str, str, str], extra: str = "") -> str:
    rendered = [ITEM.format(title=i[0], link=i[1], summary=i[2] if len(i) > 2 else "", extra=extra) for i in items]
    return RSS.format(items="\n".join(rendered))


def poll(ws: Workspace, clock: Clock, *names: str):  # type: ignore[no-untyped-def]
    app = ws.app(clock)
    try:
        chosen = [app.config.source(n) for n in names] if names else list(app.config.sources)
        return {o.source: o for o in asyncio.run(app.poll(chosen))}
    finally:
        app.close()


def db(ws: Workspace) -> sqlite3.Connection:
    return sqlite3.connect(ws.db_path)


def test_corpus_feed_is_stored_matched_and_a_second_poll_adds_nothing(http_server: TestServer,
                                                                        workspace: Workspace) -> None:
    http_server.route_file("/feed/", JT_FEED)
    workspace.write(sources=[{"name": "japan-times", "url": http_server.url("/feed/")}],
                    topics=[{"name": "ai", "query": '"generative AI" OR 生成AI'}])
    clock = Clock()
    first = poll(workspace, clock)["japan-times"]
    assert first.status == "ok" and first.new > 20 and first.matched >= 1, first
    with db(workspace) as conn:
        count = conn.execute("select count(*) from entries").fetchone()[0]
        titles = [r[0] for r in conn.execute(
            "select title from entries join matches on matches.entry_id = entries.id where topic = 'ai'")]
    assert count == first.new
    assert any("generative AI guidelines" in t for t in titles), titles
    clock.advance(minutes=30)
    second = poll(workspace, clock)["japan-times"]
    assert (second.status, second.new, second.matched) == ("ok", 0, 0)
    with db(workspace) as conn:
        assert conn.execute("select count(*) from entries").fetchone()[0] == count
        assert conn.execute("select count(*) from entry_sources").fetchone()[0] == count


def test_conditional_get_sends_validators_and_a_304_stores_nothing(http_server: TestServer,
                                                                     workspace: Workspace) -> None:
    http_server.route("/feed", rss(("One", "https://example.com/1")), etag='"v1"',
                      last_modified="Mon, 03 Feb 2025 00:00:00 GMT")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    clock = Clock()
    assert poll(workspace, clock)["s"].new == 1
    again = poll(workspace, clock)["s"]
    assert again.status == "not_modified"
    sent = http_server.requests[-1].headers
    assert sent.get("if-none-match") == '"v1"'
    assert sent.get("if-modified-since") == "Mon, 03 Feb 2025 00:00:00 GMT"
    assert sent.get("user-agent") == "monitor-test/1"


def test_one_article_in_two_sources_is_one_row_with_both_sources(http_server: TestServer,
                                                                  workspace: Workspace) -> None:
    http_server.route("/a", rss(("Stargate expands", "https://news.example/story?utm_source=rss&id=7")))
    http_server.route("/b", rss(("Stargate expands (copy)", "https://NEWS.example:443/story?id=7#comments")))
    workspace.write(sources=[{"name": "a", "url": http_server.url("/a")}, {"name": "b", "url": http_server.url("/b")}])
    clock = Clock()
    poll(workspace, clock, "a")
    clock.advance(minutes=5)
    out = poll(workspace, clock, "b")["b"]
    assert out.new == 0
    with db(workspace) as conn:
        rows = conn.execute("select key, url, title from entries").fetchall()
        carried = conn.execute("select count(*) from entry_sources").fetchone()[0]
    assert rows == [("https://news.example/story?id=7", "https://news.example/story?id=7", "Stargate expands")]
    assert carried == 2


def test_title_change_by_first_source_updates_and_rematches_but_keeps_first_seen(
        http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Plans announced", "https://example.com/jv")))
    http_server.route("/other", rss(("SB OAI Japan launches (other outlet)", "https://example.com/jv")))
    workspace.write(sources=[{"name": "origin", "url": http_server.url("/feed")},
                             {"name": "other", "url": http_server.url("/other")}],
                    topics=[{"name": "jv", "query": '"SB OAI Japan"'}])
    clock = Clock()
    poll(workspace, clock, "origin")
    with db(workspace) as conn:
        first_seen = conn.execute("select first_seen from entries").fetchone()[0]
    clock.advance(hours=1)
    poll(workspace, clock, "other")
    with db(workspace) as conn:
        assert conn.execute("select title from entries").fetchone()[0] == "Plans announced"
        assert conn.execute("select count(*) from matches").fetchone()[0] == 0
    http_server.route("/feed", rss(("SB OAI Japan launches Crystal intelligence", "https://example.com/jv")))
    clock.advance(hours=1)
    out = poll(workspace, clock, "origin")["origin"]
    assert (out.new, out.matched) == (0, 1)
    with db(workspace) as conn:
        title, seen = conn.execute("select title, first_seen from entries").fetchone()
        assert conn.execute("select topic from matches").fetchall() == [("jv",)]
    assert title == "SB OAI Japan launches Crystal intelligence"
    assert seen == first_seen


def test_items_without_link_or_id_are_skipped_and_counted(http_server: TestServer, workspace: Workspace) -> None:
    body = RSS.format(items="<item><title>no link, no id</title></item>"
                            "<item><title>bad scheme</title><link>javascript:alert(1)</link></item>"
                            "<item><title>id only</title><guid isPermaLink='false'>abc-1</guid></item>"
                            + ITEM.format(title="ok", link="https://example.com/ok", summary="", extra=""))
    http_server.route("/feed", body)
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    out = poll(workspace, Clock())["s"]
    assert (out.new, out.skipped) == (2, 2), out
    with db(workspace) as conn:
        rows = dict(conn.execute("select title, url from entries").fetchall())
    assert rows == {"id only": None, "ok": "https://example.com/ok"}


def test_one_failing_source_never_stops_the_others(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/good", rss(("Fine", "https://example.com/fine")))
    http_server.route("/broken", "<html><body>oops</body></html>", status=500, content_type="text/html")
    http_server.route("/notfeed", "<html><head><link rel='alternate' type='application/rss+xml' href='/real.xml'>"
                                  "</head><body>hi</body></html>", content_type="text/html")
    workspace.write(sources=[{"name": "good", "url": http_server.url("/good")},
                             {"name": "broken", "url": http_server.url("/broken")},
                             {"name": "notfeed", "url": http_server.url("/notfeed")},
                             {"name": "refused", "url": "http://127.0.0.1:9/feed"}])
    out = poll(workspace, Clock())
    assert out["good"].status == "ok" and out["good"].new == 1
    assert out["broken"].status == "error" and "500" in (out["broken"].error or "")
    assert "not a feed" in (out["notfeed"].error or "") and http_server.url("/real.xml") in (out["notfeed"].error or "")
    assert out["refused"].status == "error"
    with db(workspace) as conn:
        states = dict(conn.execute("select name, last_status from sources").fetchall())
        failures = dict(conn.execute("select name, consecutive_failures from sources").fetchall())
    assert states == {"good": "ok", "broken": "error", "notfeed": "error", "refused": "error"}
    assert failures["broken"] == 1 and failures["good"] == 0


def test_html_listing_source_from_the_corpus(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route_file("/", KANTEI_PAGE, content_type="text/html")
    workspace.write(sources=[{"name": "kantei-top", "type": "html", "url": http_server.url("/"),
                              "item": "li.list-new__item", "title": ".list-new__description",
                              "link": "a.list-new__link", "date": "time"}],
                    topics=[{"name": "ai", "query": "AI"}])
    out = poll(workspace, Clock(datetime(2026, 9, 1, tzinfo=UTC)))["kantei-top"]  # the page was captured then
    assert (out.status, out.new, out.matched) == ("ok", 3, 1), out
    with db(workspace) as conn:
        rows = conn.execute("select url, published_at, title from entries order by id").fetchall()
    assert rows[1] == (http_server.url("/jp/105/actions/202608/28ai.html"), "2026-08-27 15:00:00.000000",
                       "高市総理はＡⅠ家庭教師（チームみらいの安野貴博党首ほか）によるＡⅠの活用方法の説明を受けました")


def test_digest_window_and_lookback(http_server: TestServer, workspace: Workspace) -> None:
    recent = "<pubDate>Mon, 03 Feb 2025 10:00:00 +0900</pubDate>"
    http_server.route("/feed", rss(("Stargate site one", "https://example.com/1", "OpenAI data center"), extra=recent))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "title": "Stargate", "query": "Stargate OpenAI"}])
    clock = Clock()  # 2025-02-03 10:00 JST: in the window of the 2025-02-04 digest
    poll(workspace, clock)
    old = "<pubDate>Mon, 27 Jan 2025 10:00:00 +0900</pubDate>"
    http_server.route("/feed", rss(("Stargate old story", "https://example.com/old", "OpenAI"), extra=old))
    poll(workspace, clock)
    app = workspace.app(clock)
    try:
        assert app.current_day() == date(2025, 2, 4)
        digest = app.digest(date(2025, 2, 4))
        assert [i.title for s in digest.sections for i in s.items] == ["Stargate site one"]
        assert app.digest(date(2025, 2, 3)).entries == 0
    finally:
        app.close()


def _faults(server: TestServer) -> dict[str, str]:
    """Source name -> a part of the error its poll must report."""
    from tests.support.httpserver import Response, dribble

    server.redirect("/loop-a", "/loop-b")
    server.redirect("/loop-b", "/loop-a")
    server.route("/huge", b"<rss>" + b" " * 3_000_000 + b"</rss>")
    server.handler("/dribble", lambda _req: Response(200, {"Content-Type": "application/xml"},
                                                      dribble(b"<rss><channel>" * 100, every=0.5, forever=True)))
    server.route("/malformed", "<<<this is not xml at all>>>", content_type="application/xml")
    server.route("/empty", b"")
    server.route("/error", "boom", status=500, content_type="text/plain")
    return {"loop": "redirect loop", "huge": "max_bytes", "dribble": "timed out", "malformed": "not a feed",
            "empty": "empty", "error": "HTTP 500"}


def test_each_fault_fails_only_its_source(http_server: TestServer, workspace: Workspace) -> None:
    expected = _faults(http_server)
    http_server.route("/good", rss(("Good", "https://example.com/good")))
    paths = {"loop": "/loop-a", "huge": "/huge", "dribble": "/dribble", "malformed": "/malformed",
             "empty": "/empty", "error": "/error"}
    workspace.write(sources=[{"name": "good", "url": http_server.url("/good")}]
                    + [{"name": n, "url": http_server.url(p)} for n, p in paths.items()],
                    fetch={"timeout": 2, "max_bytes": 1_000_000, "user_agent": "t/1"})
    out = poll(workspace, Clock())
    assert out["good"].status == "ok" and out["good"].new == 1
    for name, part in expected.items():
        assert out[name].status == "error", (name, out[name])
        assert part in (out[name].error or ""), (name, out[name].error)


ENCODINGS = [
    ("shift-jis-rdf-declared", "real/www.soumu.go.jp/news.rdf", "application/rdf+xml", "総務省"),
    ("shift-jis-header-only", "real/www.mlit.go.jp/pressrelease.rdf", "application/xml; charset=Shift_JIS", None),
    ("euc-jp-declared", "real/rdf.ycf.nanet.co.jp/index.rdf.xml", "application/xml", None),
    ("utf8-bom", "real/www.mod.go.jp/j__rss__news.xml", "application/rss+xml", "防衛"),
]


def test_japanese_feeds_in_every_charset_are_stored_readable(http_server: TestServer, workspace: Workspace) -> None:
    sources = []
    for name, path, ctype, _ in ENCODINGS:
        http_server.route_file(f"/{name}", corpus_path(path), content_type=ctype)
        sources.append({"name": name, "url": http_server.url(f"/{name}")})
    workspace.write(sources=sources)
    out = poll(workspace, Clock())
    with db(workspace) as conn:
        for name, _, _, word in ENCODINGS:
            assert out[name].status == "ok" and out[name].new > 0, out[name]
            titles = [t for (t,) in conn.execute(
                "select title from entries join sources on sources.id = entries.source_id where name = ?", (name,))]
            assert all("\ufffd" not in t for t in titles), (name, titles[:3])
            assert all(any("\u3040" <= c <= "\u9fff" for c in t) for t in titles[:5]), (name, titles[:3])
            if word:
                assert any(word in t for t in titles), (name, titles[:5])


def test_undeclared_euc_jp_listing_page(http_server: TestServer, workspace: Workspace) -> None:
    page = ("<html><head><title>一覧</title></head><body><ul>"
            "<li><a href='/n/1'>人工知能戦略本部の開催について</a> 2025年9月12日</li>"
            "<li><a href='/n/2'>ＡＩ基本計画の決定</a> 令和7年12月23日</li></ul></body></html>").encode("euc-jp")
    http_server.route("/list", page, content_type="text/html")
    workspace.write(sources=[{"name": "eucjp", "type": "html", "url": http_server.url("/list"), "item": "li"}],
                    topics=[{"name": "policy", "query": "AI基本計画 OR 人工知能戦略本部"}])
    out = poll(workspace, Clock(datetime(2026, 1, 5, tzinfo=UTC)))["eucjp"]  # after both dates
    assert (out.status, out.new, out.matched) == ("ok", 2, 2)
    with db(workspace) as conn:
        rows = conn.execute("select title, published_at from entries order by id").fetchall()
    assert rows == [("人工知能戦略本部の開催について", "2025-09-11 15:00:00.000000"),
                    ("ＡＩ基本計画の決定", "2025-12-22 15:00:00.000000")]


def test_digest_keeps_entries_without_a_date(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Stargate undated", "https://example.com/u", "OpenAI")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "title": "Stargate", "query": "Stargate OpenAI"}])
    clock = Clock()
    poll(workspace, clock)
    app = workspace.app(clock)
    try:
        items = [i for s in app.digest(date(2025, 2, 4)).sections for i in s.items]
    finally:
        app.close()
    assert [(i.title, i.published) for i in items] == [("Stargate undated", None)]


def test_a_one_shot_poll_schedules_the_next_poll_unless_a_worker_holds_the_source(
        http_server: TestServer, workspace: Workspace) -> None:
    """`monitor poll` then `monitor run`: run must not poll again at once, nor ignore a Retry-After."""
    from datetime import timedelta

    from monitor.store.schedule import Schedule

    http_server.route("/ok", rss(("One", "https://example.com/1")))
    http_server.route("/busy", "busy", status=503, content_type="text/plain", headers={"Retry-After": "7200"})
    http_server.route("/held", rss(("Two", "https://example.com/2")))
    workspace.write(sources=[{"name": "ok", "url": http_server.url("/ok"), "every": "30m"},
                             {"name": "busy", "url": http_server.url("/busy"), "every": "30m"},
                             {"name": "held", "url": http_server.url("/held"), "every": "30m"}])
    clock = Clock()
    app = workspace.app(clock)
    try:
        app.source_ids  # noqa: B018 - the rows, so that a worker can hold one
        assert Schedule(app.engine).claim_due("run:1", ["held"], clock.now, limit=1, lease=timedelta(minutes=5))
        asyncio.run(app.poll(list(app.config.sources)))
    finally:
        app.close()
    with db(workspace) as conn:
        due = dict(conn.execute("select name, next_poll_at from sources").fetchall())
        held = conn.execute("select lease_owner from sources where name = 'held'").fetchone()
    start = clock.now.replace(tzinfo=None)
    ok, busy = (datetime.fromisoformat(due[n]) for n in ("ok", "busy"))
    assert start + timedelta(minutes=30) <= ok <= start + timedelta(minutes=45), ok
    assert busy >= start + timedelta(hours=2), busy  # the server's Retry-After, longer than the back-off
    assert held == ("run:1",) and due["held"] is None  # a worker of `run` holds it: its business


KANTEI_FEED = corpus_path("real/www.kantei.go.jp/index-jnews.rdf")


def _renumbered(feed: str, new_item: str) -> str:
    """The feed as kantei serves it the next day: a new item on top, every item_N shifted by one."""
    import re

    shifted = re.sub(r"item_(\d+)</guid>", lambda m: f"item_{int(m.group(1)) + 1}</guid>", feed)
    return shifted.replace("<item>", new_item + "<item>", 1)


def test_kantei_link_less_item_is_one_entry_when_the_feed_shifts(http_server: TestServer,
                                                                  workspace: Workspace) -> None:
    """The real feed has one item without a link (北朝鮮…関連情報について, item_17); its id is only its
    position, so the next day it is item_18. It stays one entry, and nothing is lost."""
    feed = KANTEI_FEED.read_text(encoding="utf-8")
    http_server.route("/kantei", feed, content_type="application/rss+xml")
    workspace.write(sources=[{"name": "kantei", "url": http_server.url("/kantei")}], topics=[])
    clock = Clock()
    assert poll(workspace, clock)["kantei"].new == 25
    new_item = ("<item><title>高市総理は新しい会議に出席しました</title><link>https://www.kantei.go.jp/jp/105/actions/new.html"
                "</link><description/><pubDate>21 Aug 2026 10:00:00 +0900</pubDate>"
                "<guid isPermaLink=\"false\">item_1</guid></item>")
    http_server.route("/kantei", _renumbered(feed, new_item), content_type="application/rss+xml")
    clock.advance(hours=1)
    assert poll(workspace, clock)["kantei"].new == 1
    with db(workspace) as conn:
        titles = [r[0] for r in conn.execute("select title from entries where url is null")]
        assert titles == ["北朝鮮による弾道ミサイル発射事案に係る関連情報について"]
        assert conn.execute("select count(*) from entries").fetchone()[0] == 26


def test_link_less_items_of_two_feeds_with_the_same_plain_id_are_two_entries(http_server: TestServer,
                                                                             workspace: Workspace) -> None:
    """Two feeds on one host, each with <guid>item_1</guid> and no link: two articles, no made-up link."""
    for name, title in (("a", "First feed's notice"), ("b", "Second feed's notice")):
        http_server.route(f"/{name}", RSS.format(items=f"<item><title>{title}</title><guid>item_1</guid></item>"))
    workspace.write(sources=[{"name": "a", "url": http_server.url("/a")}, {"name": "b", "url": http_server.url("/b")}])
    out = poll(workspace, Clock())
    assert (out["a"].new, out["b"].new) == (1, 1)
    with db(workspace) as conn:
        rows = sorted(conn.execute("select key, url, title from entries"))
    assert [(key.split(":")[:2], url, title) for key, url, title in rows] == [
        (["item", "a"], None, "First feed's notice"), (["item", "b"], None, "Second feed's notice")]


def test_a_date_far_ahead_of_the_poll_is_no_publication_date(http_server: TestServer, workspace: Workspace) -> None:
    """A CMS placeholder (2125) or a typo'd year would sit on top of newest-first lists for
    years: such a date is dropped (first_seen stands in), the item is not revised at each poll,
    and a link-less item keyed by its date keeps its key. A day ahead is only a clock off."""
    far = "<pubDate>Sat, 01 Jan 2125 00:00:00 +0000</pubDate>"
    soon = "<pubDate>Tue, 04 Feb 2025 09:00:00 +0900</pubDate>"
    feed = RSS.format(items="".join([
        f"<item><title>Placeholder date</title><link>https://example.com/far</link>{far}</item>",
        f"<item><title>Tomorrow in Tokyo</title><link>https://example.com/soon</link>{soon}</item>",
        f"<item><title>Link-less and far</title><guid isPermaLink='false'>item_3</guid>{far}</item>"]))
    http_server.route("/feed", feed)
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    clock = Clock()  # 2025-02-03 01:00 UTC
    assert poll(workspace, clock)["s"].new == 3
    clock.advance(hours=1)
    again = poll(workspace, clock)["s"]
    assert (again.new, again.status) == (0, "ok")
    with db(workspace) as conn:
        rows = conn.execute("select title, published_at, updated_at = first_seen from entries order by id").fetchall()
    assert rows == [("Placeholder date", None, 1), ("Tomorrow in Tokyo", "2025-02-04 00:00:00.000000", 1),
                    ("Link-less and far", None, 1)]


def test_a_revision_counts_as_matched_only_when_it_matches_anew(http_server: TestServer, workspace: Workspace) -> None:
    """"1 new, 4 matched" after three items only changed their dates read as nonsense."""
    item = "<item><title>{0}</title><link>https://example.com/{1}</link><pubDate>{2}</pubDate></item>"
    dated = lambda day: RSS.format(items="".join(item.format(f"Stargate OpenAI {n}", n, f"{day} Feb 2025 09:00:00 +0900")
                                                 for n in range(3)))
    http_server.route("/feed", dated("Sun, 02"))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate OpenAI"}])
    clock = Clock()
    first = poll(workspace, clock)["s"]
    assert (first.new, first.matched) == (3, 3)
    http_server.route("/feed", dated("Mon, 03"))
    clock.advance(hours=1)
    again = poll(workspace, clock)["s"]
    assert (again.new, again.matched) == (0, 0)
    with db(workspace) as conn:
        assert conn.execute("select count(*) from entries where published_at like '2025-02-03%'").fetchone() == (3,)


def test_a_failed_poll_is_logged_as_a_warning(http_server: TestServer, workspace: Workspace,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A first-run exploratory test ran with -q (log_level warning): six failing sources left
    nothing in the log. A failed poll is a warning; a good one stays info."""
    http_server.route("/feed", rss(("Stargate", "https://example.com/s")))
    workspace.write(sources=[{"name": "good", "url": http_server.url("/feed")},
                             {"name": "bad", "url": http_server.url("/missing")}])
    with caplog.at_level(logging.INFO, logger="monitor.poll"):
        poll(workspace, Clock())
    levels = {r.getMessage().split()[1]: r.levelname for r in caplog.records if r.getMessage().startswith("event=poll ")}
    assert levels == {"source=good": "INFO", "source=bad": "WARNING"}


def test_fixed_selectors_read_the_page_again_though_it_did_not_change(http_server: TestServer,
                                                                     workspace: Workspace) -> None:
    """A selector that matched nothing, fixed in the config, must not be answered by a 304 earned
    with the old one: the page did not change, but what is read from it did."""
    page = ("<html><body><ul class='news'><li><a href='/n/1'>Stargate site opens</a></li>"
            "<li><a href='/n/2'>SB OAI Japan starts sales</a></li></ul></body></html>")
    http_server.route("/list", page, content_type="text/html", etag='"v1"')
    source = {"name": "page", "type": "html", "url": http_server.url("/list"), "item": "ul.nonexistent li"}
    workspace.write(sources=[source])
    clock = Clock()
    first = poll(workspace, clock)["page"]
    assert (first.status, first.new) == ("ok", 0) and "matched nothing" in first.line()
    clock.advance(minutes=1)
    assert poll(workspace, clock)["page"].status == "not_modified"  # unchanged reading: the 304 holds
    workspace.write(sources=[{**source, "item": "ul.news li"}])
    clock.advance(minutes=1)
    fixed = poll(workspace, clock)["page"]
    assert (fixed.status, fixed.new) == ("ok", 2)
    with db(workspace) as conn:
        assert conn.execute("select last_status, etag, last_items from sources").fetchone() == ("ok", '"v1"', 2)
    clock.advance(minutes=1)
    assert poll(workspace, clock)["page"].status == "not_modified"  # the new reading's validators hold


def test_validators_earned_by_a_process_on_the_old_selectors_are_not_trusted(http_server: TestServer,
                                                                            workspace: Workspace) -> None:
    """`monitor run` still on the old config polls after the user fixed the selectors (and a
    `monitor sources` synced them): the ETag it earns belongs to the old reading, so the new
    config must fetch the page whole, not take a 304 for the old selectors' empty result."""
    page = ("<html><body><ul class='news'><li><a href='/n/1'>Stargate site opens</a></li>"
            "<li><a href='/n/2'>SB OAI Japan starts sales</a></li></ul></body></html>")
    http_server.route("/list", page, content_type="text/html", etag='"v1"')
    old = {"name": "page", "type": "html", "url": http_server.url("/list"), "item": "ul.nonexistent li"}
    new = {**old, "item": "ul.news li"}
    clock = Clock()
    workspace.write(sources=[old])
    running = workspace.app(clock)  # `monitor run`, started on the old config
    try:
        assert asyncio.run(running.poll(list(running.config.sources)))[0].new == 0
        workspace.write(sources=[new])
        other = workspace.app(clock)  # a command on the new config syncs the sources
        try:
            other.source_ids  # noqa: B018
        finally:
            other.close()
        http_server.route("/list", page + " ", content_type="text/html", etag='"v2"')  # the page changes
        clock.advance(minutes=1)
        # the running service, still on the old selectors, earns "v2" for them
        assert asyncio.run(running.poll(list(running.config.sources)))[0].new == 0
    finally:
        running.close()
    clock.advance(minutes=1)
    fixed = poll(workspace, clock)["page"]
    assert (fixed.status, fixed.new) == ("ok", 2), fixed
