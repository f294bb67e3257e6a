"""An article page -> its main text, description, published time and title (issue 4, "Article text").

Feeds often give only a title or a line of summary; topics match far better against the article
itself. This module reads one page that has already been fetched:

1. Decode with ``charset.decode_html`` (HTTP header, then ``<meta charset>``, then detection).
2. Read the metadata before anything is removed: ``og:description``/``description``; the published
   time from ``article:published_time`` and its kin, JSON-LD ``datePublished``,
   ``itemprop=datePublished`` or ``<time datetime>`` (zone-less values are in ``tz``); the title.
3. Drop what is never article text: scripts, styles, nav, header, footer, aside, forms, figures and
   captions, ruby readings, and elements whose class or id names boilerplate (share bars, related
   links, comments, menus...) unless they hold over half of the page's text (a wrapper named
   ``has-sidebar`` is layout, not noise).
4. Score blocks: each ``<p>`` gives its length minus its link text to its parent and half to its
   grandparent; text broken by ``<br>`` scores for the element holding it. Blocks are scaled down by
   their own link density. The best block inside ``itemprop=articleBody``, else inside
   ``<article>``/``<main>``/``role=main``, wins if it is at least half as good as the best anywhere;
   siblings that also score well join it (bodies split around an advert).
5. Emit text: each block element or ``<br>`` ends a paragraph; paragraphs mostly of link text are
   dropped; whitespace collapsed; paragraphs joined by blank lines and capped at ``limit``.
6. Pages whose HTML holds no body text (Next.js and other script-rendered pages) fall back to
   JSON-LD ``articleBody``, then to the JSON in ``<script type="application/json">``
   (``__NEXT_DATA__``): the array of strings with the most prose in it. No per-site rules.

No per-site rules were needed for the pages measured (tests/data/articles/); ``url`` only names
the page in errors. Not responsible for fetching, robots.txt, or deciding whether the feed's
summary was enough. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.core.dates import find_date, parse_date
from monitor.errors import ParseError
from monitor.ingest.charset import decode_html
from monitor.ingest.html_tree import parse_html
from monitor.ingest.markup import cap, collapse, html_to_text

LIMIT = 50_000
MIN_TEXT = 200  # below this many characters the HTML "has no body text": try the page's JSON


@dataclass(frozen=True, slots=True)
class Article:
    """What a page says beyond its feed entry; ``text`` is "" when no body text was found."""

    text: str
    description: str | None
    published: datetime | None
    title: str | None


_DROP = (
    "script, style, noscript, template, iframe, object, embed, svg, canvas, video, audio, map, "
    "nav, header, footer, aside, form, button, select, textarea, label, dialog, menu, "
    "figure, figcaption, picture, rt, rp, h1, address, [hidden], [aria-hidden=true], "
    "[role=navigation], [role=banner], [role=contentinfo], [role=complementary], [role=dialog]"
)
# Class or id values that name boilerplate: fragments found anywhere ("RelatedCoverage",
# "c-share__x"), and short words that must stand alone between separators ("p-article__ad", not
# "head"; "nav", not "canvas"). Matched in Python on lower-cased values: a CSS selector per word
# cost several milliseconds a page in lexbor.
_NOISE = re.compile(
    "share|social|related|recommend|comment(?!ary)|breadcrumb|newsletter|subscri|promo|sponsor|advert"
    "|banner|popular|ranking|sidebar|pagination|byline|caption|credit|toolbar|cookie|outbrain|taboola"
    "|disqus|regist|login|modal|popup|footer|header|masthead|navi|visually-hidden|screen-reader"
    "|courtesy|publish|count"
    "|(?<![a-z0-9])(?:ad|ads|nav|tags?|rss|print|tools?|sns|source|sr-only|pr)(?![a-z0-9])"
)
_LINK = 'a[href]:not([href^="javascript:" i]):not([href^="#"])'
_PREFERRED = ("[itemprop=articleBody]", "article, main, [role=main]")
_BLOCKS = ("p, div, section, article, main, li, ul, ol, dl, dt, dd, h2, h3, h4, h5, h6, blockquote, pre, "
           "table, tr, td, th, caption, br, hr, center")
_LABEL = 30
_SENTENCE_END = tuple(".!?。！？")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_BREAK, _LINK_ON, _LINK_OFF = "\x00", "\x01", "\x02"
_MARKS = re.compile("([\x00\x01\x02])")
# Meta names that state the publication time outright, and vaguer ones (often a bare day, or the
# time the page was built) used only when nothing better is on the page.
_PUBLISHED_META = ("article:published_time", "og:article:published_time", "datepublished", "dc.date.issued",
                   "dcterms.issued", "parsely-pub-date")
_DATE_META = ("pubdate", "publishdate", "publish-date", "sailthru.date", "dcterms.created", "dc.date", "date")
_TITLE_SEPARATORS = "|-–—:：｜/"
_JSON_BREAKS = re.compile(r"</(?:p|h[1-6]|li|div|blockquote)\s*>|<br\s*/?>", re.IGNORECASE)
_BASIC_ISO = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{2}:?\d{2})?")


def extract_article(body: bytes, *, url: str, content_type: str | None, tz: tzinfo,
                    limit: int = LIMIT) -> Article:
    """Read one article page; ParseError only for an empty body (a page without text gives text "")."""
    if not body or not body.strip():
        raise ParseError(f"{url}: empty response")
    tree = parse_html(decode_html(body, content_type))
    meta = _meta(tree)
    ld = _json_ld(tree)
    published = _published(tree, meta, ld, tz)
    title = _title(tree, meta, ld)
    description = meta.get("og:description") or meta.get("description") or meta.get("twitter:description")
    app_json = [node.text() for node in tree.css('script[type="application/json"]')]

    root = tree.body
    text = _main_text(root) if root is not None else ""
    if len(text) < MIN_TEXT:
        fallback = _ld_body(ld) or _json_text(app_json)
        if len(fallback) > len(text):
            text = fallback
    return Article(text=cap(text, limit), description=_clean(description) or None,
                   published=published, title=title)


def _main_text(root: LexborNode) -> str:
    for node in root.css(_DROP):
        node.decompose(recursive=False)  # unlinks only; nested matches stay safe to touch
    _drop_noise(root)
    blocks = _article_blocks(root)
    return "\n\n".join(_paragraphs(blocks))


def _drop_noise(root: LexborNode) -> None:
    """Remove boilerplate-named elements, except wrappers holding over half the page's text.

    Only the wrapper is spared: the noisy elements inside it (each comment of a long comment
    thread) are still removed one by one.
    """
    total = -1  # the text left after _DROP, measured when first needed
    verdicts: dict[str, bool] = {}  # pages repeat the same class values many times
    for node in root.css("[class], [id]"):
        attrs = node.attributes
        value = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
        noisy = verdicts.get(value)
        if noisy is None:
            noisy = verdicts[value] = _NOISE.search(value) is not None
        if not noisy or node.mem_id == root.mem_id:
            continue
        if total < 0:
            total = len(root.text())
        if len(node.text()) * 2 > total:
            continue
        node.decompose(recursive=False)


def _article_blocks(root: LexborNode) -> list[LexborNode]:
    """The best-scoring block and its siblings that score well too, in document order."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}

    def credit(node: LexborNode | None, weight: float) -> None:
        if node is None or weight <= 0:
            return
        key = node.mem_id
        nodes[key] = node
        scores[key] = scores.get(key, 0.0) + weight

    for p in root.css("p"):
        weight = len(collapse(p.text())) - _link_chars(p)
        parent = p.parent
        credit(parent, weight)
        credit(parent.parent if parent is not None else None, weight / 2)
    for br in root.css("br"):
        holder = br.parent
        if holder is not None and holder.tag != "p" and holder.mem_id not in nodes:
            weight = len(collapse(holder.text(deep=False)))
            credit(holder, weight)
            credit(holder.parent, weight / 2)
    if not scores:
        return [root]
    top = max(scores.values())
    final = {key: score * (1 - _link_density(nodes[key])) for key, score in scores.items() if score >= top / 3}
    best = max(final, key=final.__getitem__)
    for selector in _PREFERRED:
        containers = {node.mem_id for node in root.css(selector)}
        inside = [key for key in final if _within(nodes[key], containers)]
        if inside:
            candidate = max(inside, key=final.__getitem__)
            if final[candidate] * 2 >= final[best]:
                best = candidate
            break
    chosen = nodes[best]
    parent = chosen.parent
    if parent is None:
        return [chosen]
    floor = final[best] / 5
    return [child for child in parent.iter()
            if child.mem_id == best or final.get(child.mem_id, 0.0) >= floor
            or (child.tag == "p" and len(child.text()) - _link_chars(child) >= 80)]


def _within(node: LexborNode, containers: set[int]) -> bool:
    current: LexborNode | None = node
    while current is not None:
        if current.mem_id in containers:
            return True
        current = current.parent
    return False


def _link_chars(node: LexborNode) -> int:
    return sum(len(collapse(a.text())) for a in node.css(_LINK))


def _link_density(node: LexborNode) -> float:
    size = len(collapse(node.text()))
    return min(1.0, _link_chars(node) / size) if size else 1.0


def _paragraphs(blocks: list[LexborNode]) -> list[str]:
    """Text of ``blocks`` split at block boundaries; paragraphs mostly of link text dropped.

    A short label just before a dropped run of links ("Related Coverage", "［関連記事］", "添付資料")
    goes with them: it titled the links, not the article.
    """
    for block in blocks:
        for node in block.css(_BLOCKS):
            node.insert_before(_BREAK)
            node.insert_after(_BREAK)
        for link in block.css(_LINK):
            link.insert_before(_LINK_ON)
            link.insert_after(_LINK_OFF)
    out: list[str] = []
    parts: list[str] = []
    linked = depth = 0
    label = False  # the last paragraph kept is a short label with nothing kept after it
    text = _BREAK.join(block.text() for block in blocks).translate(_INVISIBLE)
    for piece in _MARKS.split(text + _BREAK):
        if piece == _LINK_ON:
            depth += 1
        elif piece == _LINK_OFF:
            depth = max(0, depth - 1)
        elif piece == _BREAK:
            paragraph = collapse("".join(parts))
            if not paragraph or not any(ch.isalnum() for ch in paragraph):
                pass
            elif linked * 2 <= len(paragraph):
                out.append(paragraph)
                label = len(paragraph) <= _LABEL and paragraph[-1] not in _SENTENCE_END
            elif label:
                out.pop()
                label = False
            parts, linked = [], 0
        else:
            parts.append(piece)
            if depth:
                linked += len(collapse(piece))
    return out


def _clean(text: object) -> str:
    """Whitespace collapsed and zero-width characters (a CMS's word-break hints) removed."""
    return collapse(text.translate(_INVISIBLE)) if isinstance(text, str) else ""


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    """``<meta>`` name/property/itemprop (lower-cased) -> content; the first of each name wins."""
    found: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        attrs = node.attributes
        content = (attrs.get("content") or "").strip()
        for attr in ("property", "name", "itemprop"):
            key = attrs.get(attr)
            if key and content:
                found.setdefault(key.strip().lower(), content)
    return found


def _json_ld(tree: LexborHTMLParser) -> list[dict[str, object]]:
    """Every object in the page's JSON-LD blocks (``@graph`` and lists flattened); bad JSON is skipped."""
    objects: list[dict[str, object]] = []
    for node in tree.css('script[type="application/ld+json"]'):
        # Some sites wrap the JSON in "//<![CDATA[ ... //]]>": read from the first bracket to its mate.
        raw = node.text().replace("<![CDATA[", "").replace("]]>", "")
        start = min((i for i in (raw.find("{"), raw.find("[")) if i >= 0), default=-1)
        end = raw.rfind("}" if raw[start:start + 1] == "{" else "]")
        try:
            data = json.loads(raw[start:end + 1]) if 0 <= start < end else None
        except (ValueError, RecursionError):  # RecursionError: hostile nesting ("[[[[...")
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                objects.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(reversed(item["@graph"]))
    return objects


def _published(tree: LexborHTMLParser, meta: dict[str, str], ld: list[dict[str, object]],
               tz: tzinfo) -> datetime | None:
    candidates: list[object] = [meta.get(name) for name in _PUBLISHED_META]
    candidates += [obj.get("datePublished") for obj in ld]
    for node in tree.css("[itemprop=datePublished], time[pubdate], article time[datetime], "
                         "main time[datetime], time[datetime]"):
        attrs = node.attributes
        candidates.append(attrs.get("content") or attrs.get("datetime") or node.text())
    candidates += [obj.get("dateCreated") for obj in ld] + [meta.get(name) for name in _DATE_META]
    for value in candidates:
        found = _date(value, tz) if isinstance(value, str) else None
        if found is not None:
            return found
    return None


def _date(value: str, tz: tzinfo) -> datetime | None:
    text = value.strip()
    basic = _BASIC_ISO.fullmatch(text)  # 20180619T055000+0900 (ISO 8601 basic format)
    if basic:
        y, mo, d, h, mi, s, zone = basic.groups()
        text = f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}{zone or ''}"
    return parse_date(text, tz) or find_date(text, tz)


def _title(tree: LexborHTMLParser, meta: dict[str, str], ld: list[dict[str, object]]) -> str | None:
    """og:title, JSON-LD headline, <title>, the first <h1>; "Headline | Site" loses the site's name."""
    site = _clean(meta.get("og:site_name"))
    headlines = [obj.get("headline") for obj in ld if isinstance(obj.get("headline"), str)]
    for found in (meta.get("og:title"), meta.get("twitter:title"), *headlines, _first_text(tree, "title"),
                  _first_text(tree, "h1")):
        title = _clean(found)
        if title:
            head = title[: -len(site)].rstrip() if site and title.endswith(site) else ""
            return head[:-1].rstrip() if len(head) > 1 and head[-1] in _TITLE_SEPARATORS else title
    return None


def _first_text(tree: LexborHTMLParser, selector: str) -> str | None:
    node = tree.css_first(selector)
    return node.text() if node is not None else None


def _ld_body(ld: list[dict[str, object]]) -> str:
    for obj in ld:
        body = obj.get("articleBody")
        if isinstance(body, str) and body.strip():
            return "\n\n".join(p for p in (collapse(line) for line in body.splitlines()) if p)
    return ""


def _json_text(scripts: list[str]) -> str:
    """The prose of script-rendered pages: the array field whose strings hold the most prose.

    Strings are grouped by their path with array indexes wildcarded (``body_items[*].content``), so
    a body stored one paragraph per array item is found whole, in order. Markup inside is stripped.
    A group scores the prose length of its distinct strings.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for raw in scripts:
        try:
            stack: list[tuple[object, tuple[str, ...]]] = [(json.loads(raw), ())]
        except (ValueError, RecursionError):
            continue
        while stack:
            item, path = stack.pop()
            if isinstance(item, dict):
                stack.extend((value, (*path, str(key))) for key, value in reversed(item.items()))
            elif isinstance(item, list):
                stack.extend((value, (*path, "*")) for value in reversed(item))
            elif isinstance(item, str) and item.strip():
                groups.setdefault(path, []).append(item)
    best, best_score = None, 0
    for path, strings in groups.items():
        # Distinct strings only: photo captions repeated by two slideshows are not a body.
        score = sum(len(s) for s in set(strings) if _is_prose(s))
        if score > best_score:
            best, best_score = path, score
    if best is None:
        return ""
    seen: dict[str, None] = {}  # an ordered set: the same paragraph twice is kept once
    for s in groups[best]:
        if _is_prose(s):
            for line in _JSON_BREAKS.sub("\n", s).splitlines():
                if line := html_to_text(line):
                    seen.setdefault(line)
    return "\n\n".join(seen)


def _is_prose(s: str) -> bool:
    """Words, not code, URLs or identifiers: mostly letters and spaces, with a space or CJK in it."""
    sample = (html_to_text(s[:2000]) if "<" in s else s.strip())[:400]
    if not sample or sample.startswith(("http://", "https://", "/", "{", "[")):
        return False
    wordy = sum(1 for ch in sample if ch.isalpha() or ch.isspace())
    return wordy >= 0.8 * len(sample) and (" " in sample or any(ord(ch) >= 0x3000 for ch in sample))
