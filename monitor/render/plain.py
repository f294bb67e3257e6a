"""Digest or alert -> plain text: the text/plain part of their mail.

The Markdown file escapes every metacharacter of a stranger's title (``SoftBank \\[SBG\\]``) and
puts an invisible WORD JOINER after each ``@`` so that no viewer makes a link of it: right for
a file that Markdown viewers render, wrong for a mail reader who sees the text as it is, and
copies an address with the joiner in it. Here text is only cleaned of control characters (a
reader may ``cat`` a saved message: an ESC would drive the terminal) and links are written out
after their titles, http(s) only.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.core.digest import Digest, Item
from monitor.render.markdown import clean, digest_needs_zone, needs_zone, since_stamp, stamp


def _link(url: str | None) -> str | None:
    return clean(url) if url and url.lower().startswith(("http://", "https://")) else None


def entry_lines(entry: Item, *, zone: bool = False) -> list[str]:
    """One entry: title, sources, time and matched terms on its first line; its link, and the
    story's other reports, indented below."""
    why = f" (matched: {clean(', '.join(entry.terms))})" if entry.terms else ""
    head = f"- {clean(entry.title) or '(untitled)'} — {clean(', '.join(entry.sources))}, "
    lines = [f"{head}{stamp(entry.published, zone=zone)}{why}"]
    if link := _link(entry.url):
        lines.append(f"  {link}")
    for outlet, url in entry.also:
        lines.append(f"  also: {clean(outlet)}" + (f" {target}" if (target := _link(url)) else ""))
    return lines


def render_digest(digest: Digest) -> str:
    counts = ", ".join(f"{clean(s.heading)} {len(s.items)}" for s in digest.sections)
    noun = "story" if digest.entries == 1 else "stories"
    lines = [f"Digest {digest.window.day.isoformat()}: {digest.entries} {noun}" + (f" ({counts})" if counts else ""),
             "", f"Window: {stamp(digest.window.start, zone=True)} to {stamp(digest.window.end, zone=True)}."]
    zone = digest_needs_zone(digest)
    for section in digest.sections:
        heading = clean(section.heading)
        lines += ["", heading, "-" * len(heading), ""]
        for item in section.items:
            lines += entry_lines(item, zone=zone)
    if not digest.sections:
        lines += ["", "Nothing new matched a topic in this window."]
    if digest.failures:
        lines += ["", "Sources with errors", "-------------------", ""]
        for f in digest.failures:
            since = f" (since {since_stamp(digest, f.since, zone)})" if f.since else ""
            lines.append(f"- {clean(f.source)}: {clean(f.error)}{since}")
    return "\n".join(lines) + "\n"


def render_alert(heading: str, items: Sequence[Item]) -> str:
    zone = needs_zone(i.published for i in items)
    lines = [f"{clean(heading)}: {len(items)} new", ""]
    for item in items:
        lines += entry_lines(item, zone=zone)
    return "\n".join(lines) + "\n"
