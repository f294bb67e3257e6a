"""ingest.listing on the real ministry listing pages in ../shared/corpus/real, with the selectors a
user would write after a look at the page (see MANIFEST.md for each page's structure).

Several pages write the date once for a group of items (kantei press conferences: an <h3> era
date; maff: "8月19日" under "令和8年8月分"; mofa: "8月12日付" with no year anywhere near it; env:
a <summary> heading): those rows check that each item still gets its group's date.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.core.entry import ParseResult
from monitor.errors import ParseError
from monitor.ingest.listing import parse_listing
from tests.corpus import corpus_path

TOKYO = ZoneInfo("Asia/Tokyo")


def listing(relative: str, url: str, **selectors: str | None) -> ParseResult:
    return parse_listing(corpus_path(relative).read_bytes(), url=url, content_type="text/html", tz=TOKYO,
                         **selectors)  # type: ignore[arg-type]


KANTEI = ("real/www.kantei.go.jp/index.html", "https://www.kantei.go.jp/")
PRESS = ("real/www.kantei.go.jp/jp__tyoukanpress__index.html", "https://www.kantei.go.jp/jp/tyoukanpress/index.html")
METI = ("real/www.meti.go.jp/press__index.html", "https://www.meti.go.jp/press/index.html")
MAFF = ("real/www.maff.go.jp/j__press__index.html", "https://www.maff.go.jp/j/press/index.html")
MOFA = ("real/www.mofa.go.jp/mofaj__press__release__index.html", "https://www.mofa.go.jp/mofaj/press/release/index.html")
ENV = ("real/www.env.go.jp/press__index.html", "https://www.env.go.jp/press/index.html")

# id, page, selectors, items, (title, link, date) of one item (a title substring; date as YYYY-MM-DD local)
PAGES = [
    ("kantei-top-time-datetime", KANTEI,
     {"item": "li.list-new__item", "title": ".list-new__description", "link": "a.list-new__link", "date": "time"}, 3,
     ("ノルウェー王国ハラルド５世国王陛下崩御に際しての高市内閣総理大臣による弔意メッセージの発出",
      "https://www.kantei.go.jp/jp/105/discourse/20260828message.html", "2026-08-28")),
    ("kantei-top-defaults", KANTEI, {"item": "li.list-new__item"}, 3,
     ("高市総理はＡⅠ家庭教師", "https://www.kantei.go.jp/jp/105/actions/202608/28ai.html", "2026-08-28")),
    ("kantei-press-era-heading-selector", PRESS,
     {"item": "li.list-press__item", "title": ".list-press__description", "date": "h3.list-press__date"}, 30,
     ("臨時閣議の概要について", "https://www.kantei.go.jp/jp/tyoukanpress/202608/5_p.html", "2026-08-05")),
    ("kantei-press-era-heading-found", PRESS, {"item": "li.list-press__item", "title": ".list-press__description"}, 30,
     ("閣議の概要について", "https://www.kantei.go.jp/jp/tyoukanpress/202608/28_a.html", "2026-08-28")),
    ("meti-date-in-item", METI, {"item": "ul.float_li > li", "title": "a.cut_txt", "date": ".txt_box p"}, 20,
     ("「健康経営銘柄2027」・「健康経営優良法人2027」の申請受付を開始しました",
      "https://www.meti.go.jp/press/2026/08/20260817001.html", "2026-08-17")),
    ("meti-date-not-from-title", METI, {"item": "ul.float_li > li"}, 20,
     ("令和8年8月13日からの大雨に伴う災害に関して", "https://www.meti.go.jp/press/2026/08/20260814001.html", "2026-08-14")),
    ("maff-month-day-under-era-month", MAFF, {"item": "dl.list_item", "title": "dd a", "date": "p.list_item_date"}, 46,
     ("令和7年産米の相対取引価格・数量について（令和8年7月）",
      "https://www.maff.go.jp/j/press/nousan/kikaku/260819.html", "2026-08-19")),
    ("maff-other-host-link", MAFF, {"item": "dl.list_item", "link": "dd a"}, 46,
     ("吹き出しコンテスト", "https://www.rinya.maff.go.jp/j/press/sin_riyou/morigyo/260819.html", "2026-08-19")),
    ("maff-july-group", MAFF, {"item": "dl.list_item"}, 46,
     ("輸出促進法に基づき牡蠣・牡蠣加工品の品目団体を認定",
      "https://www.maff.go.jp/j/press/yusyutu_kokusai/kikaku/260729.html", "2026-07-29")),
    ("mofa-dt-group-no-year", MOFA, {"item": "dl.title-list ul.link-list li", "date": "dt.list-title"}, 121,
     ("第3回日・サウジアラビア外相級戦略対話の開催",
      "https://www.mofa.go.jp/mofaj/me_a/me2/sa/pageit_000001_03140.html", "2026-08-19")),
    ("mofa-dt-group-found", MOFA, {"item": "dl.title-list ul.link-list li"}, 121,
     ("人事異動（令和8年8月10日付）", "https://www.mofa.go.jp/mofaj/press/release/pressit_000001_04047.html",
      "2026-08-10")),
    ("env-summary-heading", ENV,
     {"item": "li.c-news-link__item", "title": "a.c-news-link__link", "link": "a.c-news-link__link",
      "date": ".p-press-release-list__heading"}, 83,
     ("「第２回気候変動関連データの活用と適応に関する実践パネル」の開催について",
      "https://www.env.go.jp/press/press_05444.html", "2026-08-19")),
    ("env-heading-found", ENV, {"item": "li.c-news-link__item", "title": "a"}, 83,
     ("石綿救済法に基づく指定疾病の認定に係る医学的判定結果について", "https://www.env.go.jp/press/111111_00043.html",
      "2026-08-18")),
]


@pytest.mark.parametrize(("page", "selectors", "count", "expected"), [c[1:] for c in PAGES], ids=[c[0] for c in PAGES])
def test_real_listing(page: tuple[str, str], selectors: dict[str, str], count: int,
                      expected: tuple[str, str, str]) -> None:
    result = listing(*page, **selectors)
    assert (len(result.drafts), result.skipped, result.warnings) == (count, 0, [])
    title, link, day = expected
    matching = [d for d in result.drafts if d.link == link]
    assert matching, f"no item links to {link}"
    draft = matching[0]
    assert title in draft.title
    assert draft.published == datetime.fromisoformat(day).replace(tzinfo=TOKYO)
    assert all(d.published is not None for d in result.drafts)
    assert all(d.title and d.title == " ".join(d.title.split()) for d in result.drafts)
    assert result.title


def test_dates_follow_their_groups_in_order() -> None:
    """Every kantei press conference gets the date of the <h3> above it, newest first."""
    result = listing(*PRESS, item="li.list-press__item")
    days = [d.published for d in result.drafts]
    assert days == sorted(days, reverse=True)  # type: ignore[type-var]
    on_the_5th = [d.link for d in result.drafts if d.published == datetime(2026, 8, 5, tzinfo=TOKYO)]
    assert [str(link).rsplit("/", 1)[1] for link in on_the_5th] == ["5_a.html", "5_p.html"]


def page(body: str, encoding: str = "utf-8") -> bytes:
    return f"<!DOCTYPE html><html><head><title>P</title></head><body>{body}</body></html>".encode(encoding)


def test_items_without_an_http_link_are_skipped_and_counted() -> None:
    body = page("<ul class=n><li><a href='/a'>A</a></li><li><span>no link</span></li><li><a href='#top'>top</a></li>"
                "<li><a href='javascript:void(0)'>js</a></li><li><a href='mailto:x@example.com'>mail</a></li>"
                "<li><a>no href</a></li><li><a href=' b.html '>B</a></li></ul>")
    result = parse_listing(body, url="https://example.com/news/", content_type=None, tz=TOKYO, item="ul.n li")
    assert [(d.title, d.link) for d in result.drafts] == [("A", "https://example.com/a"),
                                                           ("B", "https://example.com/news/b.html")]
    assert result.skipped == 5


def test_base_href_is_honoured() -> None:
    body = (b"<!DOCTYPE html><html><head><base href='/press/2025/'></head><body>"
            b"<div class=i><a href='0203.html'>x</a></div></body></html>")
    result = parse_listing(body, url="https://example.com/index.html", content_type=None, tz=TOKYO, item="div.i")
    assert result.drafts[0].link == "https://example.com/press/2025/0203.html"


def test_item_that_is_the_link_and_link_selector_on_a_wrapper() -> None:
    body = page("<a class=n href='/1'>One 2025年2月3日</a><h3 class=w><a href='/2'>Two</a></h3>")
    items = parse_listing(body, url="https://example.com/", content_type=None, tz=TOKYO, item="a.n")
    assert [(d.title, d.link, d.published) for d in items.drafts] == [
        ("One 2025年2月3日", "https://example.com/1", datetime(2025, 2, 3, tzinfo=TOKYO))]  # a bare link: its title's date
    wrapped = parse_listing(body, url="https://example.com/", content_type=None, tz=TOKYO, item="h3.w",
                            title="h3", link="h3")
    assert [(d.title, d.link) for d in wrapped.drafts] == [("Two", "https://example.com/2")]


DATES = [
    ("japanese-in-item", "<li><a href='/a'>T</a> ２０２５年２月３日 発表</li>", None, datetime(2025, 2, 3, tzinfo=TOKYO)),
    ("time-datetime", "<li><time datetime='2025-02-03T10:00:00+09:00'>3 Feb</time><a href='/a'>T</a></li>", None,
     datetime(2025, 2, 3, 10, tzinfo=TOKYO)),
    ("time-text", "<li><time>令和7年2月3日</time><a href='/a'>T</a></li>", "time", datetime(2025, 2, 3, tzinfo=TOKYO)),
    ("selector-text", "<li><span class=d>掲載日 2025/02/03</span><a href='/a'>T</a></li>", "span.d",
     datetime(2025, 2, 3, tzinfo=TOKYO)),
    ("none", "<li><a href='/a'>T</a> 発表</li>", None, None),
    # an item that is only its link: the title's date is all there is, as for a bare <a> item
    ("only-the-link", "<li><a href='/a'>Item five 令和8年11月23日</a></li>", None, datetime(2026, 11, 23, tzinfo=TOKYO)),
    # other text beside the title: a date in the title may not be the publication's
    ("title-date-beside-text", "<li><a href='/a'>人事異動（令和8年8月12日付）</a> 発表</li>", None, None),
    ("text-date-wins", "<li><a href='/a'>8月13日からの大雨</a> 2026年8月20日</li>", None,
     datetime(2026, 8, 20, tzinfo=TOKYO)),
]


@pytest.mark.parametrize(("item", "date", "expected"), [c[1:] for c in DATES], ids=[c[0] for c in DATES])
def test_item_dates(item: str, date: str | None, expected: datetime | None) -> None:
    result = parse_listing(page(f"<ul>{item}</ul>"), url="https://example.com/", content_type=None, tz=TOKYO,
                           item="ul li", date=date)
    assert result.drafts[0].published == expected


def test_undeclared_euc_jp_page() -> None:
    body = page("<ul class=n><li><a href='/a'>報道発表の一覧</a> 2025年2月3日</li></ul>", encoding="euc_jp")
    result = parse_listing(body, url="https://example.com/", content_type="text/html", tz=TOKYO, item="ul.n li")
    assert result.drafts[0].title == "報道発表の一覧"
    assert result.drafts[0].published == datetime(2025, 2, 3, tzinfo=TOKYO)


def test_a_page_whose_declared_charset_does_not_fit_is_read_and_warned_of() -> None:
    """An exploratory test's find: a Shift_JIS listing page served as UTF-8 was read right, by
    detection, but silently; the same fault on a feed warns, as the README's fault table says."""
    items = "".join(f"<li><a href='/n{n}'>人工知能戦略本部の会合について（第{n}回）</a></li>" for n in range(5))
    body = f"<html><body><ul class=n>{items}</ul></body></html>".encode("cp932")
    result = parse_listing(body, url="https://example.jp/", content_type="text/html; charset=utf-8", tz=TOKYO,
                           item="ul.n li")
    assert [d.title for d in result.drafts][:1] == ["人工知能戦略本部の会合について（第0回）"]
    assert result.warnings == ["its declared charset utf-8 does not fit its bytes; decoded them by detection"]
    right = parse_listing(body, url="https://example.jp/", content_type="text/html; charset=Shift_JIS", tz=TOKYO,
                          item="ul.n li")
    assert right.warnings == [] and right.drafts == result.drafts


def test_selector_matching_nothing_is_a_warning() -> None:
    result = listing(*METI, item="ul.x li")
    assert result.drafts == [] and result.warnings == ["selector 'ul.x li' matched nothing"]


def test_a_link_selector_that_finds_no_link_in_any_item_is_a_warning() -> None:
    """20 items, all skipped: without the warning the poll read 'ok', 0 new, and nothing flagged it."""
    result = listing(*METI, item="ul.float_li > li", link="img")
    assert result.drafts == [] and result.skipped > 10
    assert result.warnings == [(f"none of the {result.skipped} items matched by the item selector has an http(s) "
                                "link (link selector 'img'): every item was skipped")]


def test_a_title_selector_that_finds_nothing_in_any_item_is_a_warning() -> None:
    result = listing(*METI, item="ul.float_li > li", title="a.nosuch")
    assert result.drafts and all(d.title for d in result.drafts)  # the links' text
    assert result.warnings == [("title selector 'a.nosuch' matched nothing inside the items; "
                                "their links' text is the title")]
    assert listing(*METI, item="ul.float_li > li", title="a.cut_txt").warnings == []


@pytest.mark.parametrize(("selectors", "named"), [({"item": "ul..x"}, "ul..x"), ({"item": "li", "title": "a >"}, "a >"),
                                                  ({"item": "li", "date": ":contains(x)"}, ":contains(x)"),
                                                  ({"item": "li", "link": ""}, "''")],
                         ids=["item", "title", "date", "empty-link"])
def test_invalid_selector_is_a_parse_error_naming_it(selectors: dict[str, str], named: str) -> None:
    with pytest.raises(ParseError, match="invalid CSS selector") as caught:
        listing(*METI, **selectors)
    assert named in str(caught.value)


def test_empty_body_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="^empty response$"):
        parse_listing(b" \n", url="https://example.com/", content_type=None, tz=TOKYO, item="li")


def test_an_item_that_is_itself_a_link_is_its_own_title_and_link() -> None:
    page = ("<html><body><ul><li><a href='/cstp/ai/ai_hq/3kai/3kai.html'>第3回（令和7年12月19日）</a></li>"
            "<li><a href='/other.html'>ほか</a></li></ul></body></html>").encode()
    result = parse_listing(page, url="https://www8.cao.go.jp/cstp/ai/ai_hq/kaisai.html", content_type="text/html",
                           tz=TOKYO, item="a[href$='kai.html']")
    assert [(d.title, d.link) for d in result.drafts] == [
        ("第3回（令和7年12月19日）", "https://www8.cao.go.jp/cstp/ai/ai_hq/3kai/3kai.html")]
    assert result.drafts[0].published is not None
    assert result.drafts[0].published.date().isoformat() == "2025-12-19"



@pytest.mark.parametrize("stamp", ["最終更新：2026年11月20日", "更新日 令和8年11月20日", "Last updated: 2026-11-20",
                                   "<span>最終更新日：</span>2026年11月20日", "<strong>Last update:</strong> 2026-11-20",
                                   "更新：2026年11月20日", "<dl><dt>最終更新日</dt><dd>2026年11月20日</dd></dl>"],
                         ids=["saishu-koshin", "koshinbi", "last-updated", "label-in-span", "label-in-strong",
                              "koshin-colon", "label-in-dt"])
def test_the_pages_last_updated_stamp_is_no_date_heading(stamp: str) -> None:
    """A stamp above link-only items dated 第3回（令和8年11月25日）... gave every one its day (the
    items are in two lists, so the stamp is inside the block that holds them)."""
    page = (f"<html><body><h2>開催状況</h2><p>{stamp}</p><ul>"
            "<li><a href='/ai_hq/3kai/3kai.html'>第3回（令和8年11月25日）</a></li>"
            "<li><a href='/ai_hq/2kai/2kai.html'>第2回（令和8年10月1日）</a></li></ul>"
            "<h3>2026年8月1日</h3><ul><li><a href='/ai_hq/0kai/0kai.html'>準備会合</a></li></ul>"
            "</body></html>").encode()
    assert _dates(page, NOV_2026, item="a[href$='kai.html']") == ["2026-11-25", "2026-10-01", "2026-08-01"]


def test_a_date_heading_that_says_updated_still_heads_its_group() -> None:
    page = ("<html><body><div><h3>2026年11月20日更新</h3><ul><li><a href='/a.html'>人事異動（令和8年11月19日付）</a>"
            "</li></ul><h3>2026年11月18日更新</h3><ul><li><a href='/b.html'>報道発表</a></li></ul>"
            "</div></body></html>").encode()
    assert _dates(page, NOV_2026, item="li") == ["2026-11-20", "2026-11-18"]


def _dates(page: bytes, now: datetime, **selectors: str) -> list[str | None]:
    found = parse_listing(page, url="https://www.example.go.jp/press/", content_type="text/html; charset=utf-8",
                          tz=TOKYO, now=now, **selectors)  # type: ignore[arg-type]
    return [d.published.strftime("%Y-%m-%d") if d.published else None for d in found.drafts]


NOV_2026 = datetime(2026, 11, 27, 3, 0, tzinfo=TOKYO)


def test_a_year_in_an_item_title_does_not_date_the_page() -> None:
    """Headings 11月26日 / 11月25日 with no year; the first item is about 令和7年度 (FY2025): the
    items are from this November, the nearest before the poll, not from 2025."""
    page = ("<html><body><div id='list'><h3>11月26日</h3><ul><li><a href='/a'>令和7年度補正予算に係るAI基本計画の"
            "推進について</a></li><li><a href='/b'>AI戦略本部</a></li></ul><h3>11月25日</h3><ul><li><a href='/c'>"
            "人工知能関連技術</a></li></ul></div></body></html>").encode()
    assert _dates(page, NOV_2026, item="li") == ["2026-11-26", "2026-11-26", "2026-11-25"]


def test_a_year_in_a_navigation_link_is_no_heading() -> None:
    nav = "<nav><a href='/expo'>2025年大阪・関西万博</a></nav>"
    page = (f"<html><body>{nav}<dl><dt>8月12日付</dt><dd><a href='/a'>人事異動</a></dd>"
            "<dt>8月8日付</dt><dd><a href='/b'>会見</a></dd></dl></body></html>").encode()
    assert _dates(page, datetime(2026, 9, 1, tzinfo=TOKYO), item="dd") == ["2026-08-12", "2026-08-08"]


def test_a_year_heading_still_wins_but_a_date_to_come_is_no_publication_date() -> None:
    page = ("<html><body><h2>令和7年</h2><ul><li>3月1日 <a href='/a'>A</a></li><li>12月25日 <a href='/b'>B</a></li>"
            "</ul></body></html>").encode()
    assert _dates(page, NOV_2026, item="li") == ["2025-03-01", "2025-12-25"]  # the heading: 2025
    assert _dates(page, datetime(2025, 11, 27, tzinfo=TOKYO), item="li") == ["2025-03-01", None]


def test_a_month_and_day_without_a_year_reach_back_a_quarter_at_most() -> None:
    """Read on 2 January, 12月31日 is three days ago; 3月10日 is an event to come (a deadline,
    a meeting), not ten months ago: no date, so the entry is still news. In local time: at
    05:00 in Tokyo on 30 December (20:00 UTC the day before), 1月1日 is the coming one."""
    page = "<ul><li>12月31日 <a href='/a'>A</a></li><li>3月10日 <a href='/b'>B</a></li></ul>".encode()
    assert _dates(page, datetime(2026, 1, 2, 10, tzinfo=TOKYO), item="li") == ["2025-12-31", None]
    new_year = "<ul><li>1月1日 <a href='/a'>A</a></li><li>2月29日 <a href='/b'>B</a></li></ul>".encode()
    assert _dates(new_year, datetime(2025, 12, 30, 5, tzinfo=TOKYO), item="li") == ["2026-01-01", None]


def test_real_mofa_page_with_a_dated_navigation_link() -> None:
    """The real MOFA page, plus a navigation link with a year before the list: its 8月12日付
    groups stay in 2026, when the page was captured."""
    body = corpus_path(MOFA[0]).read_bytes().replace(b"<body", b"<div><a href='/expo'>2025\xe5\xb9\xb4</a></div><body", 1)
    found = parse_listing(body, url=MOFA[1], content_type="text/html", tz=TOKYO, now=datetime(2026, 8, 20, tzinfo=TOKYO),
                          item="dl.title-list ul.link-list li", date="dt.list-title")
    years = {d.published.year for d in found.drafts if d.published}
    assert years == {2026}, years


def test_a_line_break_in_a_title_separates_its_words() -> None:
    """kantei's press-conference list writes two subjects as 閣議の概要について<br>内閣府の人事について:
    glued, neither phrase would match."""
    found = listing(*PRESS, item="div.list-press li")
    titles = [d.title for d in found.drafts]
    assert any(t.endswith("閣議の概要について 内閣府の人事について") for t in titles), titles[:5]
    page = b"<ul><li><a href='/a'>SoftBank<br>OpenAI announce<br/>a venture</a></li></ul>"
    assert [d.title for d in parse_listing(page, url="https://example.com/", content_type="text/html", tz=TOKYO,
                                           item="li").drafts] == ["SoftBank OpenAI announce a venture"]


def test_a_date_heading_that_cannot_be_read_does_not_extend_the_group_before() -> None:
    page = ("<html><body><div><h3>11月26日</h3><ul><li><a href='/a'>A</a></li></ul><h3>2月30日</h3><ul>"
            "<li><a href='/b'>B</a></li></ul><h3>第3回会合</h3><ul><li><a href='/c'>C</a></li></ul></div>"
            "</body></html>").encode()
    assert _dates(page, NOV_2026, item="li") == ["2026-11-26", None, None]


def test_a_fiscal_year_heading_puts_january_to_march_in_the_next_year() -> None:
    """令和7年度 runs from April 2025 to March 2026."""
    page = ("<html><body><h2>令和7年度</h2><ul><li>4月1日 <a href='/a'>A</a></li><li>12月25日 <a href='/b'>B</a></li>"
            "<li>2月3日 <a href='/c'>C</a></li></ul></body></html>").encode()
    assert _dates(page, datetime(2026, 3, 31, tzinfo=TOKYO), item="li") == ["2025-04-01", "2025-12-25", "2026-02-03"]
