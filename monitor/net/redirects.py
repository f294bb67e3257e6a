"""A Google News article link -> the publisher's URL, over HTTP, when news.google.com says where it points.

Why: 2026-style article ids are opaque (``monitor.ingest.google_news.decode_article_id`` returns None), so the
only way to the publisher is to ask the link. It answers with an HTTP redirect (the Fetcher follows it; the
final URL is the answer) or with an HTML page naming the target: ``<meta http-equiv=refresh>``, a
``data-n-au`` attribute, a literal ``window.location``/``location.replace`` string, or a single outbound
``<a href>``.
Nothing is executed. A page that names no target (consent interstitials, the JavaScript shell of today's
news.google.com), a fetch error or a target still on Google gives None: the caller keeps the Google link.

"Still on Google" means a Google host or the link's own host: a redirect that never leaves the host it
started on has not resolved anything. Limitation: the Fetcher raises when the publisher's page answers with
an error (401/403 to robots), and the redirect target is lost with it; that case gives None too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urljoin, urlsplit

from monitor.errors import FetchError
from monitor.ingest.charset import decode_html
from monitor.ingest.html_tree import parse_html
from monitor.ingest.listing import page_base
from monitor.net.fetcher import Fetcher, FetchResult

_MAX_PAGES = 3  # a page may point to another Google page (meta refresh to /articles/...), not forever
_GOOGLE = re.compile(
    r"(?:^|\.)(?:google\.(?:com?\.)?[a-z]{2,3}|gstatic\.com|googleusercontent\.com|googleapis\.com"
    r"|goo\.gl|g\.co)$"
)
_CONSENT = re.compile(r"^(?:consent|guce)\.")  # consent.google.com, consent.youtube.com, guce.yahoo.com
_REFRESH = re.compile(r"^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*?)\s*$", re.IGNORECASE | re.DOTALL)
_JS_LOCATION = re.compile(
    r"""(?:\blocation(?:\.href)?\s*=\s*|\blocation\.(?:replace|assign)\(\s*)(["'])(.+?)\1"""
)
_JS_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(/))")


async def resolve_redirect(fetcher: Fetcher, url: str, *, before_hop: Callable[[str], Awaitable[None]] | None = None,
                           guarded: bool = False) -> str | None:
    """The publisher URL behind ``url`` (a news.google.com article link), or None when it cannot be told.

    ``before_hop`` and ``guarded`` are the fetcher's (monitor.net.guard): a feed's Google link may
    redirect anywhere, a metadata or loopback address included, so the caller guards every hop as
    it does for article pages. Never raises for an unresolvable link: fetch errors, a refused
    hop, consent pages and pages naming no target are None.
    """
    origin = _host(url)
    if origin is None:
        return None
    seen = {url}
    current = url
    for _ in range(_MAX_PAGES):
        try:
            result = await fetcher.fetch(current, before_hop=before_hop, guarded=guarded)
        except FetchError:
            return None
        final = result.url
        if _is_consent(final):
            return None
        if not _on_google(final, origin):
            return final
        target = _target_in_page(result, origin)
        if target is None or target in seen:
            return None
        if not _on_google(target, origin):
            return target
        seen.add(target)
        current = target
    return None


def _target_in_page(result: FetchResult, origin: str) -> str | None:
    """The URL an HTML redirect page sends the reader to: off Google if it names one, else a Google page."""
    kind = (result.content_type or "").lower()
    if (kind and "html" not in kind) or not result.body:
        return None
    tree = parse_html(decode_html(result.body, result.content_type))
    base = page_base(tree, result.url)
    named: list[str] = []
    for node in tree.css("meta[http-equiv][content]"):
        if (node.attributes.get("http-equiv") or "").strip().lower() == "refresh":
            m = _REFRESH.match(node.attributes.get("content") or "")
            named.append(m.group(1).strip("'\"") if m else "")
    named += [node.attributes.get("data-n-au") or "" for node in tree.css("[data-n-au]")]
    for script in tree.css("script"):
        named += [_unescape_js(m.group(2)) for m in _JS_LOCATION.finditer(script.text(deep=True))]
    targets = [t for t in (_absolute(raw, base) for raw in named) if t is not None]
    outside = [t for t in targets if not _on_google(t, origin)]
    if outside:
        return outside[0]
    anchors = {_absolute(node.attributes.get("href") or "", base) for node in tree.css("a[href]")}
    linked = {t for t in anchors if t is not None and not _on_google(t, origin)}
    if len(linked) == 1:  # a lone way out is the redirect; several are a page (consent, policies, menus)
        return linked.pop()
    return targets[0] if targets else None


def _absolute(raw: str, base: str) -> str | None:
    """``raw`` made absolute, unwrapped from google.com/url?q=..., and only when it is http(s)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        target = urljoin(base, raw)
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if _GOOGLE.search(parts.hostname) and parts.path == "/url":
        query = parse_qs(parts.query)
        inner = (query.get("q") or query.get("url") or [""])[0]
        return _absolute(inner, target) if inner.startswith(("http://", "https://")) else None
    return target


def _unescape_js(text: str) -> str:
    return _JS_ESCAPE.sub(lambda m: m.group(3) or chr(int(m.group(1) or m.group(2), 16)), text)


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _on_google(url: str, origin: str) -> bool:
    host = _host(url)
    return host is None or host == origin or _GOOGLE.search(host) is not None


def _is_consent(url: str) -> bool:
    host = _host(url)
    return host is not None and _CONSENT.search(host) is not None
