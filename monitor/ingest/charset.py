"""Bytes of an HTML page -> text, the way browsers pick the encoding, tuned for Japanese pages.

Order (the WHATWG "encoding sniffing" order): a byte-order mark, then the HTTP Content-Type
charset, then ``<meta charset>`` / ``<meta http-equiv content="...; charset=...">`` or an XML
declaration in the first 4 KB, then detection (ISO-2022-JP escapes, strict UTF-8, then CP932 vs
EUC-JP by a kana/kanji score). A BOM wins over the header because it cannot be there by accident.
A legacy label is not believed where the bytes say otherwise: valid UTF-8, or a detected reading
that is clearly more Japanese (a UTF-8 page served as Shift_JIS decodes without an error, as
mojibake).

Labels are mapped to the codec real pages need: ``Shift_JIS`` and its aliases decode as strict
Shift_JIS (〜 is U+301C, as in browsers), else as CP932 (Windows-31J), a superset that also has
the NEC/IBM characters (①, ㈱, 髙) that pages labelled Shift_JIS use anyway; ``EUC-JP`` falls
back to EUC-JIS-2004 for the same reason; ``ISO-8859-1``
and ``US-ASCII`` mean windows-1252 as in browsers. An unknown label is ignored.

Feeds have feedparser's XML encoding rules; they come through here (``feed_as_utf8``) when their
declared encoding cannot decode them, and when it is a legacy one, which feedparser would read
with Python's codec for the label (none for x-sjis; strict shift_jis for Shift_JIS). Never
raises: the last resort is a decode with ``errors="replace"``.
"""

from __future__ import annotations

import codecs
import re

_SNIFF_BYTES = 4096

# label -> codecs to try strictly, in order; the first one is used with errors="replace"
# when none decodes cleanly.
_JAPANESE = {
    # Strict Shift_JIS first: it reads 0x8160 as 〜 (U+301C) as browsers and the EUC-JP codecs do,
    # where CP932 gives ～ (U+FF5E), which NFKC folds to ~; CP932 for the NEC characters (①, ㈱).
    "cp932": ("shift_jis", "cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jp", "euc_jis_2004"),
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_3"),
}
_LENIENT = {"cp932": "cp932"}  # with replacements: the superset, so only truly bad bytes are lost
_ALIASES = {
    **{k: "cp932" for k in ("shift_jis", "shift-jis", "sjis", "x-sjis", "s-jis", "shiftjis", "ms_kanji",
                            "ms-kanji", "csshiftjis", "windows-31j", "cswindows31j", "cp932", "ms932",
                            "x-ms-cp932", "shift_jisx0213", "shift_jis_2004")},
    **{k: "euc_jp" for k in ("euc-jp", "euc_jp", "eucjp", "x-euc-jp", "x-euc", "ujis", "u-jis",
                             "cseucpkdfmtjapanese", "euc-jis-2004", "euc-jisx0213")},
    **{k: "iso2022_jp" for k in ("iso-2022-jp", "csiso2022jp", "iso2022jp", "jis")},
    # WHATWG Encoding Standard: these labels all mean windows-1252 on the web.
    **{k: "cp1252" for k in ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii",
                             "ansi_x3.4-1968", "windows-1252", "cp1252", "x-cp1252", "cp819", "ibm819")},
    **{k: "utf-8" for k in ("utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8")},
}
# Python codecs that accept bytes but are not page encodings (or are unsafe to honour).
_REFUSED = {"idna", "punycode", "undefined", "unicode_escape", "raw_unicode_escape", "utf_7",
            "unicode_internal", "mbcs", "oem"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^\s"';,]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml\b[^>]*?encoding\s*=\s*["'])[A-Za-z0-9_.:\-]+(["'])""")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)


def decode_html(body: bytes, content_type: str | None) -> str:
    """The text of an HTML page; see the module docstring for the order of evidence."""
    return read_html(body, content_type)[0]


def read_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """``decode_html``, and what went wrong on the way: empty when the page's declaration (or
    detection, without one) read every byte, else a note for the source's warnings (a Shift_JIS
    page served as UTF-8 is read right, by detection, and the note says so)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace"), ""
    header = _HEADER_CHARSET.search(content_type or "")
    declared = _codec(header.group(1)) if header else None
    label = header.group(1) if header and declared else None
    if declared is None:
        label, declared = _sniffed_declaration(body[:_SNIFF_BYTES]) or (None, None)
    if declared is not None:
        text, how = _decoded_as(body, declared)
        if declared != "utf-8" and not body.isascii():
            # A legacy label can be wrong even where it decodes: UTF-8 bytes read as Shift_JIS
            # make mojibake (繧ｽ繝輔ヨ for ソフト), EUC-JP bytes half-width kana.
            truer = _truer_reading(body, text)
            if truer is not None:
                text, how = truer, "decoded them by detection"
        return text, f"its declared charset {label} does not fit its bytes; {how}" if how else ""
    return _detect(body), ""


def _truer_reading(body: bytes, declared: str) -> str | None:
    """A reading of ``body`` that beats the one its legacy label gave: valid UTF-8 (legacy bytes
    are almost never valid UTF-8 by accident), or a detected one that is clearly more Japanese."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _detect(body) if _reads_better(body, declared) else None


def feed_as_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str, str] | None:
    """A feed in a legacy encoding, or whose declared (or default UTF-8) encoding fails on its
    bytes, re-encoded as UTF-8.

    feedparser answers such a feed by decoding all of it as some Latin charset, so one stray
    byte turns every Japanese title to mojibake. Here the declaration is tried first with its
    supersets; a few bad bytes become U+FFFD and the rest stays right; many mean a wrong label,
    and the encoding is detected. A legacy declaration that holds is decoded here too, with the
    codec browsers use for its label. Returns (utf-8 bytes with the XML declaration and the media
    type saying so, that media type, what was done: empty when the declaration held); None for
    a UTF-8 feed whose declaration holds.
    """
    if any(body.startswith(bom) for bom, _ in _BOMS) or body[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        return None  # a BOM or UTF-16 is unambiguous: feedparser reads those right
    header = _HEADER_CHARSET.search(content_type or "")
    label = header.group(1) if header else None
    if label is None:
        found = _XML_ENCODING.search(body[:_SNIFF_BYTES])
        label = found.group(1).decode("ascii") if found else "utf-8"
    codec = _codec(label)
    if codec is None:
        return None
    declared = _strictly(body, codec)
    if declared is not None and codec == "utf-8":
        return None
    media = (content_type or "application/xml").split(";", 1)[0].strip() or "application/xml"
    if declared is not None and not _reads_better(body, declared):
        # The declaration holds, but feedparser would decode with Python's codec for the label:
        # none for x-sjis or windows-31j (it falls back to windows-1252: mojibake), and strict
        # shift_jis for Shift_JIS, which fails on the NEC characters (①, ㈱) such feeds use.
        return _as_utf8(declared), f"{media}; charset=utf-8", ""
    text = _misdeclared(body, codec, decodes=declared is not None)
    return _as_utf8(text), f"{media}; charset=utf-8", f"its declared charset {label} does not fit its bytes; decoded them by detection"


def _as_utf8(text: str) -> bytes:
    return _XML_DECL_ENCODING.sub(r"\1utf-8\2", text, count=1).encode("utf-8")


def _misdeclared(body: bytes, codec: str, *, decodes: bool) -> str:
    """The text of a document its declared codec misreads: valid UTF-8 is UTF-8 (legacy bytes are
    almost never valid UTF-8 by accident); else detection when it reads better, else the codec."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if decodes:  # the codec decodes it, but detection reads it better (_reads_better)
        return _detect(body)
    text = _decode_as(body, codec)
    if codec != "utf-8" and text.count("\ufffd") > 2:
        detected = _detect(body)
        if detected.count("\ufffd") < text.count("\ufffd"):
            return detected
    return text


def _strictly(body: bytes, codec: str) -> str | None:
    """The body decoded by ``codec`` or one of its supersets without a single error, or None."""
    for name in _JAPANESE.get(codec, (codec,)):
        try:
            return body.decode(name)
        except UnicodeDecodeError:
            continue
    return None


def _reads_better(body: bytes, declared: str) -> bool:
    """Does detection read a legacy-labelled body as clearly more Japanese? EUC-JP bytes pass as
    CP932 or windows-1252 without an error, as half-width katakana or accented letters."""
    if body.isascii():
        return False
    detected = _detect(body)
    return detected != declared and _japanese_score(detected) > max(2 * _japanese_score(declared), 10)


def codec_for_label(label: str) -> str | None:
    """A charset label from a header or a page -> the Python codec we decode it with, or None."""
    return _codec(label)


def _codec(label: str) -> str | None:
    name = label.strip().strip("\"'").lower()
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name.replace("-", "_") in _REFUSED:
        return None
    # A page cannot really declare UTF-16 in ASCII-compatible markup (WHATWG: read it as UTF-8).
    return "utf-8" if info.name.startswith("utf-16") or info.name.startswith("utf-32") else info.name


def _sniffed_declaration(head: bytes) -> tuple[str, str] | None:
    """The (label, codec) an XML declaration or a <meta> in the page's head declares."""
    for pattern in (_XML_ENCODING, _META_CHARSET):
        m = pattern.search(head)
        if m:
            label = m.group(1).decode("ascii")
            codec = _codec(label)
            if codec is not None:
                return label, codec
    return None


def _decode_as(body: bytes, codec: str) -> str:
    """Decode with the declared codec, trying its supersets before accepting replacements."""
    return _decoded_as(body, codec)[0]


def _decoded_as(body: bytes, codec: str) -> tuple[str, str]:
    """``_decode_as``, and how it had to read the bytes when the codec failed on them."""
    candidates = _JAPANESE.get(codec, (codec,))
    for name in candidates:
        try:
            return body.decode(name), ""
        except UnicodeDecodeError:
            continue
    lenient = body.decode(_LENIENT.get(codec, candidates[0]), errors="replace")
    if codec == "utf-8" and lenient.count("\ufffd") > max(2, len(lenient) // 200):
        # Not a stray bad byte but many: often a Japanese legacy page with a wrong label.
        detected = _detect(body)
        if _japanese_score(detected) > _japanese_score(lenient):
            return detected, "decoded them by detection"
    return lenient, "bytes it cannot decode became U+FFFD"


def _detect(body: bytes) -> str:
    """No declaration: ISO-2022-JP escapes, strict UTF-8, else the Japanese legacy encoding that reads best."""
    if b"\x1b$B" in body or b"\x1b$@" in body:  # 7-bit, so it would pass as UTF-8: look first
        return _decode_as(body, "iso2022_jp")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    readings = [text for text in (_strictly(body, "cp932"), _strictly(body, "euc_jp")) if text is not None]
    if readings:
        return max(readings, key=_japanese_score)
    lenient = [body.decode(c, errors="replace") for c in ("utf-8", "cp932", "euc_jp")]
    return min(lenient, key=lambda text: (text.count("\ufffd"), -_japanese_score(text)))


def _japanese_score(text: str) -> int:
    """Kana and common kanji count for a reading; half-width kana and private use count against.

    EUC-JP bytes read as CP932 turn mostly into half-width katakana (0xA1-0xDF are single
    bytes there); real text is rich in hiragana. That asymmetry is enough to choose.
    """
    score = 0
    for ch in text:
        o = ord(ch)
        if o < 0x3000:
            continue
        if 0x3040 <= o <= 0x30FF:
            score += 2
        elif 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F:
            score += 1
        elif 0xFF61 <= o <= 0xFF9F or 0xE000 <= o <= 0xF8FF:
            score -= 2
    return score
