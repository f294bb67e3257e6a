"""Canonical article URLs: the natural key that makes one article one row across sources.

Two spellings of the same address must give the same key, and two articles must never share
one. So this module only applies normalisations that cannot change which resource is meant
(RFC 3986 section 6.2.2 plus the scheme rules of 6.2.3) and removes query parameters that
exist only to track the reader (``TRACKING_PARAMS``). It keeps the order of the remaining
parameters, keeps ``+`` and reserved characters as written, and keeps ``#!`` fragments, which
old single-page sites use as the article address.

``canonical_url`` is idempotent: ``canonical_url(canonical_url(u)) == canonical_url(u)``.
Anything that is not an absolute http(s) URL with a host gives None; it never raises.

Pure: standard library only, no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# Parameters that identify a click, a campaign or a reader, never the article. Any name
# starting with one of TRACKING_PREFIXES counts too. Matching is case-insensitive.
TRACKING_PREFIXES = ("utm_",)  # Google Analytics campaign tags: utm_source, utm_medium, ...
TRACKING_PARAMS = frozenset({
    "fbclid",                               # Facebook click id
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid",  # Google Ads / DoubleClick click ids
    "msclkid",                              # Microsoft Ads
    "twclid", "ttclid", "li_fat_id", "yclid", "igshid", "igsh",  # X, TikTok, LinkedIn, Yandex, Instagram
    "mc_cid", "mc_eid",                     # Mailchimp campaign / subscriber
    "_ga", "_gl",                           # Google Analytics cross-domain linker
    "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp",  # HubSpot
    "mkt_tok",                              # Marketo
    "oly_anon_id", "oly_enc_id",            # Omeda
    "vero_id", "vero_conv",                 # Vero
    "s_kwcid",                              # Adobe Analytics
    "ref_src", "ref_url",                   # Twitter/X embeds
    "cmpid",                                # campaign id (Washington Post, Wall Street Journal ...)
    "ncid",                                 # Yahoo / Engadget newsletter id
    "sr_share",                             # share-button source
})

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are when re-encoding (RFC 3986 pchar / query); "%" keeps escapes.
_PATH_SAFE = "/%:@!$&'()*+,;=[]"
_QUERY_SAFE = _PATH_SAFE + "?"
_PLAIN_HTTP = re.compile(r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?:[/?#][^\s]*)?\Z", re.IGNORECASE | re.ASCII)
_HOST_OK = re.compile(r"^[a-z0-9.\-_~!$&'()*+,;=%]+$|^\[[0-9a-f:.]+\]$")


def canonical_url(url: str | None) -> str | None:
    """The key form of an http(s) URL, or None when ``url`` is not an absolute http(s) URL."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        port = parts.port
    except ValueError:  # an unbalanced "[" or a port that is not a number
        return None
    if scheme not in _DEFAULT_PORTS:
        return None
    host = _host(parts.hostname or "")
    if not host:
        return None
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE)) or "/"
    query = _clean_query(parts.query)
    url_out = f"{scheme}://{netloc}{path}"
    if query:
        url_out += "?" + query
    if parts.fragment.startswith("!"):
        url_out += "#" + _normalise_escapes(parts.fragment, _QUERY_SAFE)
    return url_out


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host (the only links we ever show).

    Same answer as ``canonical_url(url) is not None``; the common plain form skips the work.
    """
    if isinstance(url, str) and _PLAIN_HTTP.match(url):
        return True
    return canonical_url(url) is not None


def is_tracking_param(name: str) -> bool:
    """True when a query parameter only tracks the reader (see ``TRACKING_PARAMS``)."""
    key = name.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _host(hostname: str) -> str | None:
    """Lower case, no trailing dot, internationalised names in their ASCII (punycode) form."""
    host = hostname.rstrip(".")
    if ":" in host:  # IPv6 literal: urlsplit removed the brackets
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    host = host.lower()
    return host if _HOST_OK.match(host) else None


def _normalise_escapes(text: str, safe: str) -> str:
    """Upper-case escapes, decode escaped unreserved characters, escape what must be escaped."""
    if "%" in text:
        text = _ESCAPE.sub(_escape_repl, text)
    if not _NEEDS_QUOTE.search(text):  # the common case: nothing to escape
        return text
    return quote(text, safe=safe)


def _escape_repl(m: re.Match[str]) -> str:
    char = chr(int(m.group(1), 16))
    return char if char in _UNRESERVED else "%" + m.group(1).upper()


# Characters that are neither unreserved nor reserved (controls, space, non-ASCII, "<>\^`{|}):
# always escaped (RFC 3986 section 2.1).
_NEEDS_QUOTE = re.compile(r'[^\x21-\x7e]|["<>\\^`{|}]')


def _clean_query(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), pair.split("=", 1)[0]).replace("+", " ")
        if not is_tracking_param(name.strip()):
            kept.append(_normalise_escapes(pair, _QUERY_SAFE))
    return "&".join(kept)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: ``/a/./b/../c`` -> ``/a/c``."""
    if "." not in path:
        return path
    segments = path.split("/")
    if not any(s in (".", "..") for s in segments):
        return path
    out: list[str] = []
    for seg in segments[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)
