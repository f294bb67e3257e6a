"""ingest.feed on every real feed in ../shared/corpus/real (MANIFEST.md says where each came from).

Each row checks the item count and the first item as a reader would see it: the title (Japanese
intact whatever the encoding), the absolute link, the guid and the publication time with its
offset. Documents written here are small and only for rules the corpus cannot show.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ParseError
from monitor.ingest.feed import SUMMARY_LIMIT, TITLE_LIMIT, parse_feed
from tests.corpus import corpus_path, corpus_root

TOKYO = ZoneInfo("Asia/Tokyo")

# id, corpus file, the URL it was served from, items, first title (substring), first link, guid, published
FEEDS = [
    ("japantimes-rss2", "real/www.japantimes.co.jp/feed.xml", "https://www.japantimes.co.jp/feed/", 30,
     "Syphilis cases hit record high for third straight year in Japan",
     "https://www.japantimes.co.jp/news/2023/11/24/japan/syphilis-cases-record-high/",
     "https://www.japantimes.co.jp/article/604767/", "2023-11-24T21:37:00+09:00"),
    ("kantei-rss2-positional-guid", "real/www.kantei.go.jp/index-jnews.rdf", "https://www.kantei.go.jp/index-jnews.rdf",
     25, "高市総理はエルドアン・トルコ共和国大統領との電話会談",
     "https://www.kantei.go.jp/jp/105/statement/2026/0819kaiken.html", "item_1", "2026-08-20T03:13:00+09:00"),
    ("cao-rdf", "real/www.cao.go.jp/rss__news.rdf", "https://www.cao.go.jp/rss/news.rdf", 10,
     "機械受注統計調査報告（令和8年6月実績", "https://www.esri.cao.go.jp/jp/stat/juchu/juchu.html",
     "https://www.esri.cao.go.jp/jp/stat/juchu/juchu.html", "2026-08-19T08:50:00+09:00"),
    ("digital-xml-base", "real/www.digital.go.jp/rss__news.xml", "https://www.digital.go.jp/rss/news.xml", 21,
     "公的個人認証サービス（JPKI）導入事業者",
     "https://www.digital.go.jp/policies/mynumber/private-business/jpki-introduction/mynumbercard-user-list",
     "6ef0459d-edcf-4e95-b347-18d937b9a09d", "2026-08-19T15:00:00+09:00"),
    ("meti-atom", "real/www.meti.go.jp/ml_index_release_atom.xml", "https://www.meti.go.jp/ml_index_release_atom.xml",
     25, "令和8年度物流パートナーシップ優良事業者を募集します",
     "https://www.meti.go.jp/press/2026/06/20260619003/20260619003.html", None, "2026-06-19T05:00:00+00:00"),
    ("soumu-rdf-shift-jis", "real/www.soumu.go.jp/news.rdf", "https://www.soumu.go.jp/news.rdf", 20,
     "令和8年度地方財政審議会（8月19日）議事要旨",
     "https://www.soumu.go.jp/main_sosiki/singi/chizai/02zaisei02_04001397_00957.html",
     "https://www.soumu.go.jp/main_sosiki/singi/chizai/02zaisei02_04001397_00957.html", "2026-08-19T05:00:00+09:00"),
    ("mlit-rdf-shift-jis", "real/www.mlit.go.jp/pressrelease.rdf", "https://www.mlit.go.jp/pressrelease.rdf", 18,
     "「第２回 気候変動関連データの活用と適応に関する実践パネル」を開催します",
     "http://www.mlit.go.jp/report/press/mizukokudo03_hh_001360.html",
     "http://www.mlit.go.jp/report/press/mizukokudo03_hh_001360.html", "2026-08-19T05:00:00+09:00"),
    ("mext-rdf", "real/www.mext.go.jp/b_menu__news__index.rdf", "https://www.mext.go.jp/b_menu/news/index.rdf", 21,
     "中央教育審議会大学分科会質向上・質保証システム部会（第11回）を開催します",
     "https://www.mext.go.jp/b_menu/shingi/chukyo/chukyo4/055/kaisai/1422340_00014.html",
     "https://www.mext.go.jp/b_menu/shingi/chukyo/chukyo4/055/kaisai/1422340_00014.html", "2026-08-19T14:00:00+09:00"),
    ("mhlw-rdf", "real/www.mhlw.go.jp/stf__news.rdf", "https://www.mhlw.go.jp/stf/news.rdf", 67,
     "第226回労働政策審議会職業安定分科会を開催します", "https://www.mhlw.go.jp/stf/newpage_021225156_00113.html",
     "https://www.mhlw.go.jp/stf/newpage_021225156_00113.html", "2026-08-19T18:00:00+09:00"),
    ("mof-rss2-no-guid", "real/www.mof.go.jp/news.rss", "https://www.mof.go.jp/news.rss", 100,
     "昭和100年記念貨幣の販売要領が公表されました", "https://www.mof.go.jp/insideLink/20260818170645.html", None,
     "2026-08-19T17:00:00+09:00"),
    ("fsa-jst-zone", "real/www.fsa.go.jp/fsaNewsListAll_rss2.xml", "https://www.fsa.go.jp/fsaNewsListAll_rss2.xml", 15,
     "令和８年熊本地震関連j法に関する特設ページを更新しました", "https://www.fsa.go.jp/ordinary/earthquake202607/press.html",
     None, "2026-08-19T17:00:00+09:00"),
    ("mod-bom-relative-links", "real/www.mod.go.jp/j__rss__news.xml", "https://www.mod.go.jp/j/rss/news.xml", 126,
     "令和８年度体験飛行及び自衛隊音楽まつりの実施について", "https://www.mod.go.jp/j/press/news/2026/08/19a.html",
     "https://www.mod.go.jp/j/press/news/2026/08/19a.html", "2026-08-19T18:02:36+09:00"),
    ("spacedaily-cdata-aest", "real/www.spacedaily.com/spacedaily.xml", "http://www.spacedaily.com/spacedaily.xml", 15,
     "Collision Course? A Comet Heads for Mars",
     "http://www.spacedaily.com/reports/Collision_Course_A_Comet_Heads_for_Mars_999.html", None,
     "2013-04-04T20:37:27+10:00"),
    ("google-news-search", "real/news.google.com/rss__search__q=Bears-Ears-monument__hl=en-US.xml",
     "https://news.google.com/rss/search?q=%22Bears+Ears%22+monument&hl=en-US&gl=US&ceid=US:en", 92,
     "Trump again shrinks two national monuments in Utah - The Washington Post",
     "https://news.google.com/rss/articles/CBMiwwFBVV95cUxQa2dqd043R002YmtMMzRmUTQ5RFRPMEZPbzZIWlRFZlhFRlFpUjJoTnIxU0dfbEtRTVJUaGsxY0xHR2Q2M2ZzdmRuQ2pHYmw1VElfa0tBUDAySTFaZUVMV3llUG52cDF0cWlzcTBxTE5lNkNuUDZjcG11eGNVNXE2RWdnUG9STnpacnVQV1JCRFlKcGo0bDJPdUpXWXFyZE1CbHl3Vkx5VGtTeFM5ZGdmLVB4VEtIMW41WEZOOXgydkFleFE?oc=5",
     "CBMiwwFBVV95cUxQa2dqd043R002YmtMMzRmUTQ5RFRPMEZPbzZIWlRFZlhFRlFpUjJoTnIxU0dfbEtRTVJUaGsxY0xHR2Q2M2ZzdmRuQ2pHYmw1VElfa0tBUDAySTFaZUVMV3llUG52cDF0cWlzcTBxTE5lNkNuUDZjcG11eGNVNXE2RWdnUG9STnpacnVQV1JCRFlKcGo0bDJPdUpXWXFyZE1CbHl3Vkx5VGtTeFM5ZGdmLVB4VEtIMW41WEZOOXgydkFleFE",
     "2026-07-14T03:33:16+00:00"),
    ("google-news-prettified", "real/news.google.com/rss__hl=ja__gl=JP__PRETTIFIED.xml",
     "https://news.google.com/rss?hl=ja&gl=JP&ceid=JP:ja", 30,
     "盛山文科相、旧統一教会系から選挙支援 21年衆院選 関係者が証言：朝日新聞デジタル - 朝日新聞デジタル",
     "https://news.google.com/rss/articles/CBMiN2h0dHBzOi8vd3d3LmFzYWhpLmNvbS9hcnRpY2xlcy9BU1MyNTZIR1ZTMjRVVElMMDBYLmh0bWzSAQA?oc=5",
     "CBMiN2h0dHBzOi8vd3d3LmFzYWhpLmNvbS9hcnRpY2xlcy9BU1MyNTZIR1ZTMjRVVElMMDBYLmh0bWzSAQA", "2024-02-05T19:00:00+00:00"),
    ("euc-jp-rdf", "real/rdf.ycf.nanet.co.jp/index.rdf.xml", "http://www.ycf.nanet.co.jp/~dre/cgi-bin/diary/index.rdf", 15,
     "さだまさし", "http://www.ycf.nanet.co.jp/~dre/cgi-bin/diary/archives/000435.html",
     "http://www.ycf.nanet.co.jp/~dre/cgi-bin/diary/archives/000435.html", "2006-01-01T01:22:43+09:00"),
    ("euc-jp-atom03", "real/atom.ycf.nanet.co.jp/atom.xml", "http://www.ycf.nanet.co.jp/~dre/cgi-bin/diary/atom.xml", 15,
     "さだまさし", "http://www.ycf.nanet.co.jp/~dre/cgi-bin/diary/archives/000435.html",
     "tag:www.ycf.nanet.co.jp,2006:/~dre/cgi-bin/diary//1.435", "2006-01-01T01:22:43+09:00"),
    ("shift-jis-rdf", "real/andore.com/money.rdf.xml", "http://andore.com/money/index.rdf", 15,
     "Google Adsenseの次？", "http://andore.com/money/archives/003417.html",
     "http://andore.com/money/archives/003417.html", "2006-01-03T22:02:36+09:00"),
    ("shift-jis-rss2", "real/moon-light.ne.jp/index.rss2.xml", "http://www.moon-light.ne.jp/weblog/index.xml", 15,
     "2005年大晦日視聴率", "http://www.moon-light.ne.jp/weblog/archives/2006/01/2005_2.html",
     "http://www.moon-light.ne.jp/weblog/archives/2006/01/2005_2.html", "2006-01-02T19:05:13+09:00"),
    ("shift-jis-atom10", "real/blog.inkase.net/atom10.xml", "http://blog.inkase.net/atom.xml", 15,
     "BLOGが…！！", "http://blog.inkase.net/2010/01/blog.html", "tag:blog.inkase.net,2006://1.23",
     "2009-12-31T15:00:00+00:00"),
]


@pytest.mark.parametrize(("relative", "url", "count", "title", "link", "guid", "published"),
                         [c[1:] for c in FEEDS], ids=[c[0] for c in FEEDS])
def test_real_feed(relative: str, url: str, count: int, title: str, link: str, guid: str | None,
                   published: str) -> None:
    result = parse_feed(corpus_path(relative).read_bytes(), url=url, content_type=None, tz=TOKYO)
    assert (len(result.drafts), result.skipped, result.warnings) == (count, 0, [])
    first = result.drafts[0]
    assert title in first.title
    assert (first.link, first.guid) == (link, guid)
    assert first.published is not None and first.published.isoformat() == published
    for draft in result.drafts:
        assert (draft.link or "").startswith(("http://", "https://")) or draft.guid, draft
        assert draft.link == (draft.link or "").strip() or draft.link is None
        assert draft.title == " ".join(draft.title.split())
        assert "\ufffd" not in draft.title + draft.summary
        assert "<" not in draft.summary or "<" in draft.title  # markup is gone
    assert result.title


def test_kantei_item_with_empty_link_keeps_its_positional_guid() -> None:
    """kantei item_17 has ``<link/>``: kept on its guid (the core keys it by source + id), no link."""
    body = corpus_path("real/www.kantei.go.jp/index-jnews.rdf").read_bytes()
    result = parse_feed(body, url="https://www.kantei.go.jp/index-jnews.rdf", content_type=None, tz=TOKYO)
    linkless = [d for d in result.drafts if d.link is None]
    assert [(d.guid, d.title) for d in linkless] == [("item_17", "北朝鮮による弾道ミサイル発射事案に係る関連情報について")]


def test_served_content_type_is_honoured() -> None:
    """The same Shift_JIS bytes, declared by the server (feedparser reads the header charset)."""
    body = corpus_path("real/www.soumu.go.jp/news.rdf").read_bytes()
    result = parse_feed(body, url="https://www.soumu.go.jp/news.rdf",
                        content_type="application/rdf+xml; charset=Shift_JIS", tz=TOKYO)
    assert len(result.drafts) == 20 and "地方財政審議会" in result.drafts[0].title


def test_summaries_are_plain_text() -> None:
    result = parse_feed(corpus_path("real/www.spacedaily.com/spacedaily.xml").read_bytes(),
                        url="http://www.spacedaily.com/spacedaily.xml", content_type="text/xml", tz=TOKYO)
    summary = result.drafts[0].summary
    assert summary.startswith("Huntsville AL (SPX) Apr 04, 2013 Over the years, the spacefaring nations")
    assert "<" not in summary and "img" not in summary
    google = parse_feed(corpus_path(FEEDS[13][1]).read_bytes(), url=FEEDS[13][2], content_type=None, tz=TOKYO)
    assert google.drafts[0].summary.startswith("Trump again shrinks two national monuments in Utah The Washington Post")
    assert "&nbsp;" not in google.drafts[0].summary and "\xa0" not in google.drafts[0].summary


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (f'{declaration}<rss version="2.0"><channel><title>T</title><link>https://example.com/</link>'
            f"{items}</channel></rss>").encode()


LEGACY_TITLE = "ソフトバンク①、㈱髙島屋と提携"  # ① and ㈱ are NEC characters: CP932, not strict Shift_JIS


@pytest.mark.parametrize(
    ("label", "codec", "in_header"),
    [("x-sjis", "cp932", True), ("Windows-31J", "cp932", False), ("Shift_JIS", "cp932", True),
     ("Shift_JIS", "cp932", False), ("x-euc-jp", "euc_jp", False), ("x-euc", "euc_jp", True)],
)
def test_legacy_labels_decode_as_browsers_do(label: str, codec: str, in_header: bool) -> None:
    """feedparser knows neither x-sjis nor windows-31j (it fell back to windows-1252: mojibake) and
    decodes Shift_JIS strictly (① failed it)."""
    declaration = '<?xml version="1.0"?>' if in_header else f'<?xml version="1.0" encoding="{label}"?>'
    title = LEGACY_TITLE if codec == "cp932" else "ソフトバンク、高島屋と提携"
    body = (f'{declaration}<rss version="2.0"><channel><title>T</title><item><title>{title}</title>'
            f"<link>https://example.com/a</link></item></channel></rss>").encode(codec)
    content_type = f"application/rss+xml; charset={label}" if in_header else "application/rss+xml"
    result = parse_feed(body, url="https://example.com/feed", content_type=content_type, tz=TOKYO)
    assert [d.title for d in result.drafts] == [title]
    assert result.warnings == []  # a declaration that holds is no problem of the feed's


def test_items_without_link_or_id_are_skipped_and_counted() -> None:
    body = rss("<item><title>kept: link</title><link>https://example.com/a</link></item>"
               "<item><title>kept: guid</title><guid isPermaLink='false'>id-1</guid></item>"
               "<item><title>kept: javascript link but guid</title><link>javascript:x()</link><guid>id-2</guid></item>"
               "<item><title>skipped: nothing</title></item>"
               "<item><title>skipped: mailto</title><link>mailto:a@example.com</link></item>")
    result = parse_feed(body, url="https://example.com/feed", content_type="application/rss+xml", tz=TOKYO)
    assert [d.title for d in result.drafts] == ["kept: link", "kept: guid", "kept: javascript link but guid"]
    assert result.skipped == 2


def test_a_guid_that_is_no_url_makes_no_link() -> None:
    """RSS reads a <guid> without isPermaLink as a permalink, so feedparser makes it the link of a
    link-less item: item_1 would become https://example.com/rss/item_1 (no such page, and the same
    one for every feed on the host). A URL or a root path in the guid is still the link."""
    body = rss("<item><title>id only</title><guid>item_1</guid></item>"
               "<item><title>url guid</title><guid>https://example.com/news/2</guid></item>"
               "<item><title>root path guid</title><guid>/news/3.html</guid></item>"
               "<item><title>relative path guid</title><guid>news/4.html</guid></item>"
               "<item><title>guid before its own link</title><guid>abc-5</guid><link>../news/5.html</link></item>")
    result = parse_feed(body, url="https://example.com/rss/feed.xml", content_type=None, tz=TOKYO)
    assert [(d.link, d.guid) for d in result.drafts] == [
        (None, "item_1"),
        ("https://example.com/news/2", "https://example.com/news/2"),
        ("https://example.com/news/3.html", "https://example.com/news/3.html"),
        ("https://example.com/rss/news/4.html", "news/4.html"),
        ("https://example.com/news/5.html", "abc-5"),
    ]


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = rss("<item><title>x</title><link>  \n  ../news/1.html \n </link></item>")
    result = parse_feed(body, url="https://example.com/rss/feed.xml", content_type=None, tz=TOKYO)
    assert result.drafts[0].link == "https://example.com/news/1.html"


def test_zone_less_dates_are_local_time() -> None:
    body = rss("<item><title>a</title><link>https://example.com/a</link><pubDate>2025-02-03 10:00</pubDate></item>"
               "<item xmlns:dc='http://purl.org/dc/elements/1.1/'><title>b</title><link>https://example.com/b</link>"
               "<dc:date>2025-02-03T10:00:00</dc:date></item>")
    result = parse_feed(body, url="https://example.com/feed", content_type=None, tz=TOKYO)
    assert [d.published for d in result.drafts] == [datetime(2025, 2, 3, 10, tzinfo=TOKYO)] * 2


def test_long_title_and_summary_are_capped() -> None:
    body = rss(f"<item><title>{'word ' * 500}</title><link>https://example.com/a</link>"
               f"<description>{'&lt;p&gt;text&lt;/p&gt; ' * 3000}</description></item>")
    draft = parse_feed(body, url="https://example.com/feed", content_type=None, tz=TOKYO).drafts[0]
    assert len(draft.title) <= TITLE_LIMIT and len(draft.summary) <= SUMMARY_LIMIT
    assert draft.summary.startswith("text text")


def test_broken_but_usable_feed_returns_entries_and_a_warning() -> None:
    body = corpus_path("real/www.japantimes.co.jp/feed.xml").read_bytes()
    cut = body[: body.index(b"</item>", len(body) // 2) + len(b"</item>")]  # truncated mid-channel
    result = parse_feed(cut, url="https://www.japantimes.co.jp/feed/", content_type=None, tz=TOKYO)
    assert 10 < len(result.drafts) < 30
    assert len(result.warnings) == 1 and result.warnings[0].startswith("feed is not well-formed")


def test_empty_body_is_a_parse_error() -> None:
    for body in (b"", b"  \r\n "):
        with pytest.raises(ParseError, match="^empty response$"):
            parse_feed(body, url="https://example.com/feed", content_type=None, tz=TOKYO)


NOT_FEEDS = [
    ("html-advertising-feed", "real/www.japantimes.co.jp/news__2020__02__18__national__crime-legal__6000-surgical-masks-stolen.html",
     "https://www.japantimes.co.jp/news/2020/02/18/national/crime-legal/6000-surgical-masks-stolen/",
     "advertises the feed https://www.japantimes.co.jp/feed/topstories"),
    ("shift-jis-html-advertising-rdf", "real/hardsoft.at.webry.info/index.html", "http://hardsoft.at.webry.info/",
     "advertises the feed http://hardsoft.at.webry.info/rss/index.rdf"),
    ("html-without-feed", "real/www.kantei.go.jp/index.html", "https://www.kantei.go.jp/", "HTML page with no feed link"),
    ("html-with-bom", "real/www3.nhk.or.jp/news__easy__k10011959621000__k10011959621000.html",
     "https://www3.nhk.or.jp/news/easy/k10011959621000/k10011959621000.html", "HTML page"),
]


@pytest.mark.parametrize(("relative", "url", "message"), [c[1:] for c in NOT_FEEDS], ids=[c[0] for c in NOT_FEEDS])
def test_html_is_not_a_feed_and_names_the_advertised_one(relative: str, url: str, message: str) -> None:
    with pytest.raises(ParseError, match="^not a feed: ") as caught:
        parse_feed(corpus_path(relative).read_bytes(), url=url, content_type="text/html", tz=TOKYO)
    assert message in str(caught.value)


def test_an_advertised_link_that_is_not_http_is_not_offered() -> None:
    body = (b'<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" '
            b'href="javascript:alert(1)"></head><body>hi</body></html>')
    with pytest.raises(ParseError, match="HTML page with no feed link") as caught:
        parse_feed(body, url="https://example.com/page", content_type="text/html", tz=TOKYO)
    assert "javascript" not in str(caught.value)


def test_a_huge_source_name_is_cut_to_an_outlet_name() -> None:
    body = ('<rss version="2.0"><channel><title>t</title><item><title>Stargate grows</title>'
            '<link>https://example.com/a</link><source url="https://example.com/">' + "Example Times " * 50_000 +
            "</source></item></channel></rss>").encode()
    [draft] = parse_feed(body, url="https://example.com/feed", content_type=None, tz=TOKYO).drafts
    assert draft.publisher is not None and len(draft.publisher) == 200 and draft.publisher.startswith("Example Times")


def test_relative_advertised_feed_is_made_absolute() -> None:
    body = (b'<!DOCTYPE html><html><head><base href="/site/"><link rel="Alternate stylesheet" href="x.css">'
            b'<link rel="alternate" type="application/atom+xml" href="atom.xml"></head><body>hi</body></html>')
    with pytest.raises(ParseError, match="advertises the feed https://example.com/site/atom.xml;"):
        parse_feed(body, url="https://example.com/page", content_type=None, tz=TOKYO)


@pytest.mark.parametrize("body", [b"\x00\x01\x02garbage", b"just some text", b"{\"json\": true}", b"<foo><bar/></foo>"],
                         ids=["binary", "text", "json", "other-xml"])
def test_other_documents_are_not_feeds(body: bytes) -> None:
    with pytest.raises(ParseError, match="^not a feed: "):
        parse_feed(body, url="https://example.com/feed", content_type=None, tz=TOKYO)


def test_url_like_body_is_not_fetched() -> None:
    """feedparser fetches a str that looks like a URL and opens bytes that name a file; we give it a stream."""
    for body in (b"http://127.0.0.1:9/feed.xml", str(corpus_path("real/www.mof.go.jp/news.rss")).encode()):
        with pytest.raises(ParseError, match="^not a feed: "):
            parse_feed(body, url="https://example.com/feed", content_type=None, tz=TOKYO)


def test_every_feedparser_test_document_parses_or_raises_parse_error() -> None:
    """feedparser's own 2,106 test documents (well-formed, ill-formed, encodings, entities)."""
    folder = corpus_root() / "feedparser-tests" / "tests"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert len(files) >= 2000
    started = time.perf_counter()
    with_entries = not_feeds = 0
    for path in files:
        body = path.read_bytes()
        header = re.search(rb"Header:\s*Content-type:\s*([^\r\n]+)", body[:2000], re.IGNORECASE)
        content_type = header.group(1).decode("latin-1").strip() if header else None
        try:
            result = parse_feed(body, url="http://example.com/feed.xml", content_type=content_type, tz=TOKYO)
        except ParseError:
            not_feeds += 1
            continue
        with_entries += bool(result.drafts)
    elapsed = time.perf_counter() - started
    print(f"feedparser-tests: {len(files)} documents, {with_entries} with entries, "
          f"{not_feeds} ParseError, {elapsed:.1f}s")
    assert with_entries > 50 and not_feeds < 50
    assert elapsed < 20


@pytest.mark.parametrize("label", ["Shift_JIS", "x-sjis", "windows-31j"])
def test_shift_jis_wave_dash_is_the_wave_dash(label: str) -> None:
    """0x8160 is 〜 (U+301C) in strict Shift_JIS, as browsers read it and as feedparser did; CP932
    says ～ (U+FF5E), which NFKC folds to ~ and a query for 〜 would then miss."""
    title = "10月〜12月の国土交通省予算"
    body = (f'<?xml version="1.0" encoding="{label}"?><rss version="2.0"><channel><title>T</title><item>'
            f"<title>{title}</title><link>https://example.com/a</link></item></channel></rss>").encode("shift_jis")
    result = parse_feed(body, url="https://example.com/feed", content_type="application/rss+xml", tz=TOKYO)
    assert [d.title for d in result.drafts] == [title]


def test_a_feed_of_more_items_than_anyone_publishes_is_refused_before_parsing() -> None:
    """A hostile-input test's find: a 9.7 MB feed of 240,000 items took 650 MB in feedparser."""
    item = b"<item><title>t</title><link>https://example.com/%d</link></item>"
    body = b'<rss version="2.0"><channel><title>x</title>' + b"".join(item % i for i in range(50_001)) + b"</channel></rss>"
    with pytest.raises(ParseError, match=r"^refused: the feed holds 50,001 items, more than the 50,000"):
        parse_feed(body, url="https://example.com/feed", content_type=None, tz=TOKYO)
    atom = b'<feed xmlns="http://www.w3.org/2005/Atom">' + b"<entry><title>t</title></entry>" * 50_001 + b"</feed>"
    with pytest.raises(ParseError, match="50,001 items"):
        parse_feed(atom, url="https://example.com/feed", content_type=None, tz=TOKYO)
