"""Refuse XML documents whose DOCTYPE declares dangerous entities, before any parser sees them.

An internal DTD subset can declare entities that expand into other entities (billion laughs),
one big entity referenced many times (quadratic blowup), or entities whose value is a file or
URL (external entities, XXE). expat does not read external entities and feedparser strips most
declarations, but what it leaves to its loose parser can still cost seconds and megabytes, and
"the parser happens to be safe today" is not a promise. So the rule is ours and checked first:

- a general entity may hold only text and character references (``&#160;``), at most
  ``VALUE_LIMIT`` characters; no reference to another entity, no SYSTEM or PUBLIC value;
- all references to declared entities together may add at most ``EXPANSION_LIMIT`` bytes;
- parameter entities (``%name;``) are allowed: they only shape the DTD, which nobody fetches.

Also ``valid_char_refs``: a character reference to no character (``&#xD800;``, a surrogate;
``&#0;``; past U+10FFFF) makes feedparser fail on the whole document; it becomes U+FFFD, so one
bad reference costs one character, not the feed.

Pure: bytes in, a ParseError or bytes out.
"""

from __future__ import annotations

import codecs
import re

from monitor.errors import ParseError

VALUE_LIMIT = 1024
EXPANSION_LIMIT = 1_000_000
_SUBSET = re.compile(rb"<!DOCTYPE\b[^\[>]*\[(.*?)\]\s*>", re.DOTALL)
_DECLARATION = re.compile(rb"<!ENTITY\b")
_ENTITY = re.compile(
    rb"""<!ENTITY\s+(?P<param>%\s+)?(?P<name>[^\s%"'>]+)\s+
         (?:(?P<external>SYSTEM|PUBLIC)\b[^>]*|"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')\s*>""",
    re.VERBOSE,
)
_CHAR_REF = re.compile(rb"&#([xX][0-9A-Fa-f]{1,16}|[0-9]{1,20});")
_REPLACEMENT = b"&#xFFFD;"
_REFERENCE = re.compile(rb"&(?!#)[^;\s&]*;|%[^;\s%]+;")
# UTF-16/32 documents, with or without a byte-order mark: scan them as UTF-8.
_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"),
)


def check_entities(body: bytes) -> None:
    """Raise ParseError when ``body`` declares an entity that could expand, grow or read a file."""
    body = _as_utf8(body)
    if b"<!DOCTYPE" not in body:
        return
    for subset in _SUBSET.finditer(body):
        _check_subset(subset.group(1), body)


def valid_char_refs(body: bytes) -> bytes:
    """``body`` with every character reference that names no character replaced by ``&#xFFFD;``."""
    if b"&#" not in body:
        return body
    return _CHAR_REF.sub(_valid_ref, body)


def _valid_ref(m: re.Match[bytes]) -> bytes:
    digits = m.group(1)
    try:
        code = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    except ValueError:
        return _REPLACEMENT
    ok = 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
    return m.group(0) if ok else _REPLACEMENT


def _check_subset(subset: bytes, body: bytes) -> None:
    declared = list(_ENTITY.finditer(subset))
    if len(declared) != len(_DECLARATION.findall(subset)):
        raise ParseError("refused: the DOCTYPE holds an entity declaration that cannot be read safely")
    expansion = 0
    for found in declared:
        if found.group("param"):
            continue
        name = found.group("name").decode("utf-8", "replace")
        if found.group("external"):
            raise ParseError(f"refused: the DOCTYPE declares the external entity {name!r} (a file or URL "
                             "read into the document: an XXE attack or a broken feed)")
        value = found.group("dq") if found.group("dq") is not None else found.group("sq")
        if _REFERENCE.search(value):
            raise ParseError(f"refused: the DOCTYPE declares the entity {name!r} in terms of other entities "
                             "(nested expansion: a billion-laughs attack or a broken feed)")
        if len(value) > VALUE_LIMIT:
            raise ParseError(f"refused: the DOCTYPE declares the entity {name!r} of {len(value)} bytes "
                             f"(more than {VALUE_LIMIT}: an entity-expansion attack or a broken feed)")
        expansion += len(value) * body.count(b"&" + found.group("name") + b";")
        if expansion > EXPANSION_LIMIT:
            raise ParseError(f"refused: the document's entities would expand by more than {EXPANSION_LIMIT} "
                             "bytes (a quadratic-blowup attack or a broken feed)")


def _as_utf8(body: bytes) -> bytes:
    for prefix, encoding in _WIDE:
        if body.startswith(prefix):
            return body.decode(encoding, "replace").encode("utf-8")
    return body
