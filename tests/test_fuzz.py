"""Fuzzing the readers of untrusted bytes: feeds, listing pages, article pages, and what they hand on.

Every byte a server sends is hostile until read. The parsers' contract is that they return a
result or raise ParseError (monitor.errors) and nothing else: any other exception would cost the
source its poll as an "internal error" and hide the real problem. What they return must be
storable and matchable: text that encodes as UTF-8 (SQLite refuses lone surrogates), that the
normaliser and the shipped topics (config.yaml) accept.

Two kinds of input: arbitrary bytes, and near-feeds (a slice of a real capture in
shared/corpus/real/, usually kept behind its own head so the parser gets deep, then mutated:
bytes flipped, cut, repeated, or hostile fragments spliced in). Bounded: a few hundred examples
per test, the whole file in well under 20 s. The XML-entity-bomb guard is tested elsewhere;
the fragments here declare at most one small entity.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import load
from monitor.core.entry import ParseResult
from monitor.core.text import normalize, runs, tokenize
from monitor.core.topics import TopicSet
from monitor.errors import ParseError
from monitor.ingest.article import extract_article
from monitor.ingest.feed import parse_feed
from monitor.ingest.listing import parse_listing
from tests.corpus import corpus_path

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Tokyo")
URL = "http://127.0.0.1/feed"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FEEDS = ("real/www.japantimes.co.jp/feed.xml", "real/www.kantei.go.jp/index-jnews.rdf",
         "real/www.cao.go.jp/rss__news.rdf", "real/www.meti.go.jp/ml_index_release_atom.xml",
         "real/www.soumu.go.jp/news.rdf", "real/www.mod.go.jp/j__rss__news.xml",
         "real/news.google.com/rss__hl=ja__gl=JP__PRETTIFIED.xml")
PAGES = ("real/www.meti.go.jp/press__index.html", "real/www.kantei.go.jp/index.html",
         "real/www.japantimes.co.jp/news__2020__02__18__national__crime-legal__6000-surgical-masks-stolen.html")
# Listing selectors as users write them (README "Adding a source"), and one where the item is the link.
LISTINGS = ({"item": "ul.list li", "date": "span.date"}, {"item": "li"}, {"item": "a[href$='kai.html']"},
            {"item": "dd", "title": "a", "link": "a", "date": "time"})
CONTENT_TYPES = (None, "application/rss+xml", "text/html", "text/xml; charset=shift_jis",
                 "text/html; charset=euc-jp", "application/xml; charset=no-such-charset", "text/plain; charset=utf-16")
HOSTILE = (
    b"<![CDATA[", b"]]>", b"&#xD800;", b"&#0;", b"&#x110000;", b"&#99999999999999999999;", b"&nosuch;", b"\x00",
    b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xe3\x81", b"\x1b[31m", b"\r", b"<item>", b"</item>", b"<entry>",
    b"</channel>", b"<rss version='2.0'>", b"<feed xmlns='http://www.w3.org/2005/Atom'>",
    b"<!DOCTYPE x [<!ENTITY e 'entity'>]>&e;", b"<?xml version='1.0' encoding='shift_jis'?>",
    b"<?xml version='1.0' encoding='utf-16'?>", b"<link>javascript:alert(1)</link>", b"<link>http://[::1</link>",
    b"<link>http://a:99999999/x</link>", b"<guid>/relative</guid>", b"<title type='html'>&lt;b&gt;x",
    b"<pubDate>Mon, 99 Feb 99999 25:61:61 +9999</pubDate>", b"<dc:date>0000-00-00T00:00:00Z</dc:date>",
    b"<updated>10000-01-01T00:00:00+99:00</updated>", b"<published>-1</published>",
    b"<meta charset='x-unknown'>", b"<meta charset='utf-16'>", b"<base href='javascript:x'>",
    b"<a href='http://[::1'>x</a>", b"<a href='//\xff/'>y</a>", b"<time datetime='9999-99-99T99:99'>",
    b"<span class='date'>\xe4\xbb\xa4\xe5\x92\x8c99\xe5\xb9\xb413\xe6\x9c\x8840\xe6\x97\xa5</span>",
    b"<meta property='article:published_time' content='2025-02-31T25:00:00Z'>",
    b'<script type="application/ld+json">{"datePublished": "99999-01-01", "articleBody": [1, {"a": null}]}</script>',
    b'<script type="application/json">{"props": [[[[["x"]]]], "' + b"\\ud800" + b'"]}</script>',
    b"<p>" + "政府のAI政策 ".encode() * 30 + b"</p>",
)


@cache
def _capture(relative: str) -> bytes:
    return corpus_path(relative).read_bytes()


@cache
def _shipped_topics() -> TopicSet:
    return TopicSet([(t.name, t.tree) for t in load(ROOT / "config.yaml").topics])


@st.composite
def near_documents(draw: st.DrawFn, captures: tuple[str, ...]) -> bytes:
    """A slice of a real capture (mostly kept behind the capture's head), mutated a few times."""
    whole = _capture(draw(st.sampled_from(captures)))
    start = draw(st.integers(0, len(whole) - 1))
    body = whole[start:start + draw(st.integers(0, 4000))]
    if draw(st.booleans()):
        body = whole[:400] + body
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(body)))
        kind = draw(st.sampled_from(("insert", "flip", "cut", "repeat")))
        if kind == "insert":
            body = body[:at] + draw(st.sampled_from(HOSTILE)) + body[at:]
        elif kind == "flip":
            body = body[:at] + draw(st.binary(min_size=1, max_size=4)) + body[at + 1:]
        elif kind == "cut":
            body = body[:at] + body[at + draw(st.integers(1, 200)):]
        else:
            body = body[:at] + body[at:at + 200] * draw(st.integers(2, 5)) + body[at:]
    return body


def _storable(*texts: str | None) -> None:
    """What a parser returns goes into SQLite and through the matcher: it must survive both."""
    topics = _shipped_topics()
    for text in texts:
        if text:
            text.encode("utf-8")  # a lone surrogate would fail the INSERT, not the parse
            analysis = topics.analyse(text, text)
            assert set(analysis.topics) <= set(topics.names)


def _check_result(result: ParseResult) -> None:
    for draft in result.drafts:
        _storable(draft.title, draft.summary, draft.link, draft.guid, draft.publisher)
        assert draft.published is None or draft.published.tzinfo is not None


def _feed(body: bytes, content_type: str | None) -> None:
    try:
        result = parse_feed(body, url=URL, content_type=content_type, tz=TZ)
    except ParseError:
        return
    _check_result(result)


def _listing(body: bytes, content_type: str | None, selectors: dict[str, str]) -> None:
    try:
        result = parse_listing(body, url=URL, content_type=content_type, tz=TZ, **selectors)
    except ParseError:
        return
    _check_result(result)


def _article(body: bytes, content_type: str | None) -> None:
    try:
        article = extract_article(body, url=URL, content_type=content_type, tz=TZ)
    except ParseError:
        return
    _storable(article.text[:2000], article.description, article.title)
    assert article.published is None or article.published.tzinfo is not None


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from(CONTENT_TYPES))
def test_feed_parser_on_any_bytes(body: bytes, content_type: str | None) -> None:
    _feed(body, content_type)


@FUZZ
@given(near_documents(FEEDS), st.sampled_from(CONTENT_TYPES))
def test_feed_parser_on_mutated_real_feeds(body: bytes, content_type: str | None) -> None:
    _feed(body, content_type)


@FUZZ
@given(st.one_of(st.binary(max_size=3000), near_documents(PAGES)), st.sampled_from(CONTENT_TYPES),
       st.sampled_from(LISTINGS))
def test_listing_parser_on_hostile_pages(body: bytes, content_type: str | None, selectors: dict[str, str]) -> None:
    _listing(body, content_type, selectors)


@FUZZ
@given(st.one_of(st.binary(max_size=3000), near_documents(PAGES), near_documents(FEEDS)),
       st.sampled_from(CONTENT_TYPES))
def test_article_extractor_on_hostile_pages(body: bytes, content_type: str | None) -> None:
    _article(body, content_type)


# Any code point, surrogates included (the parsers must not emit them, but the core must not
# crash on them either), weighted towards the scripts and marks the normaliser treats specially.
_AWKWARD = st.sampled_from(list("ＯｐｅｎＡＩｿﾌﾄﾊﾞﾝｸ・･\u3000\u0301İßﬁ々〆ー゛゜\u200b\ufeff\x00\x1b\r\n\t_-'\"*^:()"))
TEXT = st.text(alphabet=st.one_of(st.characters(), st.characters(codec=None, categories=["Cs"]), _AWKWARD),
               max_size=300)


@FUZZ
@given(TEXT, TEXT, TEXT)
def test_normaliser_and_shipped_topics_on_any_text(title: str, summary: str, text: str) -> None:
    assert all(run for _, run in runs(normalize(title)))
    assert all(token and not token.isspace() for token in tokenize(summary))
    topics = _shipped_topics()
    analysis = topics.analyse(title, summary, text)
    assert len(analysis.tokens) == 3
    assert set(analysis.topics) <= set(topics.names) and set(analysis.hits) == set(analysis.topics)
