"""Text normalisation and tokenisation shared by the matcher and the search index.

Pure: no I/O, standard library only. Both back ends of the query language (the Python
matcher and SQLite FTS5) see exactly the tokens made here, so they agree by construction.

- ``normalize``: NFKC, casefold, Latin diacritics dropped (``é`` -> ``e``), old and variant
  kanji as their common form (``髙`` -> ``高``); kana untouched.
- A WORD run (letters/digits that are not Japanese: Latin, Cyrillic, Hangul, digits...) is one
  token, except that a number ends where letters follow it: ``1.5GW`` -> ``1`` | ``5`` | ``gw``,
  as ``1.5 GW`` (``G7`` and ``H100`` stay whole). A number in groups of three is one token of
  its digits (``13,251`` -> ``13251``; ``5,000億円`` as ``5000億円``), and characters that show
  nothing (soft hyphen, zero-width space) are dropped, not word breaks. A change of script is a boundary:
  ``政府のAI政策`` -> ``政府の`` | ``ai`` | ``政策``.
- A CJK run (Han, hiragana, katakana) continues across whitespace and middle dots, since
  Japanese writes ``クリスタル・インテリジェンス`` with or without them. A run c0..c(n-1) gives
  n tokens, the bigrams c0c1 .. c(n-2)c(n-1) and the unigram c(n-1), so every character
  starts exactly one token and a term of any length can be found inside a run.

Not responsible for what a token pattern *means*; that is ``query.pattern``.
"""

from __future__ import annotations

import re
import unicodedata

# Han ideographs (with 々 〆 〇 and the CJK extensions), hiragana (with the voiced-sound
# marks that NFKC leaves on kana that have no precomposed form), katakana (with ー, without
# the middle dot ・ U+30FB and the double hyphen ゠ U+30A0).
_CJK = (
    "\u3005-\u3007\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
# What may sit inside a CJK run without breaking it: spaces and the middle dots.
_JOINERS = "\\s\u30fb\uff65\u00b7\u2027"

# A word: a number, or a letter and the letters and digits after it (5GW is 5 | gw, G7 is g7).
_WORDS = f"\\d+(?:\u066b\\d+)?|[^\\W\\d_{_CJK}][^\\W_{_CJK}]*"
_RUN = re.compile(f"([{_CJK}]+(?:[{_JOINERS}]+[{_CJK}]+)*)|({_WORDS})")
_JOINER = re.compile(f"[{_JOINERS}]+")
# tokenize() does the same as runs() + cjk_tokens() in one pass of the regex engine, which is
# several times faster than slicing bigrams in Python: joiners between CJK characters are
# dropped first, then every CJK character yields the (one or two character) token it starts.
_JOINED = re.compile(f"(?<=[{_CJK}])[{_JOINERS}]+(?=[{_CJK}])")
_TOKEN = re.compile(f"(?=([{_CJK}][{_CJK}]?|{_WORDS}))(?:[{_CJK}]|{_WORDS})")
_HAS_CJK = re.compile(f"[{_CJK}]")
_UNITS = re.compile(f"[{_CJK}]+|{_WORDS}")  # runs of one kind: what tokens are made of
_WORD_CHAR = f"[^\\W_{_CJK}]"  # a letter or digit of a non-CJK word
_LETTER = f"[^\\W\\d_{_CJK}]"  # a letter of a non-CJK word
# Not inside a word: no letter before, nor a letter and up to sixteen digits (the o of GPT4o).
_DIGIT = "\\d"
_AFTER_NUMBER = "".join(f"(?<!{_LETTER}{_DIGIT * n})" for n in range(17))
_WORD = re.compile("\\d+(?:\u066b\\d+)?|[^\\W\\d_][^\\W_]*")
_ASCII_WORD = re.compile("[0-9]+|[a-z][a-z0-9]*")

# Latin letters that carry a diacritic, and loose combining marks (casefold("İ") leaves one).
_MARKED = re.compile("[\u00c0-\u024f\u1e00-\u1eff\u0300-\u036f]")


def _latin_base_table() -> dict[str, str]:
    table = {chr(c): "" for c in range(0x0300, 0x0370)}
    for code in [*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)]:
        decomposed = unicodedata.normalize("NFD", chr(code))
        if (
            len(decomposed) > 1
            and decomposed[0].isascii()
            and all(unicodedata.combining(mark) for mark in decomposed[1:])
        ):
            table[chr(code)] = decomposed[0]
    return table


_LATIN_BASE = _latin_base_table()


_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]+")
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _to_half_width(match: re.Match[str]) -> str:
    return match.group().translate(_HALF_WIDTH)


def _strip_mark(match: re.Match[str]) -> str:
    char = match.group()
    return _LATIN_BASE.get(char, char)


# Characters that show nothing and break no word (soft hyphen, zero-width space and joiners,
# word joiner, BOM): NFKC keeps them, and they would split a word in two.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
# A number written in groups of three (13,251; 5,000億円) is one number: one token of its digits.
_GROUPED = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?!\d)")
# A decimal number (1.5, $22.5bn) is one number too, its point kept as U+066B (ARABIC DECIMAL
# SEPARATOR: no text keeps it through NFKC-folded input unchanged by chance, and SQLite's ascii
# tokenizer keeps non-ASCII inside a token), so 1.4 is not found in a date written 1/4 or
# 1-4. Not a dotted run of three or more (2025.2.3, 192.168.1.1), nor a word's digits (v1.2).
_DECIMAL = re.compile(f"(?<![.,])(?<!{_WORD_CHAR})(\\d+)\\.(\\d+)(?!\\.?\\d)")
POINT = "\u066b"
# Cheap first looks: most texts hold commas and full stops but no number around them, and the
# patterns above try their look-behinds at every character.
_GROUP_HINT = re.compile(r"\d,\d")
_DECIMAL_HINT = re.compile(r"\d\.\d")


def _ungroup(text: str) -> str:
    """Numbers as the tokens hold them: 13,251 -> 13251, 1.5 -> 1٫5."""
    if "," in text and _GROUP_HINT.search(text):
        text = _GROUPED.sub(lambda m: m.group().replace(",", ""), text)
    if "." in text and _DECIMAL_HINT.search(text):
        text = _DECIMAL.sub(r"\1" + POINT + r"\2", text)
    return text


# Old and variant forms of kanji (異体字) that names keep and NFKC does not fold: 髙島屋 is
# found as 高島屋, 山﨑 as 山崎, 渡邉 as 渡辺, 𠮷野家 as 吉野家. Each becomes the form a user
# types. One character to one, so ``fold`` still marks the original.
_KANJI_VARIANTS = dict(zip(
    "髙﨑嵜德齋齊邊邉澤濱櫻國廣藏眞惠榮壽實瀨圓黑來豐𠮷﨔兒彌禮曾增龜萬樂驒",
    "高崎崎徳斎斉辺辺沢浜桜国広蔵真恵栄寿実瀬円黒来豊吉欅児弥礼曽増亀万楽騨",
    strict=True,
))
_KANJI_VARIANT = re.compile(f"[{''.join(_KANJI_VARIANTS)}]")
_KANJI_TABLE = str.maketrans(_KANJI_VARIANTS)


def normalize(text: str) -> str:
    """Fold ``text`` for comparison: NFKC, casefold, Latin diacritics dropped, old and variant
    kanji as their common form (``_KANJI_VARIANTS``).

    NFKC makes full-width ``ＯｐｅｎＡＩ`` plain ``OpenAI``, half-width ``ｿﾌﾄﾊﾞﾝｸ`` full-width
    ``ソフトバンク`` and the ideographic space a space. Diacritics are dropped per Latin
    character, never by decomposing the whole text, which would split ``ガ`` into ``カ`` + mark.
    """
    if text.isascii():
        return text.lower()
    if _INVISIBLE.search(text):  # Star\u00adgate is Stargate, Soft\u200bBank is SoftBank
        text = _INVISIBLE.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):
        # CPython's full NFKC is slow (~0.2 us a character); in Japanese text it is mostly
        # needed for full-width ASCII and the ideographic space, which map one to one.
        text = _FULL_WIDTH.sub(_to_half_width, text)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    if _MARKED.search(text):
        text = _MARKED.sub(_strip_mark, text)
    if _KANJI_VARIANT.search(text):
        text = text.translate(_KANJI_TABLE)
    return text


# A character with the combining marks that follow it (a half-width ﾊ with its ﾞ): normalised
# as one, since NFKC composes them.
_CLUSTER = re.compile("(?s).[\u0300-\u036f\u3099\u309a\uff9e\uff9f]*")


def fold(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` as the matcher reads it (``normalize``, joiners inside CJK runs dropped), with
    where in ``text`` each of its characters came from, as (start, end): so what is found in
    the folded form (ＳＢ ＯＡＩ, ｿﾌﾄﾊﾞﾝｸ, クリスタル・インテリジェンス) can be marked in the original."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _CLUSTER.finditer(text):
        for char in normalize(m.group()):
            chars.append(char)
            spans.append(m.span())
    folded = "".join(chars)
    dropped = {i for m in _JOINED.finditer(folded) for i in range(*m.span())}
    if dropped:
        folded = "".join(c for i, c in enumerate(folded) if i not in dropped)
        spans = [s for i, s in enumerate(spans) if i not in dropped]
    return folded, spans


def find_pattern(term: str, prefix: bool = False) -> str | None:
    """A regular expression that finds ``term`` in ``fold``ed text where the matcher would:
    its words in order with anything but letters and digits between them (SB-OAI Japan, SB  OAI
    for ``SB OAI``; AI 基本計画 for ``AI基本計画``), a word of Latin (or any non-CJK) script
    whole (not ai inside aiсистема), a ``prefix`` term's last word with the rest of it. None
    for a term without letters or digits."""
    units = _UNITS.findall(_JOINED.sub("", _ungroup(normalize(term))))
    if not units:
        return None
    cjk = [bool(_HAS_CJK.match(u)) for u in units]
    pattern = _unit_pattern(units[0])
    for i in range(1, len(units)):
        # two Latin words need a break, but a number may run into the word after it (1.5GW)
        joined = cjk[i - 1] or cjk[i] or (_number(units[i - 1]) and not units[i][0].isdecimal())
        pattern += ("[\\W_]*" if joined else "[\\W_]+") + _unit_pattern(units[i])
    if not cjk[0]:
        # a word may follow a number (gw in 1.5GW), not a letter or a word's digits (o in GPT4o);
        # a number may not follow a letter (100 in H100), a group of digits (251 in 13,251) or a
        # decimal point (5 in 1.5)
        pattern = (_AFTER_NUMBER if not units[0][0].isdecimal() else _number_start(units[0])) + pattern
    if not cjk[-1]:
        # 5 ends before gw in 5GW, not before a group of digits (13 in 13,251) or the point of a
        # decimal (1 in 1.5, not 2025 in 2025.2.3); a decimal not before another point (1.5.3).
        # Loose where only what came before tells: 2 in 2025.2.3 and 456 in 12.3,456 are tokens
        # that search finds and this does not mark.
        if POINT in units[-1]:
            ending = "\\.?\\d|,\\d{3}(?!\\d)"
        elif _number(units[-1]):
            ending = "\\d|,\\d{3}(?!\\d)|\\.\\d+(?!\\.?\\d)"
        else:
            ending = _WORD_CHAR
        pattern += f"{_WORD_CHAR}*" if prefix else f"(?!{ending})"
    return pattern


# A decimal's point after a run of digits that starts a number (1.5, not v1.2 or 2025.2.3's 3).
_AFTER_POINT = "".join(f"(?<!(?<![.,])(?<!{_WORD_CHAR}){_DIGIT * n}\\.)" for n in range(1, 7))


def _number_start(unit: str) -> str:
    """Where a term that starts with a number may start: not inside a word (100 in H100), nor
    as the last group of a grouped number (345 in 12,345), nor after a decimal's point (5 in
    1.5), unless what follows makes the point no decimal (2 in 2025.2.3)."""
    grouped = "(?<!\\d,)" if len(unit) == 3 and unit.isdecimal() else ""
    return f"(?<!{_WORD_CHAR}){grouped}(?:{_AFTER_POINT}|(?=\\d+\\.\\d))"


def _number(unit: str) -> bool:
    return unit.replace(POINT, "").isdecimal()


def _unit_pattern(unit: str) -> str:
    """A unit of a term as it may be written: a number of four digits or more with or without
    its group commas (5000 and 5,000), a decimal with its point."""
    if not _number(unit):
        return re.escape(unit)
    whole, point, fraction = unit.partition(POINT)
    groups = [whole[max(0, end - 3):end] for end in range(len(whole), 0, -3)][::-1]  # 13251 -> 13, 251
    return ",?".join(groups) + ("\\." + fraction if point else "")


def cjk_tokens(run: str) -> list[str]:
    """The index tokens of one CJK run: its bigrams, then its last character alone."""
    return [run[i : i + 2] for i in range(len(run))]


def runs(text: str) -> list[tuple[bool, str]]:
    """Normalise ``text`` and split it into script runs: ``(is_cjk, run)`` in order.

    Joiners (spaces, middle dots) inside a CJK run are removed.
    """
    return [
        (True, _JOINER.sub("", cjk)) if cjk else (False, word)
        for cjk, word in _RUN.findall(_ungroup(normalize(text)))
    ]


def tokenize(text: str) -> list[str]:
    """The index tokens of a document field, in order; the hot path of every poll.

    Equal to flattening ``runs(text)`` (``cjk_tokens`` for CJK runs), only faster.
    """
    text = _ungroup(normalize(text))
    if text.isascii():
        return _ASCII_WORD.findall(text)
    if not _HAS_CJK.search(text):
        return _WORD.findall(text)
    return _TOKEN.findall(_JOINED.sub("", text))
