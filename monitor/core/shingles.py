"""Shingles and sketches: an entry's words as a small, storable, comparable signature.

Pure: no I/O, standard library only.

- ``headline`` drops what outlets add to a title and is not news: a trailing `` - Nikkei Asia``,
  ``：朝日新聞デジタル``, ``| NHK``, and leading tags that name the item's form (``【速報】``,
  ``[Video]``); a tag that names its news (``【自民提出リスト掲載】``) stays as words.
- ``shingles`` are word shingles for Latin text (lower-cased, lightly stemmed, function words
  dropped: a headline has few words and ``shrinks``/``shrink`` or ``the`` must not decide) and
  character bigrams for Japanese (``text.tokenize`` already makes them; hiragana bigrams stay:
  ゆりかもめ is a name).
- ``minhash`` (one-permutation MinHash) and ``simhash`` (Charikar's 64-bit sketch) are the
  alternatives ``bench/clusters.py`` measures against exact Jaccard and bottom-k MinHash:
  headlines are short (median 39 weighted shingles), so most one-permutation bins are empty
  and borrowed, and SimHash cannot resolve the low similarities (0.2) that rewritten headlines
  have. ``clusters`` keeps the shingle hashes themselves (a few hundred bytes) and compares
  them exactly, weighted by document frequency, finding the pairs to compare with an inverted
  index of the terms (a digest window is small enough to do without sketches).

Hashes come from blake2b, never ``hash()``: fingerprints are stored and must mean the same in
the next process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from hashlib import blake2b
from operator import eq

from monitor.core.text import POINT, tokenize

# "Headline - Outlet", "Headline | Outlet", "Headline：Outlet", "Headline｜Outlet". A tail is an
# outlet when it is short and the head is longer; two rounds handle "... - Yahoo!ニュース - Yahoo!ニュース".
_TAIL = re.compile(r"(?:\s+[-|–]\s+|\s*[｜：]\s*)(?P<tail>[^-|–｜：]+?)\s*\|?\s*$")
_LEAD_TAG = re.compile(r"^\s*(?:【(?P<jp>[^】]{1,12})】|\[(?P<en>[^\]]{1,20})\]|(?:update ?\d*|breaking|exclusive)\s*:)\s*", re.IGNORECASE)
# What a leading tag says of the item's form, not its news: dropped. Any other tag is news and is
# kept as words: 【自民提出リスト掲載】 or 【卓球】 tells what the item is about.
_FORMAT_TAGS = frozenset(
    ["速報", "続報", "詳報", "独自", "動画", "画像", "写真", "特集", "詳細", "随時更新", "更新", "更新中", "解説", "ギャラリー", "インタビュー", "単独インタビュー", "記者の目", "社説", "号外", "中継", "ライブ", "会見", "全文", "図解", "pr", "広告", "コラム", "連載", "新着", "注目", "訂正", "video", "photos", "live", "update", "breaking", "exclusive", "opinion", "analysis", "watch", "listen", "podcast", "sponsored"]
)
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "and",
        "or",
        "with",
        "by",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "its",
        "it",
        "this",
        "that",
        "these",
        "those",
        "s",
        "his",
        "her",
        "their",
        "our",
        "after",
        "over",
        "into",
        "than",
        "up",
        "out",
        "about",
        "says",
        "said",
        "new",
        "more",
        "will",
        "has",
        "have",
        "had",
        "not",
        "but",
        "who",
        "what",
        "how",
        "why",
    }
)
_WORD_NUMBERS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_MASK64 = (1 << 64) - 1


def headline(title: str) -> str:
    """``title`` without an outlet suffix or a leading tag; the title itself when nothing is left."""
    text = _without_format_tags(title)
    for _ in range(3):
        match = _TAIL.search(text)
        if not match:
            break
        tail, head = match["tail"], text[: match.start()].strip()
        if len(tail) > 40 or len(tail.split()) > 6 or len(head) <= len(tail):
            break
        text = head
    return text or title


def _without_format_tags(title: str) -> str:
    """``title`` without its leading format tags (【速報】, [Video], UPDATE 2:); other tags as words."""
    kept, text = [], title
    while match := _LEAD_TAG.match(text):
        tag = (match["jp"] or match["en"] or "").strip()
        if tag and " ".join(tag.casefold().split()) not in _FORMAT_TAGS:
            kept.append(tag)
        text = text[match.end() :]
    return " ".join([*kept, text.strip()]).strip()


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """Fold the plural and the commonest verb endings: shrinks/shrink, reduces/reduced/reduce."""
    word = _WORD_NUMBERS.get(word, word)
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    # reduce/reduces/reduced/reducing all end as "reduc": a final e goes too
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def shingles(text: str) -> list[str]:
    """Word shingles (Latin) and character bigrams (Japanese) of ``text``, in order, with repeats."""
    tokens = tokenize(text)
    if text.isascii():
        return [_stem(token) for token in tokens if token not in _STOP]
    return [  # a decimal (4٫5) is no CJK token, though not ASCII: kept like any number
        token if len(token) == 2 and not token.isascii() else _stem(token)
        for token in tokens
        if (token not in _STOP if token.isascii() or POINT in token else len(token) == 2)
    ]


@lru_cache(maxsize=1 << 17)
def hash64(item: str) -> int:
    """A stable 64-bit hash (memoised: the same words and bigrams recur in every feed)."""
    return int.from_bytes(blake2b(item.encode(), digest_size=8).digest(), "little")


def copy_hash(h: int, i: int) -> int:
    """The i-th copy of hash ``h``: a shingle counted twice is two set elements, two hashes."""
    return h if i == 0 else ((h ^ (i * 0x9E3779B97F4A7C15)) * 0xFF51AFD7ED558CCD) & _MASK64


def minhash(hashes: Iterable[int], k: int) -> tuple[int, ...]:
    """One-permutation MinHash of a set of 64-bit hashes: ``k`` values, k a power of two.

    Each hash falls in bin ``h % k`` and keeps the smallest ``h >> 32`` there. An empty bin
    borrows the value of the next full bin to its right, offset by the distance (densification
    by rotation, Shrivastava and Li 2014), so two sets with Jaccard J still agree on a bin with
    probability about J. One hash per element instead of one per element and permutation is
    what makes MinHash affordable in pure Python.
    """
    empty = 1 << 32
    bins = [empty] * k
    for h in hashes:
        i = h & (k - 1)
        v = h >> 32
        bins[i] = min(bins[i], v)
    if empty not in bins:
        return tuple(bins)
    if all(v == empty for v in bins):
        return tuple([0] * k)
    out = list(bins)
    carry, distance = 0, 0
    for j in range(2 * k - 1, -1, -1):
        v = bins[j % k]
        if v != empty:
            carry, distance = v, 0
        else:
            distance += 1
            if j < k:
                out[j] = carry + (distance << 32)
    return tuple(out)


def minhash_jaccard(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity: the share of bins where two signatures agree."""
    return sum(map(eq, a, b)) / len(a) if a else 0.0


def simhash(hashes: Iterable[int]) -> int:
    """Charikar's 64-bit SimHash of a multiset of 64-bit hashes (one vote per element)."""
    rows = [format(h, "064b") for h in hashes]
    if not rows:
        return 0
    half = len(rows) / 2
    bits = "".join("1" if column.count("1") > half else "0" for column in zip(*rows))
    return int(bits, 2)


def simhash_similarity(a: int, b: int) -> float:
    """1 - Hamming distance / 64."""
    return 1.0 - (a ^ b).bit_count() / 64
