"""Digest windows and selection (pure core) and Markdown escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.core.digest import Candidate, Failure, build, day_being_gathered, published_floor, window_for
from monitor.render.markdown import escape, link_target, render

TOKYO = ZoneInfo("Asia/Tokyo")
AT = time(8, 0)


def test_window_is_the_24_hours_ending_at_digest_time() -> None:
    w = window_for(date(2025, 2, 4), AT, TOKYO)
    assert w.start.astimezone(UTC) == datetime(2025, 2, 2, 23, 0, tzinfo=UTC)
    assert w.end.astimezone(UTC) == datetime(2025, 2, 3, 23, 0, tzinfo=UTC)


def test_window_follows_local_wall_clock_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    w = window_for(date(2025, 3, 9), AT, ny)  # DST began 2025-03-09 02:00
    assert w.end.astimezone(UTC) - w.start.astimezone(UTC) == timedelta(hours=23)


def test_a_window_ending_in_the_skipped_hour_shows_the_real_time() -> None:
    w = window_for(date(2026, 3, 8), time(2, 30), ZoneInfo("America/New_York"))
    assert f"{w.end:%H:%M %Z}" == "03:30 EDT" and f"{w.start:%H:%M %Z}" == "02:30 EST"
    assert w.end.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now_local", "expected"),
    [(datetime(2025, 2, 3, 7, 59), date(2025, 2, 3)), (datetime(2025, 2, 3, 8, 0), date(2025, 2, 4)),
     (datetime(2025, 2, 3, 23, 30), date(2025, 2, 4))],
    ids=["before-at", "at", "evening"],
)
def test_day_being_gathered(now_local: datetime, expected: date) -> None:
    now = now_local.replace(tzinfo=TOKYO).astimezone(UTC)
    assert day_being_gathered(now, AT, TOKYO) == expected


@pytest.mark.parametrize(
    ("now_utc", "at", "expected"),
    [(datetime(2026, 11, 1, 6, 15, tzinfo=UTC), time(1, 30), date(2026, 11, 2)),  # 01:15 EST: 01:30 EDT has passed
     (datetime(2026, 11, 1, 5, 15, tzinfo=UTC), time(1, 30), date(2026, 11, 1)),  # 01:15 EDT: not yet
     (datetime(2026, 3, 8, 7, 15, tzinfo=UTC), time(2, 30), date(2026, 3, 8))],  # 03:15 EDT: closes at 03:30
    ids=["fall-back-second-0115", "fall-back-first-0115", "spring-forward-gap"],
)
def test_day_being_gathered_in_the_hour_dst_repeats_or_skips(now_utc: datetime, at: time, expected: date) -> None:
    assert day_being_gathered(now_utc, at, ZoneInfo("America/New_York")) == expected


def cand(title: str, topics: tuple[str, ...], published: datetime | None, seen: datetime,
         url: str | None = "https://example.com/a") -> Candidate:
    return Candidate(title, url, ("japan-times",), published, seen, topics)


def test_build_groups_by_topic_in_config_order_newest_first() -> None:
    w = window_for(date(2025, 2, 4), AT, TOKYO)
    seen = w.start + timedelta(hours=1)
    a = cand("A", ("jv",), datetime(2025, 2, 3, 1, tzinfo=UTC), seen)
    b = cand("B", ("jv", "stargate"), datetime(2025, 2, 3, 5, tzinfo=UTC), seen)
    c = cand("C", ("stargate",), None, seen + timedelta(hours=9))
    d = build(w, [a, b, c], [("stargate", "Stargate"), ("jv", "JV"), ("policy", "Policy")], [], TOKYO)
    assert [s.topic for s in d.sections] == ["stargate", "jv"]
    assert [i.title for i in d.sections[0].items] == ["C", "B"]
    assert [i.title for i in d.sections[1].items] == ["B", "A"]
    assert d.entries == 3
    assert d.sections[1].items[0].published.tzinfo == TOKYO


def test_a_story_is_shown_under_its_earliest_report_and_the_longest_title_on_a_tie() -> None:
    w = window_for(date(2025, 2, 4), AT, TOKYO)
    seen, published = w.start + timedelta(hours=1), datetime(2025, 2, 3, 1, tzinfo=UTC)
    short = Candidate("AI plan adopted", "https://a.example/1", ("a",), published, seen, ("t",), story=1)
    # seen a moment later in the same poll: the tie is on publication time, not on that moment
    full = Candidate("Japan's cabinet adopts its first AI Basic Plan", "https://b.example/1", ("b",), published,
                     seen + timedelta(microseconds=200_000), ("t",), story=1)
    earlier = Candidate("AI plan", "https://c.example/1", ("c",), published - timedelta(minutes=5),
                        seen + timedelta(hours=1), ("t",), story=2)
    later = Candidate("Japan adopts AI plan, a longer title", "https://d.example/1", ("d",), published,
                      seen, ("t",), story=2)
    items = build(w, [short, full, earlier, later], [("t", "T")], [], TOKYO).sections[0].items
    assert sorted(i.title for i in items) == ["AI plan", "Japan's cabinet adopts its first AI Basic Plan"]


def test_published_floor_is_lookback_before_window_start() -> None:
    w = window_for(date(2025, 2, 4), AT, TOKYO)
    assert published_floor(w, timedelta(days=3)) == w.start - timedelta(days=3)


def test_markdown_layout_and_health_section() -> None:
    w = window_for(date(2025, 2, 4), AT, TOKYO)
    seen = w.start + timedelta(hours=1)
    items = [cand("SoftBank, OpenAI set up JV", ("jv",), datetime(2025, 2, 3, 3, tzinfo=UTC), seen)]
    since = datetime(2025, 2, 3, 9, tzinfo=TOKYO)
    text = render(build(w, items, [("jv", "SoftBank–OpenAI JV")], [Failure("arab-news", "HTTP 404", since)],
                        TOKYO))
    lines = text.splitlines()
    assert lines[0] == "# Digest 2025-02-04: 1 story (SoftBank–OpenAI JV 1)"
    assert "## SoftBank–OpenAI JV" in lines
    assert "- [SoftBank, OpenAI set up JV](https://example.com/a) — japan-times, 2025-02-03 12:00" in lines
    assert "## Sources with errors" in lines
    assert "- arab-news: HTTP 404 (since 2025-02-03 09:00)" in lines


def unescaped(text: str) -> list[str]:
    """Markup characters that are not preceded by a backslash (CommonMark would act on them)."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "[]<>&*_`#|~":  # ( ) ! act only beside [ or ]
            found.append(text[i])
        i += 1
    return found


@pytest.mark.parametrize(
    "title",
    ["[click](https://evil.example)", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
     "**bold** _it_ `code`", "&lt;b&gt;", "![img](x)", "a\\[b]"],
    ids=["link", "script", "img", "emphasis", "entity", "image", "backslash-before-bracket"],
)
def test_titles_cannot_inject_markup(title: str) -> None:
    assert unescaped(escape(title)) == []


def test_parentheses_and_bangs_are_left_as_written() -> None:
    """They act only beside [ or ], which are escaped: a reader of the file sees the title."""
    assert escape("SoftBank (SBG) shares jump!") == "SoftBank (SBG) shares jump!"


def test_newlines_cannot_start_a_heading() -> None:
    assert "\n" not in escape("line\n# heading")


@pytest.mark.parametrize(
    ("url", "expected"),
    [("javascript:alert(1)", None), ("ftp://x/y", None), (None, None),
     ("https://ex.com/a_(b) c", "https://ex.com/a_%28b%29%20c")],
    ids=["javascript", "ftp", "none", "parens-and-space"],
)
def test_only_http_urls_become_links(url: str | None, expected: str | None) -> None:
    assert link_target(url) == expected


def test_entry_without_link_is_plain_text() -> None:
    w = window_for(date(2025, 2, 4), AT, TOKYO)
    item = cand("No link here", ("jv",), None, w.start + timedelta(hours=1), url="javascript:alert(1)")
    text = render(build(w, [item], [("jv", "JV")], [], TOKYO))
    assert "- No link here — japan-times, date unknown" in text
    assert "javascript" not in text


HOSTILE = [
    "[click](https://evil.example/a)", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "see www.evil.example or https://evil.example/x", "mail me@evil.example", "![pixel](https://evil.example/p.png)",
    "<https://evil.example/auto>", "&lt;b&gt; &amp; **bold** _it_ `code` ~~gone~~", "line\n# heading\n- item",
    "a](https://evil.example/b) (c)[d] ![e](https://evil.example/e.png) [f]: https://evil.example/ref [f]",
]


@pytest.mark.parametrize("text", HOSTILE, ids=[f"hostile-{i}" for i in range(len(HOSTILE))])
def test_gfm_rendering_of_a_hostile_digest_has_only_our_links(text: str) -> None:
    import cmarkgfm  # in the test extra
    w = window_for(date(2025, 2, 4), AT, TOKYO)
    item = Candidate(text, "https://example.com/ok", (text,), None, w.start + timedelta(hours=1), ("t",))
    bare = Candidate(text, None, ("src",), None, w.start + timedelta(hours=2), ("t",))
    digest = build(w, [item, bare], [("t", text)], [Failure(text, text, None)], TOKYO)
    html = cmarkgfm.github_flavored_markdown_to_html(render(digest))
    assert html.count("<a ") == 1 and 'href="https://example.com/ok"' in html, html
    assert "<script" not in html and "<img" not in html and "<strong" not in html and "<em>" not in html
    assert "<h1>" in html and html.count("<h1>") == 1


def test_writing_a_digest_to_a_fifo_writes_into_it_and_keeps_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat
    import threading

    from monitor.service.digests import write_atomically

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_atomically(fifo, "# Digest\n")
    reader.join(timeout=10)
    assert got == ["# Digest\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced by a regular file (think /dev/null)
