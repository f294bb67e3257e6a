"""Search results and source lists -> table, JSON or CSV text.

Composes text only. Everything that came from a feed is passed through `printable` before
it reaches a terminal, so a title cannot carry escape sequences into the user's shell.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from monitor.core.health import Flag
from monitor.core.text import find_pattern, fold
from monitor.store.reading import EntryRow, SourceRow

# id (entries.id, what story_id points at) and publisher came last, so CSV columns kept their places
FIELDS = ("title", "url", "source", "sources", "published", "first_seen", "topics", "matched_terms", "id",
          "publisher")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def counted(n: int, one: str, many: str) -> str:
    """``1 entry``, ``2 entries``: the output a user reads and a script greps."""
    return f"{n} {one if n == 1 else many}"


def printable(text: str) -> str:
    """Text without control characters (ESC, CR, bidi overrides...), newlines as spaces."""
    return _CONTROL.sub(" ", text)


def _iso(value: datetime | None, tz: tzinfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


def _http(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("http://", "https://")) else None


def record(row: EntryRow, tz: tzinfo) -> dict[str, object]:
    return {
        "title": row.title,
        "url": _http(row.url),
        "source": row.source,
        "sources": list(row.sources),
        "published": _iso(row.published, tz),
        "first_seen": _iso(row.first_seen, tz),
        "topics": list(row.topics),
        "matched_terms": row.matched_terms,
        "id": row.id,
        "publisher": row.publisher,
        "why": row.why,
    }


def as_json(rows: Sequence[EntryRow], tz: tzinfo, story: Mapping[int, int] | None = None,
            sizes: Mapping[int, int] | None = None) -> str:
    records = [record(r, tz) for r in rows]
    if story is not None and sizes is not None:
        for rec, r in zip(records, rows, strict=True):
            rec["story_id"] = story[r.id]
            rec["story_size"] = sizes[story[r.id]]
    return json.dumps(records, ensure_ascii=False, indent=2)


def by_story(rows: Sequence[EntryRow], story: Mapping[int, int], limit: int) -> tuple[list[EntryRow], dict[int, int]]:
    """The first (newest) row of each story, at most `limit`, and how many rows each story had."""
    sizes: dict[int, int] = {}
    first: list[EntryRow] = []
    for r in rows:
        if story[r.id] not in sizes:
            first.append(r)
        sizes[story[r.id]] = sizes.get(story[r.id], 0) + 1
    return first[:limit], sizes


def as_csv(rows: Sequence[EntryRow], tz: tzinfo, story: Mapping[int, int] | None = None,
           sizes: Mapping[int, int] | None = None) -> str:
    """The JSON's columns but `why`, lists joined by `;`; with stories, story_id and story_size too."""
    out = io.StringIO()
    # Every cell quoted: a spreadsheet in a locale that splits on ";" keeps "a;=cmd()" one cell
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    grouped = story is not None and sizes is not None
    writer.writerow((*FIELDS, "story_id", "story_size") if grouped else FIELDS)
    for r in rows:
        rec = record(r, tz)
        cells = [inert_cell(";".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v)))
                 for v in (rec[f] for f in FIELDS)]
        if story is not None and sizes is not None:
            cells += [str(story[r.id]), str(sizes[story[r.id]])]
        writer.writerow(cells)
    return out.getvalue()


def inert_cell(text: str) -> str:
    """A cell a spreadsheet will not run: feed text starting with = + - @ (or a tab or carriage
    return before one) is a formula to Excel and LibreOffice, =HYPERLINK("http://evil/") included;
    a leading apostrophe makes it text (OWASP's advice for CSV injection). Bidi overrides and
    isolates are dropped: in a spreadsheet they reorder what a cell shows (a URL that reads as
    another), and a title needs neither (right-to-left script shows right to left without them)."""
    text = _BIDI_CONTROL.sub("", text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _clip(text: str, width: int) -> str:
    text = printable(text)
    if _width(text) <= width:
        return text + " " * (width - _width(text))
    out, used = "", 0
    for c in text:
        w = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used + w > width - 1:
            break
        out, used = out + c, used + w
    return out + "…" + " " * (width - used - 1)


BOLD, RESET = "\x1b[1m", "\x1b[0m"  # click.echo drops these when the output is not a terminal


def highlight(text: str, terms: Sequence[str]) -> str:
    """Terms in bold wherever the matcher would find them: in the folded text (``text.fold``:
    case, full and half width, ・ and spaces inside Japanese), marked in the original, in one
    pass so that no bold nests in another. A Latin term is bold as a whole word (AI is not bold
    inside Takaichi); a prefix term (``invest*``) with the rest of its word; Japanese terms
    wherever they stand."""
    asked = {(t.rstrip().rstrip("*"), t.rstrip().endswith("*")) for t in terms}
    found = [find_pattern(core, prefix) for core, prefix in sorted(asked, key=lambda p: len(p[0]), reverse=True)]
    patterns = [p for p in found if p]
    if not patterns:
        return text
    folded, spans = fold(text)
    out, last = [], 0
    for m in re.finditer("|".join(patterns), folded):
        start, end = spans[m.start()][0], spans[m.end() - 1][1]
        if start < last:  # two finds in one character that folds to several (㈱ -> (株))
            continue
        out += [text[last:start], BOLD, text[start:end], RESET]
        last = end
    return "".join([*out, text[last:]])



UNDATED_NOTE = "* date unknown: the time it was first seen"


def times(rows: Sequence[EntryRow], tz: tzinfo) -> list[str]:
    """The time column of entry tables: local, with the zone when the rows' offsets differ (on
    the day clocks go back 01:10 GMT comes after 01:30 BST, and without zones the newest-first
    order reads wrong), and ``*`` after an undated entry's first-seen time (see UNDATED_NOTE)."""
    moments = [(r.published or r.first_seen).astimezone(tz) for r in rows]
    zoned = len({m.utcoffset() for m in moments}) > 1
    form = "%Y-%m-%d %H:%M %Z" if zoned else "%Y-%m-%d %H:%M"
    return [m.strftime(form) + ("*" if r.published is None else "") for m, r in zip(moments, rows, strict=True)]


def as_table(rows: Sequence[EntryRow], tz: tzinfo, width: int | None = 120, asked: Sequence[str] = ()) -> str:
    """Two or three lines per entry; in the title, its matched terms and ``asked`` (the search
    query's own terms) in bold. ``width``: the terminal's, so that a title is cut to fit its
    first line; None (output to a pipe or a file) keeps every title whole, for grep."""
    if not rows:
        return "no entries found"
    lines = []
    column = times(rows, tz)
    pad = max(len(c) for c in column)
    title_width = max(30, width - pad - 2 - 16 - 2 - 20 - 2) if width else None
    for r, when in zip(rows, column, strict=True):
        title = _clip(r.title, title_width).rstrip() if title_width else printable(r.title)
        lines.append(f"{when:<{pad}}  {_clip(r.source, 16)}  {_clip(','.join(r.topics) or '-', 20)}  "
                     f"{highlight(title, [*r.matched_terms, *asked])}")
        lines.append(f"{'':{pad}}  {printable(_http(r.url) or '(no link)')}")
        if r.matched_terms:
            lines.append(f"{'':{pad}}  matched: {printable(', '.join(r.matched_terms))}")
    if any(r.published is None for r in rows):
        lines.append(UNDATED_NOTE)
    return "\n".join(lines)


def sources_table(rows: Sequence[SourceRow], tz: tzinfo, flags: Mapping[str, Sequence[Flag]]) -> str:
    """One line per source: name, last poll, status, entries, next poll, then its flags or last error."""
    if not rows:
        return "no sources configured"
    width = max(len(printable(s.name)) for s in rows)
    lines = []
    for s in rows:
        polled = s.last_polled_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if s.last_polled_at else "never"
        status = "disabled" if s.disabled_at else s.last_status or "-"
        if status == "error" and s.consecutive_failures > 1:
            status += f" x{s.consecutive_failures}"
        due = "next: never" if s.disabled_at else \
            s.next_poll_at.astimezone(tz).strftime("next %m-%d %H:%M") if s.next_poll_at else "next: now"
        notes = [f"{f.kind}: {f.detail}" for f in flags.get(s.name, ())]
        if not notes and s.last_error:
            notes = [s.last_error]
        lines.append(f"{printable(s.name):<{width}}  {polled:<20}  {status:<12}  {s.entries:>6} entries  {due}  "
                     f"{printable('; '.join(notes)) or '-'}")
    return "\n".join(lines)
