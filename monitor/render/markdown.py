"""Digest -> Markdown.

Composes text only; writing files is the service's job. Titles, source names and errors
come from strangers: every Markdown and HTML metacharacter in them is backslash-escaped, so
they can neither make a link nor inject markup, and only http(s) URLs become links. Control
characters become spaces: a digest is read with `cat` and mailed as text, and an ESC in a title
would drive the reader's terminal (colours, OSC 8 links, the window title).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from itertools import chain
from urllib.parse import quote

from monitor.core.digest import Digest, Item

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can
# start markup, links, HTML, entities or emphasis anywhere in a line. Not ( ) or !: they make
# a link or an image only beside a [ or ], which are escaped, and "SoftBank \(SBG\)" is what
# a reader of the file sees.
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+|~&])")
_SPACE = re.compile(r"\s+")
# C0 and C1 controls (ESC, BEL, CR...), DEL, line/paragraph separators, bidi overrides and isolates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# GitHub-flavoured Markdown also links bare URLs, www. names and e-mail addresses. An escape
# before the colon or the dot stops the first two; e-mail autolinks ignore escapes, so an
# invisible WORD JOINER after the @ breaks them.
_AUTOLINKS = re.compile(r"(?i)(?<=[a-z0-9])(:)(?=//)|(?<=\bwww)(\.)|(?<=[\w.+-])(@)(?=[\w-])")


def _break_autolink(m: re.Match[str]) -> str:
    return "@\u2060" if m.group(3) else "\\" + (m.group(1) or m.group(2))


def clean(text: str) -> str:
    """``text`` on one line, without control characters or bidi overrides (what every rendering
    of a stranger's text starts from: a digest is read with `cat` too)."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def escape(text: str) -> str:
    """Plain text safe to place inline in Markdown, CommonMark or GFM (collapses newlines)."""
    text = clean(text)
    return _AUTOLINKS.sub(_break_autolink, _SPECIAL.sub(r"\\\1", text))


def link_target(url: str | None) -> str | None:
    """An http(s) URL made safe inside `(...)`, or None when it must not be a link."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    return quote(url, safe="/:?#[]@!$&'*+,;=%-._~").replace("(", "%28").replace(")", "%29")


def stamp(moment: datetime | None, *, zone: bool = False) -> str:
    """A local time as the digest shows it; ``zone`` adds its abbreviation (EDT, EST)."""
    if moment is None:
        return "date unknown"
    return moment.strftime("%Y-%m-%d %H:%M %Z" if zone else "%Y-%m-%d %H:%M")


def needs_zone(moments: Iterable[datetime | None]) -> bool:
    """Whether times shown together need their zone: they do not all share one UTC offset (the
    digest of the day clocks go back holds 01:25 EDT and 01:00 EST, which read out of order
    without it; an entry published before a change shown beside one after it)."""
    return len({m.utcoffset() for m in moments if m is not None}) > 1


def list_item(entry: Item, *, zone: bool = False) -> str:
    """One entry as a Markdown list item: linked title, sources, local time (with its zone when
    ``zone``: see ``needs_zone``), matched terms."""
    title = escape(entry.title) or "(untitled)"
    target = link_target(entry.url)
    head = f"[{title}]({target})" if target else title
    when = stamp(entry.published, zone=zone)
    why = f" (matched: {escape(', '.join(entry.terms))})" if entry.terms else ""
    return f"- {head} — {escape(', '.join(entry.sources))}, {when}{why}{_also(entry)}"


def _also(entry: Item) -> str:
    """"; also: The Japan Times, Nikkei Asia (+2: ...)": every copy of the story stays a link."""
    if not entry.also:
        return ""

    def named(outlet: str, url: str | None) -> str:
        target = link_target(url)
        return f"[{escape(outlet)}]({target})" if target else escape(outlet)

    first = [named(o, u) for o, u in entry.also[:2]]
    rest = [named(o, u) for o, u in entry.also[2:]]
    return "; also: " + ", ".join(first) + (f" (+{len(rest)}: {', '.join(rest)})" if rest else "")


def digest_needs_zone(digest: Digest) -> bool:
    """``needs_zone`` over what a digest lists: its window and its entries' times. Not the
    failures' "since", which may date from before the last change for months: each of those
    carries its zone when its offset is not the window end's (``since_stamp``)."""
    items = (i.published for s in digest.sections for i in s.items)
    return needs_zone(chain((digest.window.start, digest.window.end), items))


def since_stamp(digest: Digest, since: datetime, zone: bool) -> str:
    """When a source's trouble began, with its zone when the digest's times carry theirs or its
    offset is not the window end's."""
    return stamp(since, zone=zone or since.utcoffset() != digest.window.end.utcoffset())


def render(digest: Digest) -> str:
    counts = ", ".join(f"{escape(s.heading)} {len(s.items)}" for s in digest.sections)
    noun = "story" if digest.entries == 1 else "stories"  # entries of one story count once
    lines = [f"# Digest {digest.window.day.isoformat()}: {digest.entries} {noun}"
             + (f" ({counts})" if counts else "")]
    window = digest.window
    lines += ["", f"Window: {stamp(window.start, zone=True)} to {stamp(window.end, zone=True)}."]
    zone = digest_needs_zone(digest)
    for section in digest.sections:
        lines += ["", f"## {escape(section.heading)}", ""]
        lines += [list_item(i, zone=zone) for i in section.items]
    if not digest.sections:
        lines += ["", "Nothing new matched a topic in this window."]
    if digest.failures:
        lines += ["", "## Sources with errors", ""]
        for f in digest.failures:
            since = f" (since {since_stamp(digest, f.since, zone)})" if f.since else ""
            lines.append(f"- {escape(f.source)}: {escape(f.error)}{since}")
    return "\n".join(lines) + "\n"

