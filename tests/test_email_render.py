"""Digest and alert -> email message: MIME structure, headers, and hostile feed text made inert.

Every message is serialised with ``bytes(msg)`` and parsed back with the standard library, as a mail client
would read it; the HTML part is read by ``html.parser``, so "inert" means no element or attribute came from
feed text, not merely that some string is absent. The data is made up here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.core.digest import Digest, Failure, Item, Section, window_for
from monitor.render.email import compose_alert, compose_digest
from monitor.render.markdown import render
from monitor.render.plain import render_digest

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2025, 2, 4, 8, 0, 5, tzinfo=TOKYO)
WINDOW = window_for(date(2025, 2, 4), time(8, 0), TOKYO)
LIST_ID = "monitor digest <digest.monitor.example.org>"
HOSTILE_TITLES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<a href=\"javascript:alert(1)\">click</a>",
    "Stargate\r\nBcc: victim@example.net",
    "<style>body{background:url(https://evil.example/t.png)}</style>",
    "&lt;b&gt; already escaped &amp; {{ 7*7 }}",
]


def item(title: str, url: str | None = "https://example.com/a", sources: tuple[str, ...] = ("japan-times",),
         published: datetime | None = datetime(2025, 2, 3, 21, 30, tzinfo=TOKYO)) -> Item:
    return Item(title, url, sources, published, datetime(2025, 2, 3, 22, 0, tzinfo=TOKYO), ("t",))


def digest(*sections: Section, failures: Sequence[Failure] = ()) -> Digest:
    return Digest(WINDOW, sections, tuple(failures), len({i for s in sections for i in s.items}))


def compose(d: Digest, recipients: Sequence[str] = ("analyst@example.org",)) -> EmailMessage:
    return compose_digest(d, sender="monitor@example.org", recipients=recipients, list_id=LIST_ID, now=NOW,
                          message_id_domain="monitor.example.org")


def alert(heading: str, items: Sequence[Item]) -> EmailMessage:
    return compose_alert(heading, items, sender="monitor@example.org", recipients=["analyst@example.org"],
                         list_id=LIST_ID, now=NOW, message_id_domain="monitor.example.org")


def wire(msg: EmailMessage) -> EmailMessage:
    """What a receiver reads: the serialised bytes, parsed back."""
    raw = bytes(msg)
    assert max(raw) < 128, "7-bit on the wire: no 8BITMIME needed"
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(msg: EmailMessage) -> tuple[str, str]:
    """(plain, html) of a multipart/alternative, checking its structure and charsets on the way."""
    assert msg.get_content_type() == "multipart/alternative"
    kids = list(msg.iter_parts())
    assert [p.get_content_type() for p in kids] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in kids] == ["utf-8", "utf-8"]
    plain, html = (str(p.get_content()).replace("\r\n", "\n") for p in kids)
    return plain, html


class Page(HTMLParser):
    """Every tag, attribute and text run of an HTML document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.links: list[tuple[str, str]] = []  # (href, link text)
        self.text: list[str] = []
        self._href: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._href is not None:
            self.links.append((self._href, data))

    def all_text(self) -> str:
        return " ".join("".join(self.text).split())


TWO_TOPICS = digest(
    Section("softbank-openai", "SoftBank–OpenAI JV", (
        item("ソフトバンクとOpenAI、合弁会社「SB OAI Japan」設立", "https://example.jp/jv?id=1&lang=ja",
             sources=("arab-news-jp", "japan-times")),
        item("SoftBank to invest $3bn a year in OpenAI", None, published=None),
        item("Crystal intelligence launches", "https://example.com/crystal"),
    )),
    Section("stargate", "Stargate", (item("Stargate UAE announced", "http://example.org/s"),
                                      item("Stargate site in Texas", "https://example.org/t"))),
    failures=[Failure("kantei-en", "HTTP 503 from https://japan.kantei.go.jp/", datetime(2025, 2, 3, 1, 0,
                                                                                          tzinfo=TOKYO))],
)


def test_digest_is_multipart_alternative_with_the_markdown_and_html_of_the_same_data() -> None:
    plain, html = parts(wire(compose(TWO_TOPICS)))
    assert plain == render_digest(TWO_TOPICS)
    page = Page(html)
    jv = "ソフトバンクとOpenAI、合弁会社「SB OAI Japan」設立"
    assert ("https://example.jp/jv?id=1&lang=ja", jv) in page.links
    assert ("http://example.org/s", "Stargate UAE announced") in page.links
    text = page.all_text()
    for expected in ["SoftBank–OpenAI JV (3)", "Stargate (2)", "SoftBank to invest $3bn a year in OpenAI",
                     "arab-news-jp, japan-times · 2025-02-03 21:30", "date unknown", "Sources with errors",
                     "kantei-en: HTTP 503 from https://japan.kantei.go.jp/ (since 2025-02-03 01:00)",
                     "Window: 2025-02-03 08:00 JST to 2025-02-04 08:00 JST."]:
        assert expected in text
    assert text.index("SoftBank–OpenAI JV") < text.index("Stargate (2)") < text.index("Sources with errors")
    assert [h for h, _ in page.links if "example" in h] == [
        "https://example.jp/jv?id=1&lang=ja", "https://example.com/crystal", "http://example.org/s",
        "https://example.org/t"], "the entry without a URL is not a link"
    # a Japanese title says so, and nothing claims the page is English (kanji drawn as Chinese)
    assert ("lang", "ja") in page.attrs and ("lang", "en") not in page.attrs
    assert page.attrs.count(("lang", "ja")) == 1


def test_the_other_reports_of_a_story_are_links_in_both_parts() -> None:
    """"also: ..." in the HTML part as in the plain one: every report stays reachable, and a
    report with no http(s) link is its outlet's name only."""
    story = Item("SB OAI Japan launches Crystal intelligence", None, ("kantei",), None,
                 datetime(2025, 2, 3, 22, 0, tzinfo=TOKYO), ("t",),
                 also=(("The Japan Times", "https://japantimes.example/jv"), ("Nikkei Asia", "https://asia.example/jv"),
                       ("<b>Outlet</b>", "javascript:alert(1)"), ("Kyodo", "https://kyodo.example/jv?a=1&b=2")))
    plain, html = parts(wire(compose(digest(Section("jv", "JV", (story,))))))
    page = Page(html)
    assert page.links == [("https://japantimes.example/jv", "The Japan Times"), ("https://asia.example/jv", "Nikkei Asia"),
                          ("https://kyodo.example/jv?a=1&b=2", "Kyodo")]
    assert "also: The Japan Times, Nikkei Asia (+2: <b>Outlet</b>, Kyodo)" in page.all_text()
    assert "b" not in page.tags
    assert sorted(re.findall(r"https://[a-z.]+example/jv[^)\s]*", plain)) == sorted(h for h, _ in page.links)


def test_the_plain_part_is_text_as_written_not_escaped_markdown() -> None:
    """An exploratory test's find: the text/plain part was the Markdown file, so a mail reader saw
    'SoftBank \\[SBG\\] invests \\$40bn \\& more' and copied press@<WORD JOINER>openai.com. It
    is text as written now; only control characters and bidi overrides are dropped, and only
    http(s) addresses are written out as links."""
    title = "OpenAI_s Altman: SoftBank [SBG] invests $40bn & more (#1 *exclusive*) — press@openai.com <b>\x1b[31m"
    when = datetime(2025, 2, 3, 22, 0, tzinfo=TOKYO)
    story = Item(title, "https://example.org/a?b=1&c=(2)", ("test-en",), when, when, ("t",), ("Stargate", "invest*"),
                 also=(("Evil\u202eOutlet", "javascript:alert(1)"),))
    for plain in (parts(wire(compose(digest(Section("t", "JV (SB OAI Japan)", (story,))))))[0],
                  parts(wire(alert("JV (SB OAI Japan)", [story])))[0]):
        assert ("- OpenAI_s Altman: SoftBank [SBG] invests $40bn & more (#1 *exclusive*) — press@openai.com <b> [31m"
                " — test-en, 2025-02-03 22:00 (matched: Stargate, invest*)\n  https://example.org/a?b=1&c=(2)\n"
                "  also: Evil Outlet\n") in plain
        assert "\\" not in plain and "\u2060" not in plain and "\x1b" not in plain and "javascript" not in plain
        assert "JV (SB OAI Japan)" in plain


def test_html_has_no_remote_content_scripts_or_style_sheets() -> None:
    page = Page(parts(wire(compose(TWO_TOPICS)))[1])
    assert not {"script", "img", "style", "link", "iframe", "object", "form"} & set(page.tags)
    assert not [k for k, _ in page.attrs if k.startswith("on") or k in {"src", "srcset", "background"}]
    assert not [v for k, v in page.attrs if k == "style" and "url(" in v]


@pytest.mark.parametrize(
    ("d", "subject"),
    [(TWO_TOPICS, "monitor digest 2025-02-04: 3 SoftBank–OpenAI JV, 2 Stargate"),
     (digest(), "monitor digest 2025-02-04: nothing new"),
     (digest(Section("p", "AI政策 (日本)", (item("x"),))), "monitor digest 2025-02-04: 1 AI政策 (日本)")],
    ids=["counts-per-topic", "empty", "japanese-heading"],
)
def test_digest_subject(d: Digest, subject: str) -> None:
    raw_headers = bytes(compose(d)).split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii(), "non-ASCII travels as RFC 2047 encoded words"
    assert wire(compose(d))["Subject"] == subject


def test_digest_headers() -> None:
    msg = wire(compose(TWO_TOPICS, recipients=["analyst@example.org", "Desk <desk@example.org>"]))
    assert msg["From"] == "monitor@example.org"
    assert [a.addr_spec for a in msg["To"].addresses] == ["analyst@example.org", "desk@example.org"]
    assert parsedate_to_datetime(msg["Date"]) == NOW
    assert msg["Date"] == "Tue, 04 Feb 2025 08:00:05 +0900"
    assert re.fullmatch(r"<digest-2025-02-04\.[0-9a-f]{16}@monitor\.example\.org>", msg["Message-ID"])
    assert msg["List-Id"] == LIST_ID
    assert msg["Auto-Submitted"] == "auto-generated"


def test_digest_message_id_is_stable_per_date_recipients_and_content() -> None:
    first, again = compose(TWO_TOPICS), compose(TWO_TOPICS)
    other = compose(TWO_TOPICS, recipients=["someone-else@example.org"])
    changed = compose(digest(*TWO_TOPICS.sections[:1]))  # a forced resend after more came in
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert changed["Message-ID"] != first["Message-ID"]


def test_empty_digest_says_nothing_new() -> None:
    plain, html = parts(wire(compose(digest())))
    assert "Nothing new matched a topic in this window." in plain
    assert "Nothing new matched a topic in this window." in Page(html).all_text()


@pytest.mark.parametrize("title", HOSTILE_TITLES, ids=["script", "attr-breakout", "js-anchor", "crlf-bcc",
                                                       "style-remote", "entities-and-template"])
def test_hostile_feed_text_is_inert_in_html_and_headers(title: str) -> None:
    hostile = item(title, "javascript:alert(document.cookie)", sources=(title,))
    d = digest(Section("t", title, (hostile, item(title, 'https://example.com/"onmouseover="alert(1)'))),
               failures=[Failure(title, title, None)])
    for msg in (wire(compose(d)), wire(alert(title, [hostile]))):
        page = Page(parts(msg)[1])
        assert not {"script", "img", "style", "iframe"} & set(page.tags)
        assert not [k for k, _ in page.attrs if k.startswith("on")]
        assert all(h.startswith(("http://", "https://")) for h, _ in page.links)
        assert '"' not in "".join(h for h, _ in page.links), "a quote in a URL cannot end the attribute"
        flat = " ".join(title.split())
        assert flat in page.all_text(), "shown as text, exactly"
        assert "Bcc" not in msg and "bcc" not in {k.lower() for k in msg}
        assert all("\n" not in v and "\r" not in v for v in msg.values())
        assert len(msg.keys()) == len(set(msg.keys()))


def test_header_injection_in_topic_heading_adds_no_header() -> None:
    raw = bytes(alert("Stargate\r\nBcc: victim@example.net\nX-Evil: 1", [item("a")]))
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert not re.search(r"(?im)^(bcc|x-evil):", headers)
    assert wire(alert("Stargate\r\nBcc: v@example.net", [item("a")]))["Subject"] == \
        "monitor alert: Stargate Bcc: v@example.net: 1 new"


def test_alert_lists_the_new_items_in_both_parts() -> None:
    items = [item("Stargate Japan data centre", "https://example.org/1"), item("スターゲート計画", None)]
    msg = wire(alert("Stargate", items))
    assert msg["Subject"] == "monitor alert: Stargate: 2 new"
    assert re.fullmatch(r"<alert-20250203T230005Z\.[0-9a-f]{16}@monitor\.example\.org>", msg["Message-ID"])
    assert msg["List-Id"] == LIST_ID and msg["Auto-Submitted"] == "auto-generated"
    plain, html = parts(msg)
    assert plain.startswith("Stargate: 2 new\n\n")
    assert "- Stargate Japan data centre — japan-times, 2025-02-03 21:30\n  https://example.org/1\n" in plain
    assert "- スターゲート計画 — japan-times, 2025-02-03 21:30\n" in plain
    page = Page(html)
    assert page.links == [("https://example.org/1", "Stargate Japan data centre")]
    assert "スターゲート計画" in page.all_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"now": datetime(2025, 2, 4, 8, 0)}, "aware"),
     ({"message_id_domain": "bad domain>"}, "domain"),
     ({"recipients": []}, "recipient"),
     ({"recipients": ["a@example.org\r\nBcc: b@example.org"]}, "control character")],
    ids=["naive-now", "bad-domain", "no-recipients", "crlf-in-address"],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"sender": "monitor@example.org", "recipients": ["a@example.org"],
                               "list_id": LIST_ID, "now": NOW, "message_id_domain": "example.org"} | kwargs
    with pytest.raises(ValueError, match=message):
        compose_digest(TWO_TOPICS, **args)  # type: ignore[arg-type]


def test_date_header_keeps_the_instant_of_now() -> None:
    utc_now = NOW.astimezone(UTC)
    msg = compose_digest(TWO_TOPICS, sender="m@example.org", recipients=["a@example.org"], list_id=LIST_ID,
                         now=utc_now, message_id_domain="example.org")
    assert parsedate_to_datetime(wire(msg)["Date"]) == NOW


def test_times_carry_their_zone_on_the_day_clocks_go_back() -> None:
    """New York, 2 November 2025: 01:25 EDT comes before 01:10 EST. Without the zone the digest
    would list them out of order; on other days (every offset alike) times stay bare."""
    ny = ZoneInfo("America/New_York")
    window = window_for(date(2025, 11, 2), time(8, 0), ny)
    first = datetime(2025, 11, 2, 5, 25, tzinfo=UTC).astimezone(ny)  # 01:25 EDT
    second = datetime(2025, 11, 2, 6, 10, tzinfo=UTC).astimezone(ny)  # 01:10 EST
    items = (item("Second report", "https://example.org/2", published=second),
             item("First report", "https://example.org/1", published=first))
    d = Digest(window, (Section("stargate", "Stargate", items),), (), 2)
    plain, html = parts(wire(compose(d)))
    for text in (plain, Page(html).all_text()):
        assert "2025-11-02 01:10 EST" in text and "2025-11-02 01:25 EDT" in text
    alert_plain, alert_html = parts(wire(alert("Stargate", items)))
    for text in (alert_plain, Page(alert_html).all_text()):
        assert "2025-11-02 01:10 EST" in text and "2025-11-02 01:25 EDT" in text
    plain, _ = parts(wire(compose(TWO_TOPICS)))
    assert plain.count("JST") == 2 and "Window: 2025-02-03 08:00 JST to 2025-02-04 08:00 JST." in plain
    # a source failing since before the change (for months, maybe) dates its trouble with its
    # zone, and does not put zones on every entry (a review's doubt)
    later = window_for(date(2025, 12, 1), time(8, 0), ny)
    failing = Failure("kantei-en", "HTTP 503", datetime(2025, 10, 20, 9, 0, tzinfo=ny))
    d = Digest(later, (Section("stargate", "Stargate", (item("Later", published=later.start),)),), (failing,), 1)
    plain = render(d)
    assert "(since 2025-10-20 09:00 EDT)" in plain and "Later](https://example.com/a) — japan-times, 2025-11-30 08:00\n" in plain
    assert "(since 2025-10-20 09:00 EDT)" in render_digest(d) and "Later — japan-times, 2025-11-30 08:00\n" in render_digest(d)



def test_templates_are_read_once_so_an_upgrade_under_a_service_cannot_mix_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ops test's find: code upgraded under a running service had the old process read the
    new templates at its first alert; they asked for a field its objects lacked, and every
    alert failed until a restart. Templates are read at the start (load_templates) and never
    again, even when the files change under it."""
    import os
    import shutil

    from monitor.render import email

    copy = tmp_path / "templates"
    shutil.copytree(email.TEMPLATES, copy)
    monkeypatch.setattr(email, "TEMPLATES", copy)
    email._environment.cache_clear()
    try:
        email.load_templates()
        for name in ("alert.html.j2", "_entries.html.j2"):  # what a newer version might ship
            (copy / name).write_text("{{ e.field_this_version_lacks }}", encoding="utf-8")
            os.utime(copy / name, (2_000_000_000, 2_000_000_000))
        _, html = parts(wire(alert("Stargate", [item("Stargate Japan data centre")])))
        assert "Stargate Japan data centre" in Page(html).all_text()
    finally:
        email._environment.cache_clear()
