"""Google News: the search address, title splitting, offline id decoding on real captures, and resolving
article links over HTTP against a real server on loopback (nothing leaves 127.0.0.x).

The captures (``shared/corpus/real/news.google.com/``): a 2024 Japanese top-stories feed, prettified, whose
ids decode offline, and a 2026 English search feed whose ids are opaque tokens.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest

from monitor.ingest.feed import parse_feed
from monitor.ingest.google_news import (
    article_id_of,
    decode_article_id,
    google_item,
    search_url,
    split_title,
)
from monitor.net.fetcher import Fetcher, FetchSettings
from monitor.net.redirects import resolve_redirect
from tests.corpus import corpus_path
from tests.support.httpserver import Response, TestServer

JA_2024 = "real/news.google.com/rss__hl=ja__gl=JP__PRETTIFIED.xml"
EN_2026 = "real/news.google.com/rss__search__q=Bears-Ears-monument__hl=en-US.xml"
ASAHI_ID = "CBMiN2h0dHBzOi8vd3d3LmFzYWhpLmNvbS9hcnRpY2xlcy9BU1MyNTZIR1ZTMjRVVElMMDBYLmh0bWzSAQA"
ASAHI_URL = "https://www.asahi.com/articles/ASS256HGVS24UTIL00X.html"


def _entries(relative: str) -> list[feedparser.FeedParserDict]:
    body = corpus_path(relative).read_bytes()
    return feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False).entries


def _drafts(relative: str):  # type: ignore[no-untyped-def]
    body = corpus_path(relative).read_bytes()
    result = parse_feed(body, url="https://news.google.com/rss", content_type=None, tz=ZoneInfo("Asia/Tokyo"))
    return result.drafts


# --- search_url ---------------------------------------------------------------------------------------------


def test_search_url_defaults_to_japanese_edition() -> None:
    url = search_url("ソフトバンク OpenAI")
    assert url.startswith("https://news.google.com/rss/search?")
    assert parse_qs(urlsplit(url).query) == {
        "q": ["ソフトバンク OpenAI"], "hl": ["ja"], "gl": ["JP"], "ceid": ["JP:ja"]
    }


def test_search_url_matches_the_captured_english_address() -> None:
    # The 2026 capture's own address (MANIFEST.md), built from its parts.
    assert search_url('"Bears Ears" monument', hl="en-US", gl="US") == (
        "https://news.google.com/rss/search?q=%22Bears+Ears%22+monument&hl=en-US&gl=US&ceid=US%3Aen"
    )
    query = parse_qs(urlsplit(search_url("x", hl="en-GB", gl="GB", ceid="GB:en")).query)
    assert query["ceid"] == ["GB:en"]


def test_search_url_quotes_operators_and_refuses_an_empty_query() -> None:
    url = search_url('"SB OAI Japan" OR site:nikkei.com when:7d & more')
    assert parse_qs(urlsplit(url).query)["q"] == ['"SB OAI Japan" OR site:nikkei.com when:7d & more']
    with pytest.raises(ValueError):
        search_url("  ")


# --- split_title --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "source", "expected"),
    [
        ("Trump again shrinks two national monuments in Utah - The Washington Post", None,
         ("Trump again shrinks two national monuments in Utah", "The Washington Post")),
        ("Trump again shrinks two national monuments in Utah - The Washington Post", "The Washington Post",
         ("Trump again shrinks two national monuments in Utah", "The Washington Post")),
        # a " - " inside the headline: the <source> name says where the outlet starts
        ("Bears Ears - News and Statistics - IndexBox", "IndexBox",
         ("Bears Ears - News and Statistics", "IndexBox")),
        ("Monuments - 7.10.26 - Southern Utah Wilderness Alliance", None,
         ("Monuments - 7.10.26", "Southern Utah Wilderness Alliance")),
        ("日経平均 続伸、196円高 - 日本経済新聞", None, ("日経平均 続伸、196円高", "日本経済新聞")),
        ("日経平均大引け 続伸 － 日本経済新聞", None, ("日経平均大引け 続伸", "日本経済新聞")),
        ("日経平均大引け 続伸　―　日本経済新聞", None, ("日経平均大引け 続伸", "日本経済新聞")),
        ("日経平均大引け 続伸－日本経済新聞", "日本経済新聞", ("日経平均大引け 続伸", "日本経済新聞")),
        # unspaced and no <source>: could be a dash in the headline
        ("日経平均大引け 続伸－日本経済新聞", None, ("日経平均大引け 続伸－日本経済新聞", None)),
        ("Grand Staircase-Escalante shrinks", None, ("Grand Staircase-Escalante shrinks", None)),
        ("No outlet here", None, ("No outlet here", None)),
        ("Headline — again", "Reuters", ("Headline — again", "Reuters")),  # source not at the end: keep all
        # the outlet repeated by the page title itself
        ("証言：朝日新聞デジタル - 朝日新聞デジタル", "朝日新聞デジタル", ("証言", "朝日新聞デジタル")),
        ("謝罪（石川テレビ） - Yahoo!ニュース - Yahoo!ニュース", None,
         ("謝罪（石川テレビ）", "Yahoo!ニュース")),
        ("雪の交通影響 | NHK - nhk.or.jp", "nhk.or.jp", ("雪の交通影響 | NHK", "nhk.or.jp")),
        ("\n    Prettified  headline - Outlet\n   ", "\n  Outlet\n ", ("Prettified headline", "Outlet")),
        ("- Outlet", None, ("- Outlet", None)),
    ],
)
def test_split_title(title: str, source: str | None, expected: tuple[str, str | None]) -> None:
    assert split_title(title, source) == expected


def test_split_title_on_every_captured_item_takes_exactly_the_source_suffix() -> None:
    for relative in (JA_2024, EN_2026):
        for entry in _entries(relative):
            headline, publisher = split_title(entry.title, entry.source.title)
            assert publisher == " ".join(entry.source.title.split())
            assert " ".join(entry.title.split()).startswith(headline)
            assert not headline.endswith(f" - {publisher}")


# --- decode_article_id --------------------------------------------------------------------------------------


def test_2024_ids_decode_to_the_publisher_url_on_the_sources_host() -> None:
    entries = _entries(JA_2024)
    assert len(entries) == 30
    for entry in entries:
        url = decode_article_id(entry.link)
        assert url is not None, entry.link
        assert urlsplit(url).hostname == urlsplit(entry.source.href).hostname  # <source url> agrees
        assert decode_article_id(entry.id) == url  # the bare <guid> too
    assert decode_article_id(entries[0].link) == ASAHI_URL


def test_2024_video_ids_decode_to_a_youtube_watch_url() -> None:
    assert decode_article_id("https://news.google.com/rss/articles/CCAiC3hNZnpnV3JuQ0ZRmAEB?oc=5") == (
        "https://www.youtube.com/watch?v=xMfzgWrnCFQ"
    )


def test_2026_ids_are_opaque() -> None:
    entries = _entries(EN_2026)
    assert len(entries) == 92
    for entry in entries:
        assert entry.id.startswith("CBMi")
        assert decode_article_id(entry.link) is None
        assert decode_article_id(entry.id) is None
        assert article_id_of(entry.link) == entry.id


def _article_id(*fields: bytes) -> str:
    return base64.urlsafe_b64encode(b"".join(fields)).decode().rstrip("=")


def test_decoding_reads_the_protobuf_not_a_fixed_prefix() -> None:
    url = b"https://www.bbc.com/news/articles/cjjjnxdv188o"
    amp = url + b".amp"
    with_amp = _article_id(b"\x08\x13\x22", bytes([len(url)]), url, b"\xd2\x01", bytes([len(amp)]), amp)
    assert decode_article_id(f"https://news.google.com/rss/articles/{with_amp}?oc=5") == url.decode()
    long_url = b"https://example.jp/" + b"a" * 200  # a two-byte length varint
    long_id = _article_id(b"\x08\x13\x22", bytes([len(long_url) & 0x7F | 0x80, len(long_url) >> 7]), long_url)
    assert decode_article_id(long_id) == long_url.decode()
    assert decode_article_id(f"https://news.google.com/__i/rss/rd/articles/{ASAHI_ID}?oc=5") == ASAHI_URL
    assert decode_article_id(f"https://news.google.com/articles/{ASAHI_ID}?hl=ja") == ASAHI_URL


@pytest.mark.parametrize(
    "link",
    [
        "",
        "https://www.asahi.com/articles/ASS256HGVS24UTIL00X.html",  # not a Google link
        "https://news.google.com/rss/articles/",
        "https://news.google.com/rss/articles/not base64!",
        _article_id(b"\x08\x13\x22\x7fhttps://truncated"),  # length past the end
        _article_id(b"\x08\x13\x22\x0bjavascript:"),  # not http(s)
        _article_id(b"\x08\x13\x22\x0bxMfzgWrnCFQ"),  # a video id, but not a video item
        _article_id(b"\x08\x13\x22\x05\xff\xfe\xfd\xfc\xfb"),  # not UTF-8
        _article_id(b"\x09\x00\x00\x00\x00\x00\x00\x00\x00"),  # a fixed64 field: not one of these messages
    ],
)
def test_undecodable_links_give_none(link: str) -> None:
    assert decode_article_id(link) is None


# --- google_item --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [JA_2024, EN_2026])
def test_items_from_parse_feed_agree_with_and_without_the_source_element(relative: str) -> None:
    sources = [entry.source.title for entry in _entries(relative)]
    drafts = _drafts(relative)
    assert len(drafts) == len(sources)
    for draft, source in zip(drafts, sources, strict=True):
        with_source = google_item(draft, source)
        from_summary = google_item(draft)  # what parse_feed keeps today: title and summary only
        assert from_summary.headline == with_source.headline
        assert from_summary.publisher == with_source.publisher
        assert with_source.google_link == draft.link
        assert with_source.article_id == draft.guid


def test_item_fields_on_the_captures() -> None:
    ja = google_item(_drafts(JA_2024)[0])
    assert ja.headline == "盛山文科相、旧統一教会系から選挙支援 21年衆院選 関係者が証言"
    assert ja.publisher == "朝日新聞デジタル"
    assert ja.publisher_url == ASAHI_URL
    assert ja.google_link == f"https://news.google.com/rss/articles/{ASAHI_ID}?oc=5"

    drafts = _drafts(EN_2026)
    en = google_item(drafts[0])
    assert (en.headline, en.publisher, en.publisher_url) == (
        "Trump again shrinks two national monuments in Utah", "The Washington Post", None
    )
    dashed = next(google_item(d) for d in drafts if "IndexBox" in d.title)
    assert (dashed.headline, dashed.publisher) == (
        (
            "Trump Shrinks Utah National Monuments: Bears Ears and Grand Staircase-Escalante"
            " - News and Statistics"
        ),
        "IndexBox",
    )


# --- resolve_redirect ---------------------------------------------------------------------------------------

ARTICLE = "/rss/articles/AU_yqLtoken?oc=5"


@pytest.fixture
def publisher() -> Iterator[TestServer]:
    """The publisher: another loopback host, as the publisher is never news.google.com."""
    with TestServer(host="127.0.0.2") as server:
        server.route("/news/2025/02/03/sb-oai.html", "<html><p>article</p></html>", content_type="text/html")
        yield server


def resolve(url: str) -> str | None:
    async def go() -> str | None:
        async with Fetcher(FetchSettings(timeout=5.0)) as fetcher:
            return await resolve_redirect(fetcher, url)

    return asyncio.run(go())


def _page(server: TestServer, path: str, html: str) -> None:
    server.route(path, html, content_type="text/html; charset=utf-8")


def test_http_redirect_chain_to_the_publisher(http_server: TestServer, publisher: TestServer) -> None:
    target = publisher.url("/news/2025/02/03/sb-oai.html")
    http_server.redirect(ARTICLE, "/rss/articles/AU_yqLtoken/hop")
    http_server.redirect("/rss/articles/AU_yqLtoken/hop", target, status=301)
    assert resolve(http_server.url(ARTICLE)) == target


def test_meta_refresh_names_the_publisher_without_fetching_it(
    http_server: TestServer, publisher: TestServer
) -> None:
    target = publisher.url("/news/2025/02/03/sb-oai.html?from=gn&x=1")
    _page(http_server, ARTICLE, f"""<!doctype html><html><head>
        <meta http-equiv="Refresh" content="0; URL='{target.replace('&', '&amp;')}'">
        <link rel="stylesheet" href="https://fonts.gstatic.com/x.css"></head>
        <body><a href="https://policies.google.com/privacy">Privacy</a></body></html>""")
    assert resolve(http_server.url(ARTICLE)) == target
    assert publisher.requests == []


@pytest.mark.parametrize(
    "body",
    [
        '<c-wiz><div jscontroller="x" data-n-au="{target}"></div></c-wiz>',
        '<script>window.location.replace("{js_target}");</script>',
        '<script>var u = 1; window.location.href = \'{target}\';</script>',
        (
            '<noscript><a href="{target}">Opening the article…</a></noscript>'
            '<a href="https://www.google.com/intl/ja/about">About</a>'
        ),
        '<a href="https://www.google.com/url?q={target}&amp;sa=U">Continue</a><a href="/settings">x</a>',
    ],
    ids=["data-n-au", "js-replace", "js-href", "lone-anchor", "google-url-wrapper"],
)
def test_html_redirect_pages(http_server: TestServer, publisher: TestServer, body: str) -> None:
    target = publisher.url("/news/2025/02/03/sb-oai.html")
    html = body.format(target=target, js_target=target.replace("/", "\\/"))
    _page(http_server, ARTICLE, f"<html><body>{html}</body></html>")
    assert resolve(http_server.url(ARTICLE)) == target


def test_meta_refresh_to_another_google_page_is_followed(
    http_server: TestServer, publisher: TestServer
) -> None:
    target = publisher.url("/news/2025/02/03/sb-oai.html")
    _page(http_server, ARTICLE, '<meta http-equiv="refresh" content="0;url=/articles/AU_yqLtoken">')
    http_server.redirect("/articles/AU_yqLtoken", target)
    assert resolve(http_server.url(ARTICLE)) == target


CONSENT = """<!doctype html><html lang="en">
<head><title>Before you continue to Google News</title></head><body>
<form action="/save" method="POST"><input type="hidden" name="continue" value="{cont}">
<button>Reject all</button><button>Accept all</button></form>
<a href="https://policies.google.com/privacy?hl=en">Privacy</a>
<a href="https://policies.google.com/terms">Terms</a>
<a href="/ml?continue={cont}&amp;hl=de">Deutsch</a></body></html>"""


def test_a_consent_page_gives_none(http_server: TestServer, publisher: TestServer) -> None:
    cont = http_server.url(ARTICLE)
    http_server.redirect(ARTICLE, f"/ml?continue={cont}")
    _page(http_server, "/ml", CONSENT.format(cont=cont))
    assert resolve(http_server.url(ARTICLE)) is None
    assert publisher.requests == []


def test_pages_that_name_no_single_target_give_none(http_server: TestServer, publisher: TestServer) -> None:
    # Today's news.google.com answer: a JavaScript shell carrying a signature, no URL.
    shell = (
        '<c-wiz><div jscontroller="aLI87" data-n-a-sg="AZ5r3e" data-n-a-ts="1752"></div>'
        '<script>AF_initDataCallback({key: "ds:1"});</script></c-wiz>'
    )
    _page(http_server, ARTICLE, shell)
    assert resolve(http_server.url(ARTICLE)) is None
    two = f'<a href="{publisher.url("/a")}">a</a><a href="{publisher.url("/b")}">b</a>'
    _page(http_server, ARTICLE, two)
    assert resolve(http_server.url(ARTICLE)) is None
    _page(http_server, ARTICLE, '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">')
    assert resolve(http_server.url(ARTICLE)) is None
    http_server.route(ARTICLE, '{"url": "https://publisher.example/x"}', content_type="application/json")
    assert resolve(http_server.url(ARTICLE)) is None


@pytest.mark.parametrize("status", [500, 404, 429])
def test_an_error_status_gives_none(http_server: TestServer, status: int) -> None:
    http_server.handler(ARTICLE, lambda request: Response(status, {"Content-Type": "text/plain"}, b"no"))
    assert resolve(http_server.url(ARTICLE)) is None


def test_loops_refusals_and_dead_hosts_give_none(http_server: TestServer) -> None:
    http_server.redirect(ARTICLE, "/rss/articles/loop")
    http_server.redirect("/rss/articles/loop", ARTICLE)
    assert resolve(http_server.url(ARTICLE)) is None
    _page(http_server, ARTICLE, f'<meta http-equiv="refresh" content="0;url={http_server.url(ARTICLE)}">')
    assert resolve(http_server.url(ARTICLE)) is None  # a page naming itself
    http_server.redirect(ARTICLE, "file:///etc/passwd")
    assert resolve(http_server.url(ARTICLE)) is None
    with TestServer(host="127.0.0.3") as gone:
        dead = gone.url(ARTICLE)
    assert resolve(dead) is None
    assert resolve("not a url") is None
