"""An HTML listing page (a ministry's press-release index) -> entry drafts, by CSS selectors.

The source config names the selectors (``item``, and inside it ``title``, ``link``, ``date``);
this module applies them with selectolax/lexbor. Text is decoded by ``charset.decode_html``;
links are resolved against ``<base href>`` or the page URL; an item without an http(s) link is
skipped and counted.

Dates: the ``date`` selector's element (a ``<time>``'s ``datetime`` first), else, without a
selector, a ``<time datetime>`` in the item, else a date in the item's text outside its title.
Japanese listings often group items under a date heading (``<h3>令和8年8月28日</h3>`` then a
list; ``<dt>8月12日付</dt>``) and sometimes write the year only once (``<h2>令和8年8月分</h2>``),
so an item with no date of its own takes the nearest date written before it outside any item:
an element matching the ``date`` selector, or without one, a short text inside the block that
holds the items (not the page's "last updated" stamp). A month and day alone get the year last written before them on the page
(outside items and links; a fiscal year puts January to March in the next), else, given the
poll's time, its year or at most a quarter back (``dates.find_date``); a date still to come
is no publication date.

Not responsible for fetching, canonical URLs or deciding what is new.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.core.dates import find_date, find_year, names_a_date, parse_date
from monitor.core.entry import EntryDraft, ParseResult
from monitor.core.intake import FUTURE_SLACK
from monitor.core.urls import is_http_url
from monitor.errors import ParseError
from monitor.ingest.charset import read_html
from monitor.ingest.html_tree import parse_html
from monitor.ingest.markup import cap, collapse

TITLE_LIMIT = 1000
_SHORT = 40  # a date heading is short; a longer text is an item title or prose, not a heading
_DIGIT = re.compile(r"[0-9０-９元]")
# The page's own stamp (最終更新：2026年11月20日, 更新日, Last updated): when the page changed,
# not a heading of the items after it, which would all take that day.
_PAGE_STAMP = re.compile(r"最終更新|更新日|更新\s*[:：]|last\s*(?:updated?|modified)|updated\s*(?:on|:)", re.IGNORECASE)
_STAMP_SPAN = 80  # the label may be in an element beside the date (<dt>最終更新日</dt><dd>...</dd>)


def parse_listing(
    body: bytes, *, url: str, content_type: str | None, tz: tzinfo,
    item: str, title: str = "a", link: str = "a", date: str | None = None, now: datetime | None = None,
) -> ParseResult:
    """Read the items of a listing page; ParseError for an empty body or an invalid selector.
    `now`, the poll's time, places a month and day written without a year (see the module doc)."""
    if not body or not body.strip():
        raise ParseError("empty response")
    text, encoding_note = read_html(body, content_type)
    tree = parse_html(text)
    warnings = [encoding_note] if encoding_note else []
    items = _select(tree, item, "item")
    for selector, role in ((title, "title"), (link, "link"), (date, "date")):
        if selector is not None:
            _select(tree, selector, role)
    head = tree.css_first("title")
    page_title = collapse(head.text()) if head is not None else None
    if not items:
        return ParseResult(title=page_title or None, warnings=[*warnings, f"selector {item!r} matched nothing"])

    base = page_base(tree, url)
    before = now + FUTURE_SLACK if now is not None else None
    contexts = _context(tree, items, date, tz, before)
    drafts: list[EntryDraft] = []
    skipped = titled = 0
    for node, (ctx_date, ctx_year) in zip(items, contexts):
        # An item that is itself a link (`item: "a[href$='kai.html']"`) is its own title and link.
        link_node = node.css_first(link) or (node if node.tag == "a" else None)
        href = _href(link_node)
        absolute = _join(base, href) if href else None
        if absolute is None or not is_http_url(absolute):
            skipped += 1
            continue
        title_node = node.css_first(title)
        titled += title_node is not None
        title_node = title_node or (node if node.tag == "a" else None)
        text = collapse(title_node.text()) if title_node is not None else ""
        if not text and link_node is not None:
            text = collapse(link_node.text()) or collapse(link_node.attributes.get("title") or "")
        published = _item_date(node, date, text, tz, ctx_date, ctx_year, before)
        drafts.append(EntryDraft(title=cap(text or absolute, TITLE_LIMIT), link=absolute, published=published))
    return ParseResult(drafts=drafts, skipped=skipped, title=page_title or None,
                       warnings=warnings + _selector_warnings(len(items), len(drafts), titled, title, link))


def _selector_warnings(items: int, kept: int, titled: int, title: str, link: str) -> list[str]:
    """Selectors that matched items but nothing inside them: every item skipped for want of a
    link, or every title taken from the link because the title selector found nothing. Either
    way the poll looks healthy; the warning is what `monitor poll` and `monitor sources` show."""
    if not kept:
        return [(f"none of the {items} items matched by the item selector has an http(s) link "
                 f"(link selector {link!r}): every item was skipped")]
    if not titled and title != "a":
        return [f"title selector {title!r} matched nothing inside the items; their links' text is the title"]
    return []


def page_base(tree: LexborHTMLParser, url: str) -> str:
    """The URL relative links are resolved against: ``<base href>`` (itself relative to ``url``) or ``url``."""
    node = tree.css_first("base[href]")
    href = (node.attributes.get("href") or "").strip() if node is not None else ""
    return (_join(url, href) or url) if href else url


def selector_is_valid(selector: str) -> bool:
    """Whether selectolax accepts `selector` (the config checks selectors before any poll)."""
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except (SelectolaxError, ValueError, TypeError):
        return False
    return True


def _select(tree: LexborHTMLParser, selector: str, role: str) -> list[LexborNode]:
    try:
        return tree.css(selector)
    except SelectolaxError as exc:
        raise ParseError(f"invalid CSS selector for {role}: {selector!r} ({exc}); fix it in the source config") from exc


def _href(node: LexborNode | None) -> str | None:
    if node is None:
        return None
    href = node.attributes.get("href")
    if not href:  # the link selector named a wrapper (<h3>, <li>): take the first link inside it
        inner = node.css_first("a[href]")
        href = inner.attributes.get("href") if inner is not None else None
    href = (href or "").strip()
    return href if href and not href.startswith("#") else None


def _join(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href.replace("\n", "").replace("\r", "").replace("\t", ""))
    except ValueError:
        return None


def _item_date(
    node: LexborNode, selector: str | None, title: str, tz: tzinfo, ctx_date: datetime | None, ctx_year: int | None,
    before: datetime | None,
) -> datetime | None:
    if selector is not None:
        # Not inside the item: the selector names the heading of a date-grouped list (ctx_date).
        return (_date_of(node.css_first(selector), tz, ctx_year, before) or ctx_date
                or find_date(_beside_title(node, title), tz, year=ctx_year, before=before))
    found = _date_of(node.css_first("time[datetime]"), tz, ctx_year, before)
    rest = _beside_title(node, title)
    found = found or find_date(rest, tz, year=ctx_year, before=before) or ctx_date
    if found is None and not rest.strip():  # an item that is only its link: the title's date is all there is
        found = find_date(title, tz, year=ctx_year, before=before)
    return found


def _beside_title(node: LexborNode, title: str) -> str:
    """The item's text outside its title, where its date is looked for first: a title may mention
    a date ("人事異動（令和8年8月12日付）", "8月13日からの大雨") that is not when it was published."""
    text = collapse(node.text())
    return text.replace(title, " ", 1) if title else text


def _date_of(node: LexborNode | None, tz: tzinfo, year: int | None, before: datetime | None) -> datetime | None:
    if node is None:
        return None
    if node.tag == "time":
        found = parse_date(node.attributes.get("datetime"), tz)
        if found is not None:
            return found
    text = node.text()
    return parse_date(text, tz) or find_date(text, tz, year=year, before=before)


def _context(
    tree: LexborHTMLParser, items: list[LexborNode], selector: str | None, tz: tzinfo, before: datetime | None,
) -> list[tuple[datetime | None, int | None]]:
    """For each item, the date and the year last written before it outside any item (and outside
    a link: 2025年大阪・関西万博 in the navigation is no heading). Before any such year, without
    `before`, the first year written anywhere on the page; with it, none (find_date places the
    month and day by the poll's time: a year in an item's title, 令和7年度補正予算, says nothing
    of when the page's items were published)."""
    item_ids = {n.mem_id for n in items}
    markers = {n.mem_id for n in tree.css(selector)} if selector else set()
    block = _common_ancestor(items)
    # One pass in document order records what is written where; a second one reads it, so that
    # a year written only later on the page can still complete "8月19日付" headings before it.
    # An event is ("item", None, None), ("year" | "year-in-item", year, None) or ("date", None, where).
    events: list[tuple[str, int | None, LexborNode | str | None]] = []
    for node in tree.root.traverse() if tree.root is not None else ():
        mem_id = node.mem_id
        if mem_id in item_ids:
            events.append(("item", None, None))
            continue
        own = node.text(deep=False).strip() if node.is_element_node else ""
        is_marker = mem_id in markers
        if not is_marker and not (len(own) <= _SHORT and _DIGIT.search(own)):
            continue
        inside_item, inside_block, inside_link = _position(node, item_ids, block)
        heading = find_year(own)  # a Year: 令和7年度 is a fiscal year, its 1月-3月 in the next
        if heading is not None:
            events.append(("year-elsewhere" if inside_item or inside_link else "year", heading, None))
        if inside_item:
            continue
        if is_marker:
            events.append(("date", None, node))
        elif selector is None and inside_block and not _page_stamp(node, own):
            events.append(("date", None, own))
    ctx_year: int | None = (next((year for kind, year, _ in events if kind.startswith("year")), None)
                            if before is None else None)
    ctx_date: datetime | None = None
    out: list[tuple[datetime | None, int | None]] = []
    for kind, year, where in events:
        if kind == "item":
            out.append((ctx_date, ctx_year))
        elif kind == "year":
            ctx_year = year
        elif kind == "date":
            found = (_date_of(where, tz, ctx_year, before) if isinstance(where, LexborNode)
                     else find_date(where, tz, year=ctx_year, before=before))
            written = where.text() if isinstance(where, LexborNode) else where
            # a heading that writes a date no one can read (2月29日 in 2026) starts a group of
            # undated items, not more of the previous group
            ctx_date = found if found is not None or names_a_date(written) else ctx_date
    return out


def _page_stamp(node: LexborNode, own: str) -> bool:
    """Whether a short dated text is the page's "last updated" stamp, its label written in it,
    in a child (<span>最終更新日：</span>2026年11月20日) or just before it (<dt>最終更新日</dt><dd>)."""
    if _PAGE_STAMP.search(own):
        return True
    before = node.prev
    while before is not None and not before.is_element_node and not (before.text() or "").strip():
        before = before.prev  # the whitespace between elements
    return any(len(text) <= _STAMP_SPAN and _PAGE_STAMP.search(text)
               for text in (node.text(), before.text() if before is not None else ""))


def _position(node: LexborNode, item_ids: set[int], block: int | None) -> tuple[bool, bool, bool]:
    """Whether ``node`` is inside an item, inside the block holding the items, inside a link."""
    inside_block, inside_link = False, node.tag == "a"
    parent = node.parent
    while parent is not None:
        if parent.mem_id in item_ids:
            return True, True, inside_link
        if parent.mem_id == block:
            inside_block = True
        inside_link = inside_link or parent.tag == "a"
        parent = parent.parent
    return False, inside_block, inside_link


def _common_ancestor(items: list[LexborNode]) -> int | None:
    """The mem_id of the deepest element holding every item (at least the first item's parent)."""
    def chain(node: LexborNode) -> list[int]:
        ids = []
        parent = node.parent
        while parent is not None:
            ids.append(parent.mem_id)
            parent = parent.parent
        return ids[::-1]  # root first

    common = chain(items[0])
    for other in items[1:]:
        ids = chain(other)
        n = 0
        while n < min(len(common), len(ids)) and common[n] == ids[n]:
            n += 1
        common = common[:n]
    return common[-1] if common else None
