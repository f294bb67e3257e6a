"""core.dates: every date form feeds and Japanese listing pages use, and that nothing raises.

The RFC 822 variants are copied from the captured feeds (see ../shared/corpus/MANIFEST.md):
kantei (no weekday), fsa (JST), spacedaily (upper-case month, AEST), Google News (GMT).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.core.dates import find_date, find_year, parse_date

TOKYO = ZoneInfo("Asia/Tokyo")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *,
       offset: float = 9) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone(timedelta(hours=offset)))


PARSED = [
    # RFC 822 / 1123 and what real feeds do to it
    ("rfc1123", "Tue, 03 Feb 2025 10:00:00 +0900", at(2025, 2, 3, 10)),
    ("no-weekday-kantei", "20 Aug 2026 03:13:00 +0900", at(2026, 8, 20, 3, 13)),
    ("jst-fsa", "Wed, 19 Aug 2026 17:00:00 JST", at(2026, 8, 19, 17)),
    ("upper-month-aest-spacedaily", "Thu, 04 APR 2013 20:37:27 AEST", at(2013, 4, 4, 20, 37, 27, offset=10)),
    ("gmt-google-news", "Tue, 14 Jul 2026 04:08:56 GMT", at(2026, 7, 14, 4, 8, 56, offset=0)),
    ("kst", "Mon, 03 Feb 2025 10:00:00 KST", at(2025, 2, 3, 10)),
    ("aedt", "Mon, 03 Feb 2025 10:00:00 AEDT", at(2025, 2, 3, 10, offset=11)),
    ("est", "Mon, 03 Feb 2025 10:00:00 EST", at(2025, 2, 3, 10, offset=-5)),
    ("edt", "Mon, 03 Feb 2025 10:00:00 EDT", at(2025, 2, 3, 10, offset=-4)),
    ("pst", "Mon, 03 Feb 2025 10:00:00 PST", at(2025, 2, 3, 10, offset=-8)),
    ("pdt", "Mon, 03 Feb 2025 10:00:00 PDT", at(2025, 2, 3, 10, offset=-7)),
    ("cet", "Mon, 03 Feb 2025 10:00:00 CET", at(2025, 2, 3, 10, offset=1)),
    ("cest", "Mon, 03 Feb 2025 10:00:00 CEST", at(2025, 2, 3, 10, offset=2)),
    ("bst", "Mon, 03 Feb 2025 10:00:00 BST", at(2025, 2, 3, 10, offset=1)),
    ("ist-india", "Mon, 03 Feb 2025 10:00:00 IST", at(2025, 2, 3, 10, offset=5.5)),
    ("utc", "Mon, 03 Feb 2025 10:00:00 UTC", at(2025, 2, 3, 10, offset=0)),
    ("z", "Mon, 03 Feb 2025 10:00:00 Z", at(2025, 2, 3, 10, offset=0)),
    ("gmt-plus", "Mon, 03 Feb 2025 10:00:00 GMT+9", at(2025, 2, 3, 10)),
    ("offset-colon", "Mon, 03 Feb 2025 10:00:00 +09:00", at(2025, 2, 3, 10)),
    ("unknown-zone-is-utc", "Mon, 03 Feb 2025 10:00:00 XYZ", at(2025, 2, 3, 10, offset=0)),
    ("no-seconds", "Mon, 03 Feb 2025 10:00 +0900", at(2025, 2, 3, 10)),
    ("one-digit-day", "Mon, 2 Jan 2006 19:05:13 +0900", at(2006, 1, 2, 19, 5, 13)),
    ("two-digit-year", "03 Feb 25 10:00:00 GMT", at(2025, 2, 3, 10, offset=0)),
    ("rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", at(1994, 11, 6, 8, 49, 37, offset=0)),
    ("full-month", "3 February 2025 10:00 +0000", at(2025, 2, 3, 10, offset=0)),
    ("zone-less-rfc-is-local", "Mon, 03 Feb 2025 10:00:00", at(2025, 2, 3, 10)),
    ("us-style", "February 3, 2025", at(2025, 2, 3)),
    ("asctime", "Mon Feb  3 10:00:00 2025", at(2025, 2, 3, 10)),
    # ISO 8601 / W3C-DTF
    ("iso-offset", "2025-02-03T10:00:00+09:00", at(2025, 2, 3, 10)),
    ("iso-z-fraction", "2025-02-03T01:00:00.123Z", at(2025, 2, 3, 1, offset=0)),
    ("iso-compact-offset", "2025-02-03T10:00:00+0900", at(2025, 2, 3, 10)),
    ("iso-minutes-only", "2025-02-03T10:00-05:00", at(2025, 2, 3, 10, offset=-5)),
    ("iso-date-is-local-midnight", "2025-02-03", at(2025, 2, 3)),
    ("iso-space-local", "2025-02-03 10:00", at(2025, 2, 3, 10)),
    # Japanese
    ("ja", "2025年2月3日", at(2025, 2, 3)),
    ("ja-weekday-time", "2025年2月3日（月）10時30分", at(2025, 2, 3, 10, 30)),
    ("ja-colon-time", "2025年2月3日 10:30", at(2025, 2, 3, 10, 30)),
    ("ja-hour-only", "2025年2月3日 10時", at(2025, 2, 3, 10)),
    ("ja-pm", "2025年2月3日 午後3時", at(2025, 2, 3, 15)),
    ("ja-spaced", "2025 年 2 月 3 日", at(2025, 2, 3)),
    ("ja-full-width", "２０２５年２月３日（月）", at(2025, 2, 3)),
    ("slash", "2025/02/03", at(2025, 2, 3)),
    ("slash-short-time", "2025/2/3 10:30", at(2025, 2, 3, 10, 30)),
    ("dot", "2025.02.03", at(2025, 2, 3)),
    ("reiwa", "令和7年2月3日", at(2025, 2, 3)),
    ("reiwa-gannen", "令和元年5月1日", at(2019, 5, 1)),
    ("reiwa-full-width", "令和８年８月２８日", at(2026, 8, 28)),
    ("heisei", "平成31年4月30日", at(2019, 4, 30)),
    ("showa", "昭和64年1月7日", at(1989, 1, 7)),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_parse_date_forms(text: str, expected: datetime) -> None:
    got = parse_date(text, TOKYO)
    assert got == expected
    assert got is not None and got.utcoffset() == expected.utcoffset()


UNREADABLE = [
    ("none", None), ("empty", ""), ("words", "yesterday"), ("bad-month", "2025-13-01"),
    ("bad-day", "2025年2月30日"), ("bad-hour", "2025-02-03T25:00:00Z"), ("year-1", "0001-01-01T00:00:00Z"),
    ("year-9999", "9999-12-31T23:59:59-09:00"), ("rfc-year-9999", "Fri, 31 Dec 9999 23:59:59 -1200"),
    ("offset-too-big", "2025-02-03T10:00:00+25:00"), ("trailing-text", "2025年2月3日 発表"),
]


@pytest.mark.parametrize("text", [c[1] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE])
def test_parse_date_unreadable_is_none(text: str | None) -> None:
    assert parse_date(text, TOKYO) is None


def test_zone_less_dates_use_the_given_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    assert parse_date("2025-02-03 10:00", new_york) == datetime(2025, 2, 3, 10, tzinfo=new_york)
    assert parse_date("2025-02-03 10:00", new_york) == datetime(2025, 2, 3, 15, tzinfo=UTC)


FOUND = [
    ("ja-then-word", "2025年2月3日 発表", at(2025, 2, 3)),
    ("label-then-era", "掲載日：令和8年8月28日 更新", at(2026, 8, 28)),
    ("iso-in-sentence", "release 2025-02-03 10:00 New item", at(2025, 2, 3, 10)),
    ("slash-after-words", "更新 2025/2/3 お知らせ", at(2025, 2, 3)),
    ("first-of-two", "2025年2月3日 (2024年1月1日 の続報)", at(2025, 2, 3)),
    ("rfc-in-text", "Posted Tue, 03 Feb 2025 10:00:00 GMT by x", at(2025, 2, 3, 10, offset=0)),
    ("skips-invalid", "2025年2月31日 then 2025年3月1日", at(2025, 3, 1)),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND])
def test_find_date_inside_text(text: str, expected: datetime) -> None:
    assert find_date(text, TOKYO) == expected


def test_find_date_month_day_needs_a_year() -> None:
    assert find_date("8月19日付", TOKYO) is None
    assert find_date("8月19日付", TOKYO, year=2026) == at(2026, 8, 19)
    assert find_date("2025年1月2日 8月19日", TOKYO, year=2026) == at(2025, 1, 2)  # a full date wins
    assert find_date("version 1.2.3 build 45", TOKYO) is None


def test_a_wrong_full_date_takes_no_other_year() -> None:
    """A month and day alone take the page's year; one written with a year that is wrong is no date."""
    assert find_date("明治1年1月1日", TOKYO, year=2019) is None  # before 1900: noise
    assert find_date("令和1000年1月1日", TOKYO, year=2019) is None
    assert find_date("令和0年1月1日", TOKYO, year=2019) is None  # no year 0 in an era
    assert find_date("令和元年5月1日", TOKYO) == at(2019, 5, 1)
    # an impossible time leaves the date
    assert find_date("2025年2月3日 25時70分", TOKYO, year=2019) == at(2025, 2, 3)


@pytest.mark.parametrize(("text", "year"), [("令和8年8月分", 2026), ("2026年", 2026), ("平成元年", 1989),
                                            ("no year", None), ("12025年", None)],
                         ids=["era-month", "western", "gannen", "none", "five-digits"])
def test_find_year(text: str, year: int | None) -> None:
    assert find_year(text) == year


def test_a_fiscal_year_is_told_apart() -> None:
    fiscal, calendar = find_year("令和7年度補正予算"), find_year("令和7年8月分")
    assert fiscal == calendar == 2025
    assert fiscal is not None and calendar is not None
    assert (fiscal.fiscal, fiscal.of(2), fiscal.of(4)) == (True, 2026, 2025)
    assert (calendar.fiscal, calendar.of(2)) == (False, 2025)


@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    for found in (parse_date(text, TOKYO), find_date(text, TOKYO, year=2026)):
        assert found is None or found.tzinfo is not None


@given(st.text(alphabet="0123456789０１２３-/.:年月日時分TZ+ 令和元平成ABCDEFGHIJKLMNOPQRSTUVWXYZ,", max_size=40))
def test_date_shaped_noise_never_raises(text: str) -> None:
    found = find_date(text, TOKYO)
    if found is not None:
        found.astimezone(UTC)  # no OverflowError downstream either


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
       st.sampled_from(["%Y-%m-%dT%H:%M:%S+09:00", "%Y-%m-%dT%H:%M:%S-12:00", "%a, %d %b %Y %H:%M:%S +1400",
                        "%Y年%m月%d日", "%Y/%m/%d %H:%M"]))
def test_edge_years_give_none_or_a_usable_datetime(moment: datetime, fmt: str) -> None:
    text = moment.strftime(fmt.replace("%Y", f"{moment.year:04d}"))  # %Y does not pad years < 1000
    found = parse_date(text, TOKYO)
    if found is not None:
        found.astimezone(UTC)
        found.astimezone(TOKYO)
