"""Story clusters: do two entries report the same story, and which story does a new entry join?

Pure: no I/O, standard library only. The store persists ``Fingerprint.to_bytes()`` and a story
id per entry; the digest shows a story once. Not responsible for the title a story is shown
under, nor for exact duplicates (canonical URL and Google News target merge those first).

- ``fingerprint(title, summary, time)``, once per entry: a bottom-k MinHash sketch (Broder's)
  of the entry's weighted shingles (title shingles twice, summary once, anchors once), the
  hashes of its title shingles, of its summary and of its anchors (``aliases``), the figures
  and places of its title, and the stage its title reports.
- ``similarity(a, b)`` in [0, 1]. Same language: the mean of Jaccard and containment (a short
  rewrite inside a long headline is a match). Across languages only anchors are shared: their
  weighted Dice overlap, rescaled onto the same threshold. Either way it is 0 outside
  ``WINDOW`` or when the titles contradict each other: other figures or places of one kind
  (the 10th vs the 9th meeting, Abilene vs Milam County), or another stage (a preview, "expected
  to", 計画案, vs the event vs its 結果). An identical summary under different titles is
  boilerplate: then titles alone count.
- ``StoryIndex`` assigns entries to stories with LSH candidates (see its docstring).

Why these choices: ``bench/clusters.py`` prints the figures (precision and recall on
tests/data/story_pairs.tsv per method, microseconds per entry).
"""

from __future__ import annotations

import re
import struct
from collections import Counter, defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from hashlib import blake2b
from itertools import chain
from typing import Any

from monitor.core import aliases
from monitor.core.shingles import copy_hash, hash64, headline, shingles
from monitor.core.text import normalize

WINDOW = timedelta(days=3)
_WINDOW_SECONDS = WINDOW.total_seconds()
SKETCH = 128  # bottom-k size: exact Jaccard for entries up to 128 weighted shingles (p90 is 88)
THRESHOLD = 0.22  # same language: similarity at or above it is the same story
CROSS_THRESHOLD = 0.5  # across languages, on the anchor-overlap scale
TITLE_WEIGHT, SUMMARY_WEIGHT, ANCHOR_WEIGHT = 2, 1, 1

# Kind codes live in the top 4 bits of a 32-bit anchor hash, so stored anchors keep their kind.
KINDS = (
    "org",
    "person",
    "place",
    "thing",
    "concept",
    "usd",
    "jpy",
    "watt",
    "pct",
    "nth",
    "day",
    "month",
    "num",
)
_CODE = {kind: i + 1 for i, kind in enumerate(KINDS)}
_PLACE = _CODE["place"]
_KEYED = frozenset(
    _CODE[k] for k in ("org", "person", "place", "thing", "usd", "jpy", "watt", "pct", "nth", "num")
)
_MARK_KINDS = frozenset(("place", "usd", "jpy", "watt", "pct", "nth", "day", "num"))
_CROSS_WEIGHT = {
    _CODE[k]: w
    for k, w in {
        "org": 1.0,
        "person": 1.5,
        "place": 2.0,
        "thing": 2.0,
        "concept": 0.5,
        "usd": 3.0,
        "jpy": 3.0,
        "watt": 3.0,
        "pct": 2.0,
        "nth": 2.0,
        "day": 0.5,
        "month": 0.5,
        "num": 2.0,
    }.items()
}
# The stage a title reports: what will or may happen (a preview, a notice, a draft) is another
# story than the thing happening, and its results or minutes are a third. Japanese government
# feeds title all three alike: 入札発行 / 入札 / 入札結果, 開催について / 議事要旨.
_AHEAD = re.compile(
    r"\b(?:expected to|reportedly|considering|in talks|mulls|weighs|draft|sources say|anticipated|to hold)\b"
    r"|計画案|原案|素案|検討|協議入り|報道(?!発表)|見通し|予定|開催について|開催案内|入札発行"
)
_AFTER = re.compile(r"\b(?:results|minutes)\b|結果|議事要旨|議事録|議事概要")
_CJK = re.compile(r"[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_HEAD = struct.Struct("<BqBBIIHHHH")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What ``similarity`` needs of one entry. ``to_bytes()`` is 200 to 700 bytes."""

    time: int  # seconds since the epoch: published, else first seen
    lang: str  # "ja" when the title has Japanese or Chinese script, else "en"
    sketch: frozenset[int]  # the SKETCH smallest 32-bit hashes of the weighted shingles
    size: int  # how many weighted shingles there were
    title: frozenset[int]  # 32-bit hashes of the title's shingles
    summary: int  # 32-bit hash of the normalised summary, 0 when there is none
    anchors: frozenset[int]  # kind-coded hashes of names and figures in title and summary
    marks: frozenset[int]  # kind-coded hashes of the title's figures and places
    stage: int  # 0 the event, 1 ahead of it (preview, notice, draft), 2 after it (results, minutes)

    def to_bytes(self) -> bytes:
        """A compact, versioned encoding for the store: ``Fingerprint.from_bytes(fp.to_bytes()) == fp``."""
        parts = [sorted(self.sketch), sorted(self.title), sorted(self.anchors), sorted(self.marks)]
        head = _HEAD.pack(
            1, self.time, self.lang == "ja", self.stage, self.size, self.summary, *map(len, parts)
        )
        body = [value for part in parts for value in part]
        return head + struct.pack(f"<{len(body)}I", *body)

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        """Decode ``to_bytes``; ValueError for an unknown version (recompute it from the entry)."""
        version, time, ja, stage, size, summary, *counts = _HEAD.unpack_from(data)
        if version != 1:
            raise ValueError(f"fingerprint version {version} is unknown; recompute it from the entry")
        values = struct.unpack_from(f"<{sum(counts)}I", data, _HEAD.size)
        parts, start = [], 0
        for count in counts:
            parts.append(frozenset(values[start : start + count]))
            start += count
        return cls(time, "ja" if ja else "en", parts[0], size, parts[1], summary, parts[2], parts[3], stage)


def _h32(text: str) -> int:
    return int.from_bytes(blake2b(text.encode(), digest_size=4).digest(), "little")


@lru_cache(maxsize=1 << 12)
def _coded(key: str) -> int:
    return (_CODE[key.split(":", 1)[0]] << 28) | (_h32(key) & 0x0FFFFFFF)


def _kind(code: int) -> int:
    return code >> 28


def _stage(title: str) -> int:
    return 2 if _AFTER.search(title) else 1 if _AHEAD.search(title) else 0


def _weighted(head: str, summary: str) -> tuple[list[int], set[int], set[str], set[str]]:
    """Sorted weighted hashes, title-shingle hashes, title anchors, all anchors."""
    hashes = {s: hash64(s) for s in set(shingles(head))}
    title_hashes = set(hashes.values())
    if summary:
        hashes.update({s: hash64(s) for s in set(shingles(summary)).difference(hashes)})
    in_title = aliases.anchors(head)
    found = in_title | aliases.anchors(summary) if summary else in_title
    # weights by repetition: an element counted w times is w distinct hashes (SUMMARY_WEIGHT is 1)
    weighted = [*hashes.values(), *(copy_hash(h, i) for i in range(1, TITLE_WEIGHT) for h in title_hashes)]
    weighted += [copy_hash(hash64("@" + a), i) for a in found for i in range(ANCHOR_WEIGHT)]
    weighted.sort()
    return weighted, title_hashes, in_title, found


def weighted_hashes(title: str, summary: str) -> list[int]:
    """The 64-bit hashes whose bottom-k is the sketch (for comparing sketches: ``bench/clusters.py``)."""
    return _weighted(headline(title), summary)[0]


def fingerprint(title: str, summary: str, time: datetime) -> Fingerprint:
    """The fingerprint of one entry; ``time`` is aware (published, else first seen)."""
    head = headline(title)
    weighted, title_hashes, in_title, found = _weighted(head, summary)
    return Fingerprint(
        time=int(time.timestamp()),
        lang="ja" if len(_CJK.findall(head)) >= 2 else "en",
        sketch=frozenset(map((32).__rrshift__, weighted[:SKETCH])),
        size=len(weighted),
        title=frozenset(map(0xFFFFFFFF.__and__, title_hashes)),
        summary=_h32(normalize(summary).strip()) if summary.strip() else 0,
        anchors=frozenset(_coded(a) for a in found),
        marks=frozenset(_coded(a) for a in in_title if a.split(":", 1)[0] in _MARK_KINDS),
        stage=_stage(normalize(head)),
    )


def resemblance(a: frozenset[int], b: frozenset[int], k: int = SKETCH) -> float:
    """Jaccard similarity estimated from two bottom-k sketches (exact when both hold fewer than k)."""
    common = len(a & b)
    if len(a) < k and len(b) < k:
        union = len(a) + len(b) - common
        return common / union if union else 0.0
    smallest = sorted(a | b)[:k]
    return sum(1 for x in smallest if x in a and x in b) / len(smallest)


def _jaccard_containment(j: float, size_a: int, size_b: int) -> float:
    """Mean of Jaccard and containment; the intersection is J * (|A| + |B|) / (1 + J)."""
    if not size_a or not size_b:
        return 0.0
    return (j + min(1.0, j * (size_a + size_b) / (1 + j) / min(size_a, size_b))) / 2


def text_similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Same-language similarity of the shingles alone (titles alone when the summary is boilerplate)."""
    if a.summary and a.summary == b.summary:
        return _jaccard_containment(resemblance(a.title, b.title), len(a.title), len(b.title))
    return _jaccard_containment(resemblance(a.sketch, b.sketch), a.size, b.size)


def anchor_similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Weighted Dice overlap of the anchors: what an English and a Japanese report share."""
    total = sum(_CROSS_WEIGHT[_kind(x)] for x in a.anchors) + sum(_CROSS_WEIGHT[_kind(x)] for x in b.anchors)
    return 2 * sum(_CROSS_WEIGHT[_kind(x)] for x in a.anchors & b.anchors) / total if total else 0.0


def _conflict(a: Fingerprint, b: Fingerprint) -> bool:
    """The titles contradict: figures of one kind that share nothing, or places the other never names.

    Figures: one title's figures of a kind must overlap the other entry's (a story gives several:
    $30 billion of a $110 billion round). Places: each title names one the other entry does not
    (Abilene vs Milam County, though both say Texas).
    """
    if not a.marks or not b.marks:
        return False
    for kind in {_kind(m) for m in a.marks} & {_kind(m) for m in b.marks}:
        mine = {m for m in a.marks if _kind(m) == kind}
        theirs = {m for m in b.marks if _kind(m) == kind}
        if kind == _PLACE:
            if mine - b.anchors and theirs - a.anchors:
                return True
        elif not (mine & b.anchors or theirs & a.anchors):
            return True
    return False


def _in_window(a: Fingerprint, b: Fingerprint) -> bool:
    return abs(a.time - b.time) <= _WINDOW_SECONDS


def contradicts(a: Fingerprint, b: Fingerprint) -> bool:
    """Explicit evidence of two stories in the window: other title figures or places, another stage."""
    return _in_window(a, b) and (a.stage != b.stage or _conflict(a, b))


def adjust(score: float, a: Fingerprint, b: Fingerprint) -> float:
    """The rules every method shares: 0 outside the window or when the titles contradict."""
    return 0.0 if not _in_window(a, b) or a.stage != b.stage or _conflict(a, b) else score


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """How alike two entries are as reports of one story, in [0, 1]; 0 outside the window."""
    if a.lang == b.lang:
        return adjust(text_similarity(a, b), a, b)
    return adjust(min(1.0, anchor_similarity(a, b) * THRESHOLD / CROSS_THRESHOLD), a, b)


def same_story(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two entries report the same story."""
    return similarity(a, b) >= THRESHOLD


class StoryIndex:
    """Assigns entries to stories: a new entry joins the story of its best match in the window.

    Candidates are found by LSH on the sketch: the ``bands`` smallest values of an entry's
    sketch are its keys (bands of one row: two entries with Jaccard J share their smallest value
    with probability J, so at J = 0.2 sixteen keys find about 97% of pairs; on the labelled set
    97% of the pairs same_story accepts meet), plus its anchors
    (names, places, products, figures) for reports in the other language. A key shared by more
    than ``bucket_cap`` entries is a common word, not evidence, and is skipped; candidates
    sharing fewer than ``min_keys`` keys are not compared (on the labelled set 97% of true
    matches share three or more), and of the rest only the ``verify`` sharing most are. That
    bounds a lookup by the caps, not by the size of the index.

    Single link: the best candidate's story wins, so a rewrite joins through whichever report it
    resembles most, unless some member of that story contradicts the entry (``contradicts``),
    which stops a chain of resemblances from merging two stories. A story is named by its first
    entry's id. An entry that arrives late but was published earlier joins the story without
    renaming it, so ids the store holds stay valid. Entries older than the newest time seen
    minus twice ``WINDOW`` are dropped.
    """

    def __init__(self, bands: int = 16, bucket_cap: int = 100, verify: int = 16, min_keys: int = 2) -> None:
        self.bands, self.bucket_cap, self.verify, self.min_keys = bands, bucket_cap, verify, min_keys
        self._entries: dict[
            Hashable, tuple[Fingerprint, Hashable]
        ] = {}  # entry id -> (fingerprint, story id)
        self._members: dict[Hashable, list[Hashable]] = defaultdict(list)  # story id -> entry ids
        self._buckets: dict[str, dict[int, list[Hashable]]] = defaultdict(
            lambda: defaultdict(list)
        )  # per language
        self._newest = 0
        self._since_purge = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _anchor_keys(self, fp: Fingerprint) -> list[int]:
        return [-a for a in fp.anchors if _kind(a) in _KEYED]  # negative: apart from sketch values

    def _keys(self, fp: Fingerprint) -> list[int]:
        return sorted(fp.sketch)[: self.bands] + self._anchor_keys(fp)

    def _hits(self, buckets: dict[int, list[Hashable]], keys: list[int], limit: int) -> list[Hashable]:
        cap = self.bucket_cap
        hits = Counter(chain.from_iterable(b for b in map(buckets.get, keys) if b and len(b) <= cap))
        found = [(n, entry_id) for entry_id, n in hits.items() if n >= self.min_keys]
        if len(found) > limit:
            found.sort(key=lambda hit: hit[0], reverse=True)
        return [entry_id for _, entry_id in found[:limit]]

    def candidates(self, fp: Fingerprint, keys: list[int] | None = None) -> list[Hashable]:
        """Ids of indexed entries sharing at least ``min_keys`` keys with ``fp``, most first.

        At most ``verify`` in ``fp``'s language (sketch and anchor keys) and ``verify`` in the
        others (anchor keys only: reports in two languages share no shingles).
        """
        found = self._hits(self._buckets[fp.lang], keys or self._keys(fp), self.verify)
        anchor_keys = self._anchor_keys(fp)
        for lang, buckets in self._buckets.items():
            if lang != fp.lang and anchor_keys:
                found += self._hits(buckets, anchor_keys, self.verify)
        return found

    def match(self, fp: Fingerprint, time: datetime | None = None) -> Hashable | None:
        """The story (its first entry's id) that ``fp`` belongs to, or None when it starts one."""
        return self._match(fp if time is None else _at(fp, time), None)

    def _match(self, fp: Fingerprint, keys: list[int] | None) -> Hashable | None:
        best: dict[Hashable, float] = {}
        for entry_id in self.candidates(fp, keys):
            other, story = self._entries[entry_id]
            score = similarity(fp, other)
            if score >= THRESHOLD and score > best.get(story, 0.0):
                best[story] = score
        for story in sorted(best, key=best.__getitem__, reverse=True):
            if not self._contradicted(fp, story):
                return story
        return None

    def _contradicted(self, fp: Fingerprint, story: Hashable) -> bool:
        """Whether a member of ``story`` near ``fp`` in time contradicts it (the newest 64 are asked)."""
        for n, member in enumerate(reversed(self._members[story])):
            if n == 64:
                break
            if contradicts(fp, self._entries[member][0]):
                return True
        return False

    def add(
        self, entry_id: Hashable, fp: Fingerprint, time: datetime | None = None, story: Hashable | None = None
    ) -> None:
        """Index an entry as a member of ``story`` (default: a new story named ``entry_id``)."""
        self._add(entry_id, fp if time is None else _at(fp, time), story, None)

    def _add(
        self, entry_id: Hashable, fp: Fingerprint, story: Hashable | None, keys: list[int] | None
    ) -> None:
        if entry_id in self._entries:
            return
        story = entry_id if story is None else story
        self._entries[entry_id] = (fp, story)
        self._members[story].append(entry_id)
        buckets = self._buckets[fp.lang]
        for key in keys or self._keys(fp):
            bucket = buckets[key]
            if len(bucket) <= self.bucket_cap:
                bucket.append(entry_id)
        self._newest = max(self._newest, fp.time)
        self._since_purge += 1
        if self._since_purge > max(1000, len(self._entries) // 4):
            self._purge()

    def assign(self, entry_id: Hashable, fp: Fingerprint, time: datetime | None = None) -> Hashable:
        """Match, then add: the story id of ``entry_id`` (its own id when it starts a story)."""
        fp = fp if time is None else _at(fp, time)
        keys = self._keys(fp)
        story = self._match(fp, keys)
        self._add(entry_id, fp, story, keys)
        return entry_id if story is None else story

    def _purge(self) -> None:
        self._since_purge = 0
        horizon = self._newest - 2 * _WINDOW_SECONDS
        dead = {i for i, (fp, _) in self._entries.items() if fp.time < horizon}
        if not dead:
            return
        for i in dead:
            del self._entries[i]
        tables: list[dict[Any, list[Hashable]]] = [self._members, *self._buckets.values()]
        for table in tables:
            for key in list(table):
                kept = [i for i in table[key] if i not in dead]
                if kept:
                    table[key] = kept
                else:
                    del table[key]


def _at(fp: Fingerprint, time: datetime) -> Fingerprint:
    seconds = int(time.timestamp())
    if seconds == fp.time:
        return fp
    return Fingerprint(
        seconds, fp.lang, fp.sketch, fp.size, fp.title, fp.summary, fp.anchors, fp.marks, fp.stage
    )
