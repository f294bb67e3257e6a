"""HTML fragments (feed summaries and titles) -> one line of plain text.

Entries carry text, never markup: the digest escapes it and the matcher reads it. This runs
for every feed item, so it is a few regular expressions rather than an HTML parser (about a
third of the cost of building a lexbor tree per summary): tags are dropped, block-level tags
become a space so that ``<p>a</p><p>b</p>`` reads "a b" while ``<b>Ja</b>pan`` stays "Japan",
script/style bodies and comments go, entities are decoded. Not a sanitizer: nothing it returns
is ever rendered as HTML, so a tag it misreads costs a few words of text, not safety.
"""

from __future__ import annotations

import html
import re

# Tags that do not separate words; every other tag boundary reads as a space.
_INLINE = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins",
    "kbd", "mark", "nobr", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub",
    "sup", "time", "tt", "u", "var", "wbr",
})
# Every pattern here is linear on hostile input: a tag stops at the next "<" and an unclosed
# comment or <script> runs to the end of the text (as in browsers) instead of being rescanned
# from each "<" (which made "<!--" * 2000 take a third of a second).
# C0/C1 controls that str.split() does not already treat as whitespace.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_TAG = re.compile(r"<(?:/?([A-Za-z][A-Za-z0-9:-]*)(?:[\s/][^<>]*)?>|!--.*?(?:-->|\Z)|![^<>]*>|\?[^<>]*>)", re.DOTALL)
_HIDDEN = re.compile(
    r"<(script|style|noscript|template|iframe|object|svg|math)\b.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE
)
_HAS_HIDDEN = re.compile(r"<(?:script|style|noscript|template|iframe|object|svg|math)\b", re.IGNORECASE)


def collapse(text: str) -> str:
    """Runs of whitespace (newlines, tabs, ideographic and no-break spaces) -> one space, trimmed;
    control characters dropped (a NUL breaks PostgreSQL, an ESC a terminal; neither is text)."""
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return " ".join(text.split())


def html_to_text(markup: str, limit: int | None = None) -> str:
    """The visible text of an HTML fragment, entities decoded, whitespace collapsed.

    ``limit`` caps the result (in characters) after collapsing.
    """
    text = markup
    if limit is not None and len(text) > limit * 8:
        # Enough markup for ``limit`` characters of text; the rest would only cost time.
        text = text[: limit * 8]
        text = text[: text.rfind("<")] if text.rfind("<") > text.rfind(">") else text
    if "<" in text:
        if _HAS_HIDDEN.search(text):
            text = _HIDDEN.sub(" ", text)
        text = _TAG.sub(_tag_gap, text)
    if "&" in text:
        text = html.unescape(text)
    return cap(collapse(text), limit)


def cap(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters (at a space when one is near the end)."""
    if limit is None or len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", limit - 40)
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def _tag_gap(m: re.Match[str]) -> str:
    name = m.group(1)
    return "" if name is not None and name.lower() in _INLINE else " "
