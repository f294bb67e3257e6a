"""HTML text -> a lexbor tree, refusing pages nested so deeply that parsing them would stall a poll.

lexbor's tree building costs time in proportion to the depth of the open-element stack at every
element it inserts: 20,000 nested ``<div>`` take a second, 100,000 (half a megabyte, far under
``fetch.max_bytes``) take half a minute, in a thread that cannot be interrupted. Real pages nest a few
dozen deep. So before parsing, the sum of the depths at which elements open is counted (what the
parser will pay) and a page over ``DEPTH_BUDGET`` is refused with a ParseError.

The count is cheap where it matters: a page with fewer than ``TAGS_TO_SCAN`` tags cannot reach the
budget and is not scanned. Scripts, styles and comments are skipped (their ``a<b`` is no tag);
void elements and those whose end tag is optional (``p``, ``li``, ``td``...: the parser closes them
itself) do not deepen the count, nor does a self-closed element of SVG or MathML; ``<div/>`` does,
since HTML ignores that slash.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from monitor.errors import ParseError

DEPTH_BUDGET = 20_000_000  # ~0.1 s of lexbor on this machine; a real page sums to well under 1,000,000
TAGS_TO_SCAN = 4_000  # fewer tags than this sum to at most 4,000^2 / 2 = 8,000,000
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)|<(script|style)\b.*?(?:</\1\s*>|\Z)|<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*?(/?)>",
    re.DOTALL | re.IGNORECASE,
)
_VOID = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr")
_END_OPTIONAL = ("p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "tbody", "thead", "tfoot",
                 "colgroup", "caption", "rb", "rt", "rp")
_FLAT = frozenset(_VOID + _END_OPTIONAL)
# A "/>" closes an element only in SVG and MathML; in HTML the parser ignores it, so a hostile
# page of <div/> nests as deep as one of <div>. These HTML tags end SVG/MathML (HTML's rules for
# foreign content), and what follows them is HTML again.
_FOREIGN = frozenset(("svg", "math"))
_BREAKOUT = frozenset((
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed", "h1", "h2",
    "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol", "p", "pre",
    "ruby", "s", "small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var"))


def parse_html(text: str) -> LexborHTMLParser:
    """The lexbor tree of ``text``; ParseError when its nesting would make parsing too slow.

    A ``<br>`` is followed by a space: node text joins text nodes as they are, so
    ``SoftBank<br>OpenAI`` would read "SoftBankOpenAI" and match neither name."""
    if text.count("<") >= TAGS_TO_SCAN:
        check_nesting(text)
    tree = LexborHTMLParser(text)
    for br in tree.css("br"):
        br.insert_after(" ")
    return tree


def check_nesting(text: str) -> None:
    depth = total = foreign = 0  # foreign: the depth of an open <svg> or <math>, 0 outside them
    for m in _TOKEN.finditer(text):
        name = m.group(3)
        lowered = name.lower() if name else ""
        if foreign and lowered in _BREAKOUT:  # the parser leaves SVG/MathML for HTML here
            foreign = 0
        if name is None or (lowered in _FLAT and not foreign):
            continue
        if m.group(2):
            depth = max(0, depth - 1)
            if depth < foreign:
                foreign = 0
        elif not (m.group(4) and (foreign or lowered in _FOREIGN)):  # <div/> opens a div: only SVG closes itself
            depth += 1
            total += depth
            if total > DEPTH_BUDGET:
                raise ParseError(f"refused: the page nests its elements too deeply to parse safely "
                                 f"({depth} levels reached; real pages nest a few dozen)")
            if lowered in _FOREIGN and not foreign:
                foreign = depth
