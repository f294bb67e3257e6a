"""fetch_article: the page text of new entries is fetched, stored, indexed and matched."""

from __future__ import annotations

import json
import socket
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.corpus import corpus_path
from tests.support.httpserver import RequestInfo, Response, TestServer
from tests.support.workspace import Clock, Workspace
from tests.test_guard import _rebinding
from tests.test_poll import poll, rss

JT_ARTICLE = corpus_path("real/www.japantimes.co.jp/news__2020__02__18__national__crime-legal__6000-surgical-masks-stolen.html")


def test_article_text_is_fetched_politely_indexed_and_matched(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route_file("/news/masks", JT_ARTICLE, content_type="text/html; charset=utf-8")
    http_server.route("/news/second", "<html><body><article><p>Stargate OpenAI data center in Abilene, with "
                                      "a long paragraph of text about the site.</p></article></body></html>",
                      content_type="text/html")
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    http_server.route("/private/third", "<html><body><article><p>masks</p></article></body></html>",
                      content_type="text/html")
    http_server.route("/feed", rss(("6,000 masks stolen", http_server.url("/news/masks")),
                                   ("A second story", http_server.url("/news/second")),
                                   ("Private story", http_server.url("/private/third"))))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "hospital", "query": "hospital"}, {"name": "stargate", "query": "Stargate Abilene"}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})
    out = poll(workspace, Clock())["s"]
    assert out.status == "ok" and out.new == 3 and out.articles == (2, 2)
    assert out.line() == "s: 3 new, 2 matched (2 by article text)"  # what `monitor poll` prints
    with sqlite3.connect(workspace.db_path) as conn:
        rows = dict(conn.execute("select title, length(text) from entries").fetchall())
        topics = dict(conn.execute("select title, topic from entries join matches on entry_id = entries.id"))
    assert rows["6,000 masks stolen"] > 500 and rows["A second story"] > 20 and rows["Private story"] == 0
    assert topics == {"6,000 masks stolen": "hospital", "A second story": "stargate"}
    times = [r for r in http_server.requests if r.path.startswith("/news/")]
    assert len(times) == 2
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "search", "text:Abilene",
                                      "--format", "json"])
    found = json.loads(result.stdout)
    assert [r["title"] for r in found] == ["A second story"]
    assert found[0]["why"]["stargate"][0]["in"] == ["text"]


def test_private_addresses_are_refused_unless_allowed(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/news/a", "<html><body><article><p>hospital news</p></article></body></html>",
                      content_type="text/html")
    http_server.route("/feed", rss(("A", http_server.url("/news/a"))))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "hospital", "query": "hospital"}])
    out = poll(workspace, Clock())["s"]
    assert out.status == "ok" and out.new == 1
    assert "/news/a" not in [r.path for r in http_server.requests]
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select text from entries").fetchone() == ("",)


def test_fetched_text_survives_later_polls_and_a_title_revision(http_server: TestServer,
                                                               workspace: Workspace) -> None:
    """The feed never carries the article text (nor the og:description the page gave): polling it
    again must not take them away, and a revised title is indexed and matched with the text."""
    http_server.route("/news/second", "<html><head><meta property='og:description' content='Site news from "
                                      "Texas.'></head><body><article><p>Stargate OpenAI data center in Abilene, "
                                      "with a long paragraph of text about the site.</p></article></body></html>",
                      content_type="text/html")
    http_server.route("/feed", rss(("A second story", http_server.url("/news/second"))))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "stargate", "query": "Stargate Abilene"}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})
    clock = Clock()
    assert poll(workspace, clock)["s"].new == 1

    def state() -> tuple[str, str, list[str], list[str]]:
        with sqlite3.connect(workspace.db_path) as conn:
            title, summary = conn.execute("select title, summary from entries").fetchone()
            topics = [r[0] for r in conn.execute("select topic from matches")]
        found = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "search", "text:Abilene",
                                         "--format", "json"])
        return title, summary, topics, [r["title"] for r in json.loads(found.stdout)]

    assert state() == ("A second story", "Site news from Texas.", ["stargate"], ["A second story"])
    clock.advance(minutes=30)
    again = poll(workspace, clock)["s"]
    assert again.status == "ok" and again.new == 0
    assert state() == ("A second story", "Site news from Texas.", ["stargate"], ["A second story"])
    http_server.route("/feed", rss(("A second story, revised", http_server.url("/news/second"))))
    clock.advance(minutes=30)
    assert poll(workspace, clock)["s"].new == 0
    assert state() == ("A second story, revised", "Site news from Texas.", ["stargate"], ["A second story, revised"])


def test_an_article_hosts_robots_txt_is_fetched_under_the_guard(http_server: TestServer, workspace: Workspace,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A link whose name answers a public address to the guard and 127.0.0.1 next: neither its
    robots.txt nor the page is asked for (the guarded connection refuses the second answer)."""
    http_server.route("/news/a", "<html><body><article><p>hospital news</p></article></body></html>",
                      content_type="text/html")
    link = http_server.url("/news/a").replace("127.0.0.1", "rebind.example")
    http_server.route("/feed", rss(("A", link)))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "hospital", "query": "hospital"}])
    monkeypatch.setattr(socket, "getaddrinfo", _rebinding("93.184.216.34", "127.0.0.1"))
    out = poll(workspace, Clock())["s"]
    assert out.status == "ok" and out.new == 1
    assert [r.path for r in http_server.requests] == ["/feed"]
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select text from entries").fetchone() == ("",)


def test_an_entry_matched_only_by_its_late_article_is_in_the_next_digest_once(
        http_server: TestServer, workspace: Workspace) -> None:
    """The item comes a minute before digest.at and matches nothing; its page comes after the
    digest of that window was made (the digest is made while the page is being served) and
    makes it match. It must be in the next digest, only there, and alert its topic."""
    clock = Clock(datetime(2025, 2, 3, 22, 59, tzinfo=UTC))  # 07:59 on 4 February in Tokyo
    made: list[int] = []

    def page(request: RequestInfo) -> Response:
        clock.advance(minutes=2)  # 08:01: the window of 4 February has closed
        app = workspace.app(clock)
        try:
            done = app.digest_service().make(date(2025, 2, 4))
            assert done is not None
            made.append(done.entries)
        finally:
            app.close()
        return Response(body="<html><body><article><p>SB OAI Japan starts selling Crystal intelligence "
                             "to Japanese companies, with a long paragraph about it.</p></article></body></html>",
                        headers={"Content-Type": "text/html"})

    http_server.handler("/news/jv", page)
    http_server.route("/feed", rss(("Joint venture begins sales", http_server.url("/news/jv"))))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "jv", "query": '"Crystal intelligence"', "alert": "immediate"}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True},
                    digest={"at": "08:00", "dir": "digests", "lookback": "3d",
                            "email": {"to": ["a@example.org"], "from": "m@example.org",  # nothing is sent: no server
                                      "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"}}})
    assert poll(workspace, clock)["s"].new == 1
    assert made == [0]  # made while the page was on its way: it saw no match
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select topic from alert_queue").fetchall() == [("jv",)]
    clock.advance(days=1)
    app = workspace.app(clock)
    try:
        assert [e.title for s in app.digest(date(2025, 2, 5)).sections for e in s.items] == [
            "Joint venture begins sales"]
        assert app.digest(date(2025, 2, 4)).entries == 0  # remade later: still not there (once only)
    finally:
        app.close()


def _article_setup(http_server: TestServer, workspace: Workspace, **topic: object) -> None:
    http_server.route("/feed", rss(("Joint venture begins sales", http_server.url("/news/jv"))), etag='"v1"')
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": not topic}],
                    topics=[{"name": "jv", "query": '"Crystal intelligence" OR "joint venture"', **topic}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})


def _queue_and_text() -> str:
    return "select (select count(*) from article_queue), (select length(text) from entries)"


def test_a_page_that_failed_is_fetched_at_a_later_poll_even_when_the_feed_is_unchanged(
        http_server: TestServer, workspace: Workspace) -> None:
    """The page is queued with the poll: a failure (or a shutdown mid-way) leaves it queued, and
    the source's later poll fetches it, though the feed answers 304 and has nothing new."""
    _article_setup(http_server, workspace)
    http_server.route("/news/jv", "busy", status=503, content_type="text/plain")
    clock = Clock()
    assert poll(workspace, clock)["s"].new == 1
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute(_queue_and_text()).fetchone() == (1, 0)
    http_server.route("/news/jv", "<html><body><article><p>SB OAI Japan starts selling Crystal intelligence, "
                                  "with a long paragraph about it.</p></article></body></html>", content_type="text/html")
    clock.advance(minutes=5)  # not yet due again
    assert poll(workspace, clock)["s"].status == "not_modified"
    assert [r.path for r in http_server.requests].count("/news/jv") == 1
    clock.advance(minutes=6)
    assert poll(workspace, clock)["s"].status == "not_modified"
    with sqlite3.connect(workspace.db_path) as conn:
        queued, length = conn.execute(_queue_and_text()).fetchone()
    assert (queued, length > 40) == (0, True)


def test_a_page_that_keeps_failing_is_given_up_after_three_tries(http_server: TestServer,
                                                                 workspace: Workspace) -> None:
    _article_setup(http_server, workspace)
    http_server.route("/news/jv", "gone", status=404, content_type="text/plain")
    clock = Clock()
    for _ in range(4):
        poll(workspace, clock)
        clock.advance(hours=1)
    assert [r.path for r in http_server.requests].count("/news/jv") == 3
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute(_queue_and_text()).fetchone() == (0, 0)


def test_a_topic_asks_for_the_pages_of_the_entries_it_matches_only(http_server: TestServer,
                                                                   workspace: Workspace) -> None:
    _article_setup(http_server, workspace, fetch_article=True)
    http_server.route("/feed", rss(("Joint venture begins sales", http_server.url("/news/jv")),
                                   ("Weather in Osaka", http_server.url("/news/weather"))))
    http_server.route("/news/jv", "<html><body><article><p>SB OAI Japan starts selling Crystal intelligence, "
                                  "with a long paragraph about it.</p></article></body></html>", content_type="text/html")
    assert poll(workspace, Clock())["s"].new == 2
    assert [r.path for r in http_server.requests if r.path.startswith("/news/")] == ["/news/jv"]
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from article_queue").fetchone() == (0,)


JV_PAGE = ("<html><body><article><p>SB OAI Japan starts selling Crystal intelligence to Japanese companies, "
           "with a long paragraph about it.</p></article></body></html>")
_MAIL = {"to": ["a@example.org"], "from": "m@example.org",  # nothing is sent: no server
         "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"}}


def _alerting_source_whose_page_is_busy(http_server: TestServer, workspace: Workspace, title: str) -> None:
    """One item `title` whose article page answers 503, its source asking for pages, and an
    alerting topic on "Crystal intelligence"."""
    http_server.route("/feed", rss((title, http_server.url("/news/jv"))))
    http_server.route("/news/jv", "busy", status=503, content_type="text/plain")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "jv", "query": '"Crystal intelligence"', "alert": "immediate"}],
                    digest={"at": "08:00", "dir": "digests", "lookback": "3d", "email": _MAIL},
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})


def test_an_entry_that_matched_when_stored_is_not_counted_again_when_its_page_comes(
        http_server: TestServer, workspace: Workspace) -> None:
    """It matched by its title and was in the digest; the feed then edits the headline (no match
    for a while) and the page, retried after a 503, brings the match back: no second digest,
    no second alert."""
    clock = Clock(datetime(2025, 2, 3, 22, 50, tzinfo=UTC))  # 07:50 on 4 February in Tokyo
    _alerting_source_whose_page_is_busy(http_server, workspace, "Crystal intelligence goes on sale")
    assert poll(workspace, clock)["s"].new == 1
    clock.advance(minutes=15)
    app = workspace.app(clock)
    try:
        made = app.digest_service().make(date(2025, 2, 4))
        assert made is not None and made.entries == 1
    finally:
        app.close()
    http_server.route("/feed", rss(("SoftBank and OpenAI venture starts sales", http_server.url("/news/jv"))))
    http_server.route("/news/jv", JV_PAGE, content_type="text/html")
    clock.advance(minutes=15)  # the retry is due
    poll(workspace, clock)
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone() == (1,)
        # counted when first seen, as it was: losing its match by the edit stamped that
        assert conn.execute("select late_match_at = first_seen from entries").fetchone() == (1,)
        assert conn.execute("select topic from matches").fetchall() == [("jv",)]
    clock.advance(days=1)
    app = workspace.app(clock)
    try:
        assert app.digest(date(2025, 2, 5)).entries == 0
    finally:
        app.close()


def test_a_page_stored_by_another_worker_is_not_stored_or_alerted_again(http_server: TestServer,
                                                                        workspace: Workspace) -> None:
    """Two workers that fetched one queued page (a one-shot poll beside `run`): the first to
    store it takes it off the queue; the second stores nothing and queues no second alert."""
    from monitor.store.archive import Indexed

    _alerting_source_whose_page_is_busy(http_server, workspace, "Sales begin")
    clock = Clock()
    assert poll(workspace, clock)["s"].new == 1  # matches nothing yet; its page is queued
    app = workspace.app(clock)
    try:
        entry_id = app.reader.search(None, limit=1)[0].id
        indexed = Indexed(("sales begin", "", "crystal intelligence"), ("jv",))
        stored = [app.archive.set_article(entry_id, text="Crystal intelligence", summary="", published=None,
                                          indexed=indexed, now=clock(), alert_topics={"jv"}) for _ in range(2)]
    finally:
        app.close()
    assert stored == [(("jv",), True), None]  # the topic it matches only now, its first; then nothing
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone() == (1,)
        assert conn.execute("select count(*) from article_queue").fetchone() == (0,)


def test_a_page_that_crashes_the_extractor_is_counted_and_does_not_block_the_next(
        http_server: TestServer, workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.service import articles

    real = articles.extract_article

    def broken_on_bad(body: bytes, *, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        if "/bad" in url:
            raise ValueError("a bug in extraction")
        return real(body, url=url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(articles, "extract_article", broken_on_bad)
    http_server.route("/feed", rss(("First", http_server.url("/bad")), ("Second", http_server.url("/good"))))
    http_server.route("/bad", JV_PAGE, content_type="text/html")
    http_server.route("/good", JV_PAGE, content_type="text/html")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "jv", "query": '"Crystal intelligence"'}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})
    clock = Clock()
    outcomes = []
    for _ in range(4):
        outcomes.append(poll(workspace, clock)["s"].status)
        clock.advance(hours=1)
    assert outcomes == ["ok"] * 4
    assert [r.path for r in http_server.requests].count("/bad") == 3
    with sqlite3.connect(workspace.db_path) as conn:
        rows = conn.execute("select title, length(text) > 0 from entries order by id").fetchall()
        assert conn.execute("select count(*) from article_queue").fetchone() == (0,)
    assert rows == [("First", 0), ("Second", 1)]


def test_the_newest_pages_come_first_and_a_day_old_backlog_is_given_up(
        http_server: TestServer, workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.service import articles, maintenance

    monkeypatch.setattr(articles, "PER_POLL", 2)
    monkeypatch.setattr(articles, "HOST_SPACING", 0.0)
    for n in range(6):
        http_server.route(f"/news/{n}", JV_PAGE, content_type="text/html")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "jv", "query": '"Crystal intelligence"'}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})
    clock = Clock()
    http_server.route("/feed", rss(*[(f"Old {n}", http_server.url(f"/news/{n}")) for n in range(4)]))
    poll(workspace, clock)  # 4 queued, 2 fetched
    clock.advance(minutes=30)
    http_server.route("/feed", rss(*[(f"New {n}", http_server.url(f"/news/{n}")) for n in (4, 5)]))
    poll(workspace, clock)  # the 2 new ones before the 2 left over
    fetched = [r.path for r in http_server.requests if r.path.startswith("/news/")]
    assert fetched[-2:] == ["/news/5", "/news/4"]
    clock.advance(days=1, minutes=1)
    poll(workspace, clock)  # the leftovers are a day old: given up, not fetched
    assert [r.path for r in http_server.requests if r.path.startswith("/news/")] == fetched
    app = workspace.app(clock)
    try:
        maintenance.run(app.engine, retention=timedelta(days=365), now=clock())
    finally:
        app.close()
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from article_queue").fetchone() == (0,)


def test_search_results_leave_the_article_texts_in_the_database(http_server: TestServer,
                                                                workspace: Workspace) -> None:
    """A result list never shows article text, and `search --stories` reads 2,000 rows: they
    come without it (up to 50,000 characters each); `topics test`, which matches on it, gets it."""
    http_server.route("/feed", rss(("Joint venture begins sales", http_server.url("/news/jv"))))
    http_server.route("/news/jv", JV_PAGE, content_type="text/html")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "jv", "query": '"Crystal intelligence"'}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})
    poll(workspace, Clock())
    app = workspace.app(Clock())
    try:
        [found] = app.reader.search(None)
        assert found.text == "" and found.topics == ("jv",)
        assert "Crystal intelligence" in app.reader.by_ids([found.id])[0].text
    finally:
        app.close()


@pytest.mark.parametrize(
    ("outcome", "line"),
    [({"status": "not_modified", "articles": (1, 1)}, "s: not modified, 1 matched by article text"),
     ({"status": "not_modified", "articles": (1, 0)}, "s: not modified"),
     ({"status": "ok", "new": 2, "matched": 1, "articles": (2, 1)}, "s: 2 new, 2 matched (1 by article text)"),
     ({"status": "ok", "new": 2, "matched": 1}, "s: 2 new, 1 matched")],
    ids=["late-page-after-304", "late-page-no-match", "both", "no-pages"],
)
def test_the_poll_line_counts_matches_made_by_article_text(outcome: dict, line: str) -> None:
    """A page queued by an earlier poll can make its entry match during a poll that found nothing new."""
    from monitor.service.articles import Enriched
    from monitor.service.poll import Outcome

    fields = {**outcome, "articles": Enriched(*outcome.get("articles", (0, 0)))}
    assert Outcome("s", **fields).line() == line


def test_an_unreachable_article_host_is_one_log_line_not_one_per_page(
        http_server: TestServer, workspace: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    """A feed of 30 items on a host whose robots.txt does not answer logged 30 warnings a poll."""
    import logging

    http_server.route("/robots.txt", "down", status=503, content_type="text/plain")
    items = [(f"Story {n}", http_server.url(f"/news/{n}")) for n in range(6)]
    http_server.route("/feed", rss(*items))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})
    with caplog.at_level(logging.WARNING, logger="monitor.articles"):
        assert poll(workspace, Clock())["s"].new == 6
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event=article_failed")]
    assert len(failed) == 2, failed
    assert "url=" in failed[0] and "robots.txt unreachable" in failed[0]
    assert "pages=5" in failed[1] and "host=127.0.0.1" in failed[1]
    with sqlite3.connect(workspace.db_path) as conn:  # every page stays queued for the next poll
        assert conn.execute("select count(*), max(tries) from article_queue").fetchone() == (6, 1)


def test_an_entry_that_matched_by_its_title_is_not_counted_again_for_its_text(
        http_server: TestServer, workspace: Workspace) -> None:
    """One item matching one topic by its title and another by its text is one matched entry."""
    http_server.route("/news/a", "<html><body><article><p>Hospital masks were stolen, says a long paragraph "
                                 "about the event.</p></article></body></html>", content_type="text/html")
    http_server.route("/feed", rss(("Stargate story", http_server.url("/news/a"))))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "fetch_article": True}],
                    topics=[{"name": "stargate", "query": "Stargate"}, {"name": "hospital", "query": "hospital"}],
                    fetch={"timeout": 5, "max_bytes": 2_000_000, "user_agent": "t/1", "allow_private": True})
    out = poll(workspace, Clock())["s"]
    assert out.articles == (1, 0) and out.line() == "s: 1 new, 1 matched"
    with sqlite3.connect(workspace.db_path) as conn:
        assert sorted(r[0] for r in conn.execute("select topic from matches")) == ["hospital", "stargate"]
