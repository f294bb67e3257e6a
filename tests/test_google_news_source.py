"""A google_news source end to end: headline/outlet split, links resolved and remembered,
and the same article from the publisher's own feed is the same entry."""

from __future__ import annotations

import asyncio
import sqlite3

from monitor.config import load
from tests.corpus import corpus_path
from tests.support.httpserver import TestServer
from tests.support.workspace import Clock, Workspace
from tests.test_poll import rss

JA_CAPTURE = corpus_path("real/news.google.com/rss__hl=ja__gl=JP__PRETTIFIED.xml")


def poll_with_google(ws: Workspace, clock: Clock, hosts: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from monitor.app import App

    app = App(load(ws.config_path), clock=clock, google_hosts=hosts)
    try:
        return {o.source: o for o in asyncio.run(app.poll(list(app.config.sources)))}
    finally:
        app.close()


def test_google_news_url_is_built_from_the_query(workspace: Workspace) -> None:
    workspace.write(sources=[{"name": "gn", "type": "google_news", "query": '"SB OAI Japan" OR 合弁'}])
    source = load(workspace.config_path).sources[0]
    assert source.url == ("https://news.google.com/rss/search?q=%22SB+OAI+Japan%22+OR+%E5%90%88%E5%BC%81"
                          "&hl=ja&gl=JP&ceid=JP%3Aja")


def test_offline_decodable_links_and_outlets_from_a_real_capture(http_server: TestServer,
                                                                 workspace: Workspace) -> None:
    http_server.route_file("/rss", JA_CAPTURE)
    workspace.write(sources=[{"name": "gn", "type": "google_news", "query": "x", "url": http_server.url("/rss")}])
    out = poll_with_google(workspace, Clock(), hosts=())["gn"]
    assert out.status == "ok" and out.new == 30
    with sqlite3.connect(workspace.db_path) as conn:
        rows = conn.execute("select title, url, publisher from entries order by id").fetchall()
    first = rows[0]
    assert first[1] == "https://www.asahi.com/articles/ASS256HGVS24UTIL00X.html"
    assert first[2] and not first[0].endswith(" - " + first[2])
    assert all(url and "news.google.com" not in url for _, url, _ in rows)


def test_redirects_are_followed_once_and_the_publisher_copy_is_the_same_entry(
        http_server: TestServer, workspace: Workspace) -> None:
    with TestServer(host="127.0.0.2") as publisher:
        publisher.route("/news/stargate-abilene", "<html>article</html>", content_type="text/html")
        story = publisher.url("/news/stargate-abilene")
        http_server.redirect("/rss/articles/CBMiAU_yqLabc", story)
        google_feed = rss(("Stargate Abilene expands - Example Times", http_server.url("/rss/articles/CBMiAU_yqLabc"),
                           "Stargate Abilene expands Example Times"))
        http_server.route("/rss", google_feed)
        http_server.route("/own", rss(("Stargate Abilene expands", story)))
        workspace.write(sources=[{"name": "gn", "type": "google_news", "query": "x", "url": http_server.url("/rss")},
                                 {"name": "own", "url": http_server.url("/own")}],
                        fetch={"timeout": 5, "allow_private": True})  # the local "Google" redirects to 127.0.0.2
        clock = Clock()
        first = poll_with_google(workspace, clock, hosts=("127.0.0.1",))
        assert first["gn"].new + first["own"].new == 1
        clock.advance(minutes=30)
        poll_with_google(workspace, clock, hosts=("127.0.0.1",))
    assert [r.path for r in http_server.requests].count("/rss/articles/CBMiAU_yqLabc") == 1
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select url, title from entries").fetchall() == [(story, "Stargate Abilene expands")]
        assert conn.execute("select count(*) from entry_sources").fetchone()[0] == 2
        assert conn.execute("select publisher_url from google_links").fetchall() == [(story,)]


def test_a_google_link_is_not_followed_to_a_private_address(http_server: TestServer, workspace: Workspace) -> None:
    """A hostile-input test's find: Google link resolution followed any redirect, to the cloud
    metadata address too, and stored it as the entry's URL. Its hops are guarded as article
    pages are: without fetch.allow_private, a redirect to loopback, private, link-local or
    metadata addresses is refused and the Google link kept."""
    from monitor.net.fetcher import Fetcher, FetchSettings
    from monitor.net.guard import check_public_async
    from monitor.net.redirects import resolve_redirect

    http_server.redirect("/rss/articles/meta", "http://169.254.169.254/latest/meta-data/")
    http_server.redirect("/rss/articles/loop", "http://127.0.0.2/admin")

    async def resolve(path: str, allow_private: bool) -> str | None:
        async def public(url: str) -> None:
            await check_public_async(url, allow_private=allow_private)

        async with Fetcher(FetchSettings(user_agent="monitor-test/1", timeout=5)) as fetcher:
            return await resolve_redirect(fetcher, http_server.url(path), before_hop=public)

    assert asyncio.run(resolve("/rss/articles/meta", False)) is None
    assert asyncio.run(resolve("/rss/articles/loop", False)) is None
    with TestServer(host="127.0.0.2") as publisher:
        publisher.route("/story", "<html>article</html>", content_type="text/html")
        http_server.redirect("/rss/articles/fine", publisher.url("/story"))
        assert asyncio.run(resolve("/rss/articles/fine", True)) == publisher.url("/story")
        assert asyncio.run(resolve("/rss/articles/fine", False)) is None
        assert [r.path for r in publisher.requests] == ["/story"]

    # end to end: without allow_private the link is not followed at all (its own host is private)
    http_server.route("/rss", rss(("Stargate grows - Example Times", http_server.url("/rss/articles/fine"), "x")))
    workspace.write(sources=[{"name": "gn", "type": "google_news", "query": "x", "url": http_server.url("/rss")}])
    assert poll_with_google(workspace, Clock(), hosts=("127.0.0.1",))["gn"].new == 1
    assert [r.path for r in http_server.requests].count("/rss/articles/fine") == 2  # only the direct calls above
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select url from entries").fetchall() == [(http_server.url("/rss/articles/fine"),)]
