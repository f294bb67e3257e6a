"""Feed bytes (RSS 0.9x/1.0/2.0, Atom, RDF) -> entry drafts, through feedparser.

feedparser does the XML, the encodings (given the HTTP Content-Type) and xml:base; this module
turns its entries into ``EntryDraft``s: plain-text titles and summaries, absolute links, our
own date reading (a zone-less date is local time in the source's zone, which feedparser would
read as UTC), and the rule that an item with neither an http(s) link nor an id is skipped.

feedparser is called on a byte stream, never on a str or bytes: a str that looks like a URL
makes it fetch over HTTP and bytes that name a file make it open the file. HTML sanitising and
relative-URI rewriting inside content are off: we keep only text, and they are half its cost.

Not responsible for fetching, for canonical URLs or for deciding what is new.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import partial
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.core.dates import parse_date
from monitor.core.entry import EntryDraft, ParseResult
from monitor.core.urls import is_http_url
from monitor.errors import ParseError
from monitor.ingest.charset import decode_html, feed_as_utf8
from monitor.ingest.entities import check_entities, valid_char_refs
from monitor.ingest.html_tree import parse_html
from monitor.ingest.listing import page_base
from monitor.ingest.markup import cap, collapse, html_to_text

TITLE_LIMIT = 1000
SUMMARY_LIMIT = 5000
MAX_ITEMS = 50_000  # real feeds hold tens to a few thousand; feedparser needs ~2.7 KB of memory per item
_ITEM_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
PUBLISHER_LIMIT = 200  # an outlet's name (a hostile <source> of 4.8 MB was one line of the digest)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
# Not a broken feed: a server that labels a feed text/html or text/plain, or sends no type.
_BENIGN = (feedparser.NonXMLContentType,)
_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_LOOKS_HTML = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL
)


def parse_feed(body: bytes, *, url: str, content_type: str | None, tz: tzinfo) -> ParseResult:
    """Read a feed document; ParseError when it is empty or not a feed (naming an advertised one)."""
    if not body or not body.strip():
        raise ParseError("empty response")
    check_entities(body)  # before feedparser: entity bombs and external entities never reach a parser
    # feedparser holds every item at once: 240,000 took 650 MB. An item is at least 7 bytes
    # (<item/>), so only a body that could hold more is counted (not every poll's feed).
    items = len(_ITEM_TAG.findall(body)) if len(body) > 7 * MAX_ITEMS else 0
    if items > MAX_ITEMS:
        raise ParseError(f"refused: the feed holds {items:,} items, more than the {MAX_ITEMS:,} "
                         "monitor reads from one document")
    body = valid_char_refs(body)  # one &#xD800; would fail the whole document in feedparser
    repaired = feed_as_utf8(body, content_type)
    if repaired is not None:
        body, content_type, encoding_note = repaired
    # No content-location: feedparser would then resolve every URI it meets against it,
    # costing ~100 us an item; `_link` makes the one URI we keep absolute instead.
    headers = {"content-type": content_type} if content_type else {}
    try:
        parsed = feedparser.parse(
            io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser promises not to raise; map it if it ever does
        raise ParseError(f"not a feed: feedparser failed ({type(exc).__name__}: {exc})") from exc
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        raise ParseError(_not_a_feed(body, url, content_type, parsed.get("bozo_exception")))

    drafts: list[EntryDraft] = []
    skipped = 0
    for entry in entries:
        draft = _draft(entry, url, tz)
        if draft is None:
            skipped += 1
        else:
            drafts.append(draft)
    warnings = [encoding_note] if repaired is not None and encoding_note else []
    problem_exc = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(problem_exc, _BENIGN):
        problem = _describe(problem_exc)
        warnings.append(f"feed is not well-formed ({problem}); read {len(entries)} {'entry' if len(entries) == 1 else 'entries'} anyway")
    title = _text(parsed.get("feed", {}).get("title_detail"), parsed.get("feed", {}).get("title"), TITLE_LIMIT)
    return ParseResult(drafts=drafts, skipped=skipped, title=title or None, warnings=warnings)


def _draft(entry: Any, base: str, tz: tzinfo) -> EntryDraft | None:
    # FeedParserDict.get maps legacy key names and warns when asked for "updated"; its keys
    # are stored under the modern names already, so plain dict.get is exact and 5x cheaper.
    get = partial(dict.get, entry) if isinstance(entry, dict) else entry.get
    raw_link, guid = get("link"), get("id")
    if get("guidislink") and isinstance(raw_link, str) and raw_link == guid and not _permalink(raw_link):
        # feedparser made the link of a link-less item from its <guid> (isPermaLink defaults to
        # true); an id like item_1 is no URL, and resolved against the feed it would name a page
        # that is not there, the same one for every feed on that host.
        raw_link = None
    link = _link(raw_link, base)
    guid = guid.strip() if isinstance(guid, str) and guid.strip() else None
    if guid and guid.startswith("/"):  # a relative permalink (mod.go.jp): as absolute as the link
        guid = _link(guid, base)
    if guid is None and not is_http_url(link):
        return None
    summary = _text(get("summary_detail"), get("summary"), SUMMARY_LIMIT)
    content = get("content")
    if not summary and content and isinstance(content, list):
        summary = _text(content[0], dict.get(content[0], "value"), SUMMARY_LIMIT)
    source = get("source")
    publisher = collapse(dict.get(source, "title") or "")[:PUBLISHER_LIMIT] or None if isinstance(source, dict) else None
    return EntryDraft(
        title=_text(get("title_detail"), get("title"), TITLE_LIMIT),
        link=link,
        guid=guid,
        summary=summary,
        published=_published(get, tz),
        publisher=publisher,
    )


def _permalink(guid: str) -> bool:
    """A guid that can be a link: an http(s) URL or a path (/news/3.html, news/3.html)."""
    guid = guid.strip()
    return is_http_url(guid) or "/" in guid


def _link(raw: Any, base: str) -> str | None:
    """Stripped and absolute (feedparser resolves xml:base; this catches what it left relative)."""
    if not isinstance(raw, str):
        return None
    # Prettified feeds wrap the URL in newlines and indentation; browsers drop tabs and
    # newlines anywhere in a URL (WHATWG URL standard), so do we.
    link = raw.strip().replace("\n", "").replace("\r", "").replace("\t", "")
    if not link:
        return None
    if not _HAS_SCHEME.match(link):
        try:
            link = urljoin(base, link)
        except ValueError:
            return None
    return link


def _text(detail: Any, value: Any, limit: int) -> str:
    """Plain text of a feedparser text construct: HTML stripped only when it is HTML."""
    if not isinstance(value, str) or not value:
        return ""
    kind = dict.get(detail, "type") or "" if isinstance(detail, dict) else ""
    if "html" in kind:
        return html_to_text(value, limit)
    return cap(collapse(value), limit)


def _published(get: Callable[[str], Any], tz: tzinfo) -> datetime | None:
    """Our reading of the raw date (zone-less = local). Not feedparser's ``*_parsed``: it normalises
    nonsense (month 13, day 45) into a real date, and it read no corpus date that ours cannot."""
    for key in ("published", "updated", "created"):
        found = parse_date(get(key), tz)
        if found is not None:
            return found
    return None


def _not_a_feed(body: bytes, url: str, content_type: str | None, problem: Any) -> str:
    if _LOOKS_HTML.match(body[:2048]) or "html" in (content_type or "").lower():
        advertised = advertised_feed(body, url=url, content_type=content_type)
        if advertised and advertised.startswith(("http://", "https://")):  # not javascript: or data:
            return (f"not a feed: {url} is an HTML page that advertises the feed {advertised}; "
                    f"use that address as the source url")
        return (f"not a feed: {url} is an HTML page with no feed link; "
                f"use type: html with an item selector, or find the site's RSS/Atom address")
    if problem is None or isinstance(problem, _BENIGN):
        return "not a feed: no RSS, Atom or RDF root element; check the source url"
    return f"not a feed: {_describe(problem)}; check the source url"


def advertised_feed(body: bytes, *, url: str, content_type: str | None) -> str | None:
    """The absolute address of the first ``<link rel="alternate" type="application/rss+xml|...">``."""
    tree = parse_html(decode_html(body, content_type))
    base = page_base(tree, url)
    for node in tree.css("link[rel][href]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        kind = (node.attributes.get("type") or "").lower().split(";")[0].strip()
        href = (node.attributes.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            try:
                return urljoin(base, href)
            except ValueError:
                continue
    return None


def _describe(exc: Any) -> str:
    text = collapse(str(exc)) if exc is not None else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
