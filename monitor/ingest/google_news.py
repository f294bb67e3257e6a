"""Google News RSS: the search address, "Headline - Outlet" titles and the article ids in its links.

Why a module of its own: Google News items are not the publisher's items. The title carries the outlet as a
suffix (which would spoil clustering by title), the link is a news.google.com redirect (which would spoil
deduplication against the publisher's own feed), and the outlet is only in ``<source>`` or in that suffix.

Link formats (see ``shared/research/source-feeds.md``, "Google News RSS"): ``/rss/articles/<ID>?oc=5`` where
``<ID>`` (also the ``<guid>``) is base64url of a small protobuf. In 2024 captures field 4 holds the
publisher URL (``CBMi…``) or a YouTube video id (``CCAi…``) and decodes offline; in 2026 captures field 4
holds an opaque ``AU_yqL…`` token and only news.google.com can say where it points
(``monitor.net.redirects``).

Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from monitor.core.entry import EntryDraft
from monitor.ingest.markup import collapse

SEARCH_URL = "https://news.google.com/rss/search"

# " - Outlet" as Google writes it, and the dashes a Japanese title may use instead (spaced: a bare hyphen
# or dash inside a headline, "Grand Staircase-Escalante", "monuments—again", is not a separator).
_DASHES = "-‐‑–—―－"
_SPACED = rf"\s+[{_DASHES}]\s+"
_LAST_SPACED = re.compile(rf"^(.*\S){_SPACED}(\S.*)$")
# Once the outlet is known its name is the anchor, so a wide dash needs no spaces ("見出し－日本経済新聞"),
# and a repeat of the name inside the headline ("…：朝日新聞デジタル - 朝日新聞デジタル") is dropped too.
_KNOWN_SEP = rf"(?:{_SPACED}|\s*[－―—｜|:：]\s*)"
_ARTICLE_ID = re.compile(r"^[A-Za-z0-9_-]{8,}={0,2}$")
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_URL_FIELD = 4  # the protobuf field that holds the target (URL, video id or opaque token)


@dataclass(frozen=True, slots=True)
class GoogleItem:
    """What a Google News item says about the article behind it.

    ``publisher_url`` is set only when the link decodes offline (2024-style ids); otherwise the caller may
    resolve ``google_link`` over HTTP. ``article_id`` is Google's id, stable for one article and format only:
    dedupe across formats by ``publisher_url`` or by headline and publisher, not by the id.
    """

    headline: str
    publisher: str | None
    google_link: str | None
    publisher_url: str | None
    article_id: str | None


def search_url(query: str, *, hl: str = "ja", gl: str = "JP", ceid: str | None = None) -> str:
    """The RSS search address: ``search_url("ソフトバンク")`` -> ``…/rss/search?q=…&hl=ja&gl=JP&ceid=JP:ja``.

    ``ceid`` defaults to ``GL:lang``, the language without its region (``hl="en-US", gl="US"`` -> ``US:en``):
    the pairing Google's own links use.
    """
    if not query.strip():
        raise ValueError("a Google News search needs a non-empty query")
    edition = ceid if ceid is not None else f"{gl}:{hl.split('-')[0]}"
    return f"{SEARCH_URL}?{urlencode({'q': query, 'hl': hl, 'gl': gl, 'ceid': edition})}"


def split_title(title: str, source_name: str | None = None) -> tuple[str, str | None]:
    """``"Headline - Outlet"`` -> ``("Headline", "Outlet")``; ``(title, None)`` when no outlet is found.

    With ``source_name`` (the item's ``<source>``) exactly that suffix is removed, so a headline holding its
    own " - " keeps it; without it the last spaced dash is taken, which is where Google puts the outlet.
    """
    text = collapse(title)
    name = collapse(source_name) if source_name else ""
    if name:
        return _strip_known(text, name), name
    m = _LAST_SPACED.match(text)
    if m is None:
        return text, None
    return _strip_known(m.group(1), m.group(2)), m.group(2)


def decode_article_id(link: str) -> str | None:
    """The target URL hidden in a Google News article link or id, when it can be read offline.

    Accepts ``https://news.google.com/rss/articles/<ID>?oc=5`` (or ``/articles/``, ``/read/``,
    ``/__i/rss/rd/articles/``) or the bare ``<ID>`` of the ``<guid>``. Returns the publisher URL for
    2024-style ids, a YouTube watch URL for video ids (``CCAi…``; the one capture's ``<source>`` is
    youtube.com), and None for 2026-style opaque ``AU_yqL…`` tokens or anything malformed.
    """
    article_id = article_id_of(link)
    if article_id is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(article_id.rstrip("=") + "=" * (-len(article_id.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None
    fields = _protobuf_fields(raw)
    value = fields.get(_URL_FIELD)
    if not isinstance(value, bytes):
        return None
    try:
        target = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if re.match(r"^https?://[^\s/?#]+", target) and not any(ord(c) < 0x21 for c in target):
        return target
    if _YOUTUBE_ID.match(target) and fields.get(1) == 32:
        return f"https://www.youtube.com/watch?v={target}"
    return None


def article_id_of(link: str) -> str | None:
    """Google's article id from an article link, or ``link`` itself when it already is a bare id."""
    text = "".join(link.split())
    if "/" in text:
        try:
            parts = [p for p in urlsplit(text).path.split("/") if p]
        except ValueError:
            return None
        for i, part in enumerate(parts[:-1]):
            if part in ("articles", "read"):
                text = parts[i + 1]
                break
        else:
            return None
    return text if _ARTICLE_ID.match(text) else None


def google_item(draft: EntryDraft, source_name: str | None = None) -> GoogleItem:
    """Headline, publisher and (offline) publisher URL of one parsed Google News item.

    ``source_name`` is the item's ``<source>`` text (feedparser: ``entry["source"]["title"]``). Without it the
    summary decides: Google writes it as "<a>Headline</a>&nbsp;&nbsp;<font>Outlet</font>…", which
    ``parse_feed`` flattens to "Headline Outlet …", so the split of the title that the summary repeats is
    the right one even when the headline holds " - " itself.
    """
    if source_name and collapse(source_name):
        headline, publisher = split_title(draft.title, source_name)
    else:
        headline, publisher = _split_by_summary(draft.title, draft.summary)
    link = draft.link or None
    target = decode_article_id(link) if link else None
    if target is None and draft.guid:
        target = decode_article_id(draft.guid)
    article_id = article_id_of(link) if link else None
    if article_id is None and draft.guid:
        article_id = article_id_of(draft.guid)
    return GoogleItem(headline, publisher, link, target, article_id)


def _split_by_summary(title: str, summary: str) -> tuple[str, str | None]:
    text = collapse(title)
    said = collapse(summary)
    if said:
        for m in reversed(list(re.finditer(_SPACED, text))):
            headline, outlet = text[: m.start()], text[m.end() :]
            repeated = f"{headline} {outlet}"
            if headline and outlet and (said == repeated or said.startswith(f"{repeated} ")):
                return _strip_known(headline, outlet), outlet
    return split_title(text)


def _strip_known(headline: str, name: str) -> str:
    """``headline`` without trailing copies of the outlet ``name`` (never down to nothing)."""
    pattern = re.compile(rf"^(.*?\S){_KNOWN_SEP}{re.escape(name)}$")
    while (m := pattern.match(headline)) is not None:
        headline = m.group(1)
    return headline


def _protobuf_fields(raw: bytes) -> dict[int, int | bytes]:
    """The top-level fields of a protobuf message (first value per field); {} when it is not one."""
    fields: dict[int, int | bytes] = {}
    pos = 0
    while pos < len(raw):
        key, pos = _varint(raw, pos)
        if key is None:
            return {}
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(raw, pos)
            if value is None:
                return {}
            fields.setdefault(number, value)
        elif wire == 2:
            size, pos = _varint(raw, pos)
            if size is None or pos + size > len(raw):
                return {}
            fields.setdefault(number, raw[pos : pos + size])
            pos += size
        else:  # fixed32/64 and groups do not occur in these ids
            return {}
    return fields


def _varint(raw: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(raw) and shift < 64:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos
