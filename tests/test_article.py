"""Article extraction measured against hand-checked expected text (issue 4, "Article text").

Each ``tests/data/articles/<name>.txt`` is one page: ``# key: value`` header lines, a blank line,
then the expected paragraphs separated by blank lines. Keys:

- ``source``: ``real/<path>`` in the shared corpus (MANIFEST.md says where it came from), or an
  ``.html`` file beside the ``.txt`` (written for these tests; the folder's README.md says how),
  followed by a note on what is special about the page;
- ``content-type``: the HTTP header to pass (default: none, so the page's own evidence decides);
- ``published``: ISO 8601, or ``none``; ``title``: the expected title;
- ``noise`` (repeatable): a string that must not appear in the text (navigation, related links,
  comments, footers);
- ``partial: yes``: the expected text is the page's opening (long pages), so precision is measured
  only over the extracted text up to the end of the last expected paragraph.

Every expected paragraph must appear in the extracted text and no noise may. Token precision and
recall (Latin words, and single Japanese characters) are computed per page; precision must reach
``MIN_PRECISION`` on every page and ``MEAN_PRECISION`` on average; what is left is mostly
captions, date lines and contact boxes that belong to the page but not to the article.
``python bench/articles.py`` prints the table.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ParseError
from monitor.ingest.article import LIMIT, Article, extract_article
from monitor.ingest.markup import collapse
from tests.corpus import corpus_path

DATA = Path(__file__).parent / "data" / "articles"
TZ = ZoneInfo("Asia/Tokyo")
MIN_PRECISION = 0.75
MEAN_PRECISION = 0.95
_TOKEN = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+|\S")


@dataclass(frozen=True)
class Case:
    """One page and what a reader finds in it."""

    name: str
    source: str
    content_type: str | None
    paragraphs: list[str]
    noise: list[str]
    published: datetime | None
    title: str | None
    partial: bool

    def body(self) -> bytes:
        path = corpus_path(self.source) if self.source.startswith("real/") else DATA / self.source
        return path.read_bytes()

    def extract(self, limit: int = LIMIT) -> Article:
        return extract_article(self.body(), url=f"https://example.test/{self.name}",
                               content_type=self.content_type, tz=TZ, limit=limit)


def load_cases() -> list[Case]:
    """Every expected-text file in tests/data/articles, sorted by name."""
    cases = []
    for path in sorted(DATA.glob("*.txt")):
        head, _, rest = path.read_text(encoding="utf-8").partition("\n\n")
        fields: dict[str, list[str]] = {}
        for line in head.splitlines():
            key, _, value = line.removeprefix("# ").partition(": ")
            fields.setdefault(key, []).append(value.strip())
        published = fields.get("published", ["none"])[0]
        cases.append(Case(
            name=path.stem,
            source=fields["source"][0].split(" (")[0],
            content_type=fields.get("content-type", [None])[0],
            paragraphs=[collapse(p) for p in rest.split("\n\n") if p.strip()],
            noise=fields.get("noise", []),
            published=None if published == "none" else datetime.fromisoformat(published),
            title=fields.get("title", [None])[0],
            partial=fields.get("partial", ["no"])[0] == "yes",
        ))
    return cases


def tokens(text: str) -> Counter[str]:
    """Latin words and numbers lower-cased, every other letter or digit alone (Japanese has no spaces)."""
    return Counter(t.lower() for t in _TOKEN.findall(text) if len(t) > 1 or t.isalnum())


def score(case: Case, text: str) -> tuple[float, float]:
    """(recall, precision) of the extracted tokens against the expected ones."""
    if case.partial:
        last = case.paragraphs[-1]
        end = text.find(last)
        text = text[: end + len(last)] if end >= 0 else text
    expected, got = tokens("\n".join(case.paragraphs)), tokens(text)
    overlap = sum((expected & got).values())
    return overlap / max(1, sum(expected.values())), overlap / max(1, sum(got.values()))


CASES = load_cases()


def test_at_least_twenty_pages() -> None:
    assert len(CASES) >= 20
    assert sum(case.source.startswith("real/") for case in CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_expected_text(case: Case) -> None:
    text = case.extract().text
    missing = [p for p in case.paragraphs if p not in text]
    assert not missing, f"missing paragraphs: {missing[:3]}"
    found = [noise for noise in case.noise if noise in text]
    assert not found, f"noise in the text: {found}"
    recall, precision = score(case, text)
    assert recall == pytest.approx(1.0)
    assert precision >= MIN_PRECISION


def test_mean_precision() -> None:
    precisions = [score(case, case.extract().text)[1] for case in CASES]
    assert sum(precisions) / len(precisions) >= MEAN_PRECISION


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_metadata(case: Case) -> None:
    article = case.extract()
    assert article.published == case.published
    assert article.published is None or article.published.tzinfo is not None
    assert article.title == collapse(case.title or "")


def test_description_from_og() -> None:
    case = next(c for c in CASES if c.name == "en-wordpress-comments")
    assert case.extract().description == ("SB OAI Japan began taking orders for Crystal intelligence from large "
                                          "Japanese companies on Monday, months after the joint venture was "
                                          "first announced.")


def test_next_data_fallback_on_a_real_page() -> None:
    """The Reuters page with its <article> emptied: the body comes from __NEXT_DATA__, not the ad script."""
    case = next(c for c in CASES if c.name == "reuters-parasite")
    body = re.sub(rb"(<article\b[^>]*>).*?(</article>)", rb"\1\2", case.body(), count=1, flags=re.DOTALL)
    text = extract_article(body, url="https://www.reuters.com/x", content_type=None, tz=TZ).text
    assert all(p in text for p in case.paragraphs)
    assert "function" not in text and "https://" not in text
    assert text.count("Waller-Bridge accepted") == 1


def test_json_fallback_ignores_code_and_addresses() -> None:
    data = {"props": {"script": "!function(e){var t=e.x||{};t.cmd=[];e.x=t}(window);" * 20,
                      "links": ["https://example.test/a/very/long/address/that/is/not/prose"] * 5}}
    page = f'<html><body><div id="__next"></div><script id="__NEXT_DATA__" type="application/json">' \
           f'{json.dumps(data)}</script></body></html>'
    assert extract_article(page.encode(), url="https://x.test/", content_type=None, tz=TZ).text == ""


def test_text_is_capped_at_limit() -> None:
    case = next(c for c in CASES if c.name == "businessinsider-larry-page")
    text = case.extract(limit=2000).text
    assert len(text) <= 2000 and text.endswith("…")
    assert text.startswith(case.paragraphs[0])


def test_http_header_charset_beats_meta() -> None:
    page = '<html><head><meta charset="Shift_JIS"></head><body><p>人工知能の基本計画を閣議決定した。' \
           '政府は年内に実行計画をまとめる方針だ。</p></body></html>'
    body = page.encode("euc_jp")
    text = extract_article(body, url="https://x.test/", content_type="text/html; charset=EUC-JP", tz=TZ).text
    assert text == "人工知能の基本計画を閣議決定した。政府は年内に実行計画をまとめる方針だ。"


def test_noisy_named_wrapper_keeps_the_text_it_holds() -> None:
    """Layout classes that look like boilerplate ("popup-open", "has-sidebar") on the body and on the
    wrapper of a <br>-only entry must not take the entry with them; the comment inside still goes."""
    sentence = "The cabinet approved the AI basic plan on Tuesday after a month of public comment. "
    page = (f'<html><body class="popup-open"><div class="wrap has-sidebar">{sentence * 4}<br><br>'
            f'{sentence * 3}<div class="comment-item">Great post, thanks for writing it up so quickly.</div>'
            f'</div></body></html>')
    text = extract_article(page.encode(), url="https://x.test/", content_type=None, tz=TZ).text
    assert text == f"{collapse(sentence * 4)}\n\n{collapse(sentence * 3)}"


def test_page_without_text_gives_empty_text() -> None:
    page = b'<html><head><title>Menu</title></head><body><nav><a href="/a">A</a> <a href="/b">B</a></nav></body></html>'
    article = extract_article(page, url="https://x.test/", content_type=None, tz=TZ)
    assert article.text == "" and article.title == "Menu" and article.published is None


def test_empty_body_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="empty"):
        extract_article(b"  \n", url="https://x.test/", content_type=None, tz=TZ)
