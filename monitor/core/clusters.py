"""Story clusters: do two entries report the same story, and which story does a new entry join?

Pure: no I/O, standard library only. Stories are worked out when they are shown (the digest,
``monitor search --stories``: ``monitor.service.stories``), over the entries shown, so nothing
here is stored and a better rule applies to the whole archive at once. Not responsible for the title a story is shown
under, nor for exact duplicates (canonical URL and Google News target merge those first).

- ``fingerprint(title, summary, time, outlet)``, once per entry: the hashes of its title
  shingles and of its other summary shingles, of its summary and of its anchors (``aliases``),
  the figures and places of its title, the stage its title reports, and its outlet.
- ``similarity(a, b, df)`` in [0, 1]. Same language: the mean of weighted Jaccard and
  containment (a short rewrite inside a long headline is a match) of the terms, title shingles
  counted twice, each term weighted by its inverse document frequency in the window
  (``DocFreq``: 高市総理は, a feed's template, or a wire's boilerplate is no evidence of one
  story; ゆりかもめ is). Across languages only anchors are shared: their weighted Dice overlap,
  rescaled onto the same threshold. Either way it is 0 outside ``WINDOW`` or when the entries
  contradict each other: places each names that the other never does, in title or summary
  (Abilene vs Milam County), other title figures of one kind (the 10th vs the 9th meeting), or
  another stage (a preview, "expected to", 計画案, vs the event vs its 結果), or, for two items
  of one outlet, katakana words each writes and the other does not (one template, other
  names: 日スウェーデン防衛相会談 / 日デンマーク防衛相会談); and past
  ``SAME_DAY`` apart it decays (a follow-up resembles the original). An identical summary under
  different titles is boilerplate: then titles alone count. Two reports of one outlet count
  only from ``SAME_OUTLET`` up, by all their words and by those that are not names (a feed
  tells a story once; its template, or one product's long name, makes its items alike).
  Two reports that share only who (companies, people and products of the alias table, titles 首相,
  CEO, 氏, and words a fifth of the window holds) and no word of what happened count only from
  ``NAMES_ONLY`` up: the same people's two events the same day look alike by their names alone
  (SoftBank shares fall / SoftBank completes its investment in OpenAI), while one meeting told
  twice is mostly names on both sides (Son and Altman visit Ishiba / Ishiba receives Son, Altman).
- ``group`` puts the entries of a window into stories: average link over the pairs that share
  terms (see its docstring).

Why these choices: ``bench/clusters.py`` prints the figures (precision and recall on
tests/data/story_pairs.tsv per method, cross-validated where anything is fitted, microseconds
per entry). A logistic regression over a dozen pair features (title and summary overlap, the
rarest shared word, shared and missing names and figures, time apart, language) did no better
than this one score and its threshold once cross-validated (precision 0.84-0.86 at recall
0.78-0.86, against 0.885/0.911, same language, before the outlet rule), nor did character n-grams
or dropping the bigrams that straddle kana and kanji (に参, で式), nor a table of news-verb
synonyms (shrink/reduce/slash, 停止/立ち往生), nor static word embeddings (WordLlama's, which
ship in its wheel: combined with this score at thresholds chosen on the very set, 0.907/0.907;
they rate the same people's two events alike), nor sentence embeddings (all-MiniLM-L6-v2,
multilingual-e5-small, multilingual USE v3, each with this score: cross-validated same language
0.88-0.90 precision at 0.90-0.91 recall, none past 0.93 even fitted on the set; they measure the
topic, not the event; across languages e5 with the anchor score reached 0.964/0.964, at 40-100
ms per entry and a 91 MB model, so not shipped); contradictions of
other kinds than places (products, companies, summary figures) cost more same-story pairs than
they saved. What is left is paraphrase (shrinks vs reduces the size of 2 monuments in Utah) and
different events of the same companies on the same days, which shared words cannot tell apart.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from hashlib import blake2b
from itertools import chain, combinations, repeat
from math import log
from urllib.parse import urlsplit

from monitor.core import aliases
from monitor.core.linkage import average_link
from monitor.core.shingles import copy_hash, hash64, headline, shingles
from monitor.core.text import normalize

WINDOW = timedelta(days=3)
SAME_DAY = timedelta(hours=24)  # reports of one event come within it; past it the score decays
_WINDOW_SECONDS = WINDOW.total_seconds()
_SAME_DAY_SECONDS = SAME_DAY.total_seconds()
SPAN = 2 * SAME_DAY  # group: a story's first and last report are at most this far apart
_SPAN_SECONDS = SPAN.total_seconds()
DECAY_FLOOR = 0.5  # what the score is worth at the window's edge
THRESHOLD = 0.14  # same language: similarity at or above it is the same story
CROSS_THRESHOLD = 0.5  # across languages, on the anchor-overlap scale
LINK_THRESHOLD = 0.095  # group: two groups of reports whose mean similarity reaches it are one story
_COMMON_TERM = 100  # group: a term more entries hold than this is too common to pair entries by
_RAREST = 3  # group: an entry's rarest terms pair it with the entries they share them with, however common
_FAINT = 0.05  # group: pairs that cannot be this alike are not compared (they count as 0)
SAME_OUTLET = 0.4  # two reports of one outlet are one story only when at least this alike
NAMES_ONLY = 0.35  # two reports that share only names (SoftBank, Takaichi) need at least this
COMMON_SHARE = 0.2  # a word that this share of the window holds is no evidence beside the names
COMMON_MIN_DOCS = 5  # ... and at least this many entries (a small digest)
# Outlets that carry other outlets' reports under their own name (Google News gives them as the
# publisher): two of their items are no more likely to be two stories than any two reports.
AGGREGATORS = frozenset(
    ("yahoo!ニュース", "yahoo news", "yahoo!news", "yahoo", "yahoo finance", "msn", "aol", "aol.com",
     "goo.ne.jp", "gooニュース", "livedoor", "livedoor news", "livedoorニュース", "smartnews", "line news",
     "newspicks", "google news", "dメニューニュース", "excite ニュース", "exciteニュース", "infoseekニュース",
     "au webポータル")
)
# Hosts whose links stand for other outlets' articles (an unresolved Google News link, a Google
# Alerts or Bing News click-through): no outlet.
AGGREGATOR_HOSTS = frozenset(
    ("news.google.com", "google.com", "bing.com", "msn.com", "news.yahoo.co.jp", "news.yahoo.com",
     "yahoo.com", "feedproxy.google.com", "t.co", "smartnews.com", "news.livedoor.com", "news.goo.ne.jp")
)
TITLE_WEIGHT, SUMMARY_WEIGHT, ANCHOR_WEIGHT = 2, 1, 1  # Fingerprint.bag has them built in
PRIOR_DOCS = 50  # DocFreq's smoothing: the window counts as this many entries more

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
    r"|計画案|原案|素案|検討|協議入り|報道(?!発表|受け|を受け)|見通し|予定|開催について|開催案内|入札発行"
)
_AFTER = re.compile(r"\b(?:results|minutes)\b|結果|議事要旨|議事録|議事概要")
_CJK = re.compile(r"[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_KATAKANA = re.compile("[\u30a1-\u30fa\u30fc]{3,}")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What ``similarity`` needs of one entry: worked out when stories are shown, never stored."""

    time: int  # seconds since the epoch: published, else first seen
    lang: str  # "ja" when the title has Japanese or Chinese script, else "en"
    title: frozenset[int]  # 32-bit hashes of the title's shingles
    body: frozenset[int]  # 32-bit hashes of the summary's shingles that are not in the title
    summary: int  # 32-bit hash of the normalised summary, 0 when there is none
    anchors: frozenset[int]  # kind-coded hashes of names and figures in title and summary
    marks: frozenset[int]  # kind-coded hashes of the title's figures and places
    stage: int  # 0 the event, 1 ahead of it (preview, notice, draft), 2 after it (results, minutes)
    outlet: int = 0  # 32-bit hash of the outlet that published it; 0 unknown or an aggregator
    plain: frozenset[int] = frozenset()  # its shingles without companies, people, products, titles
    plain_title: frozenset[int] = frozenset()  # the same of its title alone
    kana: frozenset[int] = frozenset()  # 32-bit hashes of its title's katakana words (names, mostly)
    terms: frozenset[int] = field(init=False, repr=False, compare=False)  # title | body | anchors
    places: frozenset[int] = field(init=False, repr=False, compare=False)  # place anchors, and what holds them
    bag: tuple[int, ...] = field(init=False, repr=False, compare=False)  # terms, title ones twice

    def __post_init__(self) -> None:
        terms = self.title | self.body | self.anchors
        object.__setattr__(self, "terms", terms)
        places = {a for a in self.anchors if _kind(a) == _PLACE}
        object.__setattr__(self, "places", frozenset(places | {_WITHIN[p] for p in places if p in _WITHIN}))
        object.__setattr__(self, "bag", (*terms, *self.title))


def _h32(text: str) -> int:
    return int.from_bytes(blake2b(text.encode(), digest_size=4).digest(), "little")


@lru_cache(maxsize=1 << 12)
def _coded(key: str) -> int:
    return (_CODE[key.split(":", 1)[0]] << 28) | (_h32(key) & 0x0FFFFFFF)


_WITHIN = {_coded(f"place:{small}"): _coded(f"place:{large}") for small, large in aliases.WITHIN.items()}


def _kind(code: int) -> int:
    return code >> 28


def _stage(title: str) -> int:
    return 2 if _AFTER.search(title) else 1 if _AHEAD.search(title) else 0


def weighted_hashes(title: str, summary: str) -> list[int]:
    """The sorted 64-bit hashes of the weighted shingles and anchors (for the sketches
    ``bench/clusters.py`` compares): an element counted w times is w distinct hashes."""
    head = headline(title)
    hashes = {s: hash64(s) for s in set(shingles(head))}
    title_hashes = set(hashes.values())
    if summary:
        hashes.update({s: hash64(s) for s in set(shingles(summary)).difference(hashes)})
    found = aliases.anchors(head) | aliases.anchors(summary) if summary else aliases.anchors(head)
    weighted = [*hashes.values(), *(copy_hash(h, i) for i in range(1, TITLE_WEIGHT) for h in title_hashes)]
    weighted += [copy_hash(hash64("@" + a), i) for a in found for i in range(ANCHOR_WEIGHT)]
    return sorted(weighted)


def _h(shingle: str) -> int:
    return hash64(shingle) & 0xFFFFFFFF


def outlet_of(publisher: str | None, url: str | None) -> str | None:
    """Who published an entry: the publisher its feed names (Google News's, an item's <source>),
    else the host of its article link, without ``www.`` (kantei's items are one outlet, a Google
    Alerts or RSSHub feed's items are their sites'); None when neither tells, or the link is an
    aggregator's. Not the source: one feed (an alert or search feed) carries many outlets."""
    if publisher and publisher.strip():
        return publisher
    host = (urlsplit(url).hostname or "") if url else ""
    host = host.removeprefix("www.")
    return None if not host or host in AGGREGATOR_HOSTS else host


def outlet_key(outlet: str | None) -> int:
    """What ``Fingerprint.outlet`` holds for an outlet's name: 0 for none or an aggregator."""
    name = " ".join(normalize(outlet or "").split())
    return 0 if not name or name in AGGREGATORS else _h32(name)


def fingerprint(title: str, summary: str, time: datetime, outlet: str | None = None) -> Fingerprint:
    """The fingerprint of one entry; ``time`` is aware (published, else first seen); ``outlet``:
    who published it (Google News's publisher, else the feed's source), when known."""
    head = headline(title)
    words = frozenset(map(_h, shingles(head)))
    said = frozenset(map(_h, shingles(summary))) if summary else frozenset()
    in_title = aliases.anchors(head)
    found = in_title | aliases.anchors(summary) if summary else in_title
    plain_title = _without_names(head)
    return Fingerprint(
        time=int(time.timestamp()),
        lang="ja" if len(_CJK.findall(head)) >= 2 else "en",
        title=words,
        body=said - words,
        summary=_h32(normalize(summary).strip()) if summary.strip() else 0,
        anchors=frozenset(_coded(a) for a in found),
        marks=frozenset(_coded(a) for a in in_title if a.split(":", 1)[0] in _MARK_KINDS),
        stage=_stage(normalize(head)),
        outlet=outlet_key(outlet),
        plain=plain_title | _without_names(summary),
        plain_title=plain_title,
        kana=frozenset(_h32(w) for w in _KATAKANA.findall(normalize(head))),
    )


def _without_names(text: str) -> frozenset[int]:
    """The shingle hashes of ``text`` once names and titles are cut out (``aliases.without_names``)."""
    return frozenset(map(_h, shingles(aliases.without_names(text)))) if text else frozenset()


class DocFreq:
    """How many entries of the window hold each shingle and anchor: a word the window's entries
    share is no evidence that two of them report one story (a feed's title template, 高市総理は,
    a wire service's boilerplate), a rare one is (ゆりかもめ, Babylon Fire).

    ``weight(h)`` is a smoothed inverse document frequency, log((N + PRIOR) / (df + 1)): the
    window is taken to hold ``PRIOR`` more entries without the term, so in a small window every
    term weighs about the same (plain overlap) and only what recurs is discounted.
    """

    def __init__(self, prior: int = PRIOR_DOCS) -> None:
        self.prior = prior
        self.docs = 0
        self.counts: Counter[int] = Counter()
        self._logs = [log(n + 1) for n in range(64)]  # log(df + 1), grown as df grows

    def add(self, fp: Fingerprint) -> None:
        self.docs += 1
        self.counts.update(fp.terms)
        if self.docs >= len(self._logs):
            self._logs += [log(n + 1) for n in range(len(self._logs), 2 * len(self._logs))]

    def weight(self, term: int) -> float:
        return log(self.docs + self.prior) - self._logs[self.counts.get(term, 0)]

    def mass(self, terms: Collection[int]) -> float:
        """The summed weight of ``terms`` (the loop in C: this is the hot path of matching)."""
        logs = sum(map(self._logs.__getitem__, map(self.counts.get, terms, repeat(0))))
        return len(terms) * log(self.docs + self.prior) - logs


def _mass(terms: Collection[int], df: DocFreq | None) -> float:
    return len(terms) if df is None else df.mass(terms)


def text_similarity(
    a: Fingerprint, b: Fingerprint, df: DocFreq | None = None, size_a: float = 0.0, size_b: float = 0.0
) -> float:
    """Same-language overlap: the mean of weighted Jaccard and containment (a short rewrite inside
    a long headline is a match). Title shingles count twice, the summary's and anchors once; each
    term by ``df.weight`` (1 without ``df``). Titles alone when the summary is boilerplate.
    ``size_a``, ``size_b``: their weighted sizes when the caller has them (``group`` compares
    every entry with several).
    """
    if a.summary and a.summary == b.summary:
        inter, size_a, size_b = _mass(a.title & b.title, df), _mass(a.title, df), _mass(b.title, df)
    else:
        inter = _mass(a.terms & b.terms, df) + _mass(a.title & b.title, df)
        size_a, size_b = size_a or _mass(a.bag, df), size_b or _mass(b.bag, df)
    return _overlap(inter, size_a, size_b)


def _overlap(inter: float, size_a: float, size_b: float) -> float:
    """The mean of Jaccard and containment, from the weighted sizes of two sets and of their
    intersection."""
    if not inter or not size_a or not size_b:
        return 0.0
    return (inter / (size_a + size_b - inter) + min(1.0, inter / min(size_a, size_b))) / 2


def anchor_similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Weighted Dice overlap of the anchors: what an English and a Japanese report share."""
    total = sum(_CROSS_WEIGHT[_kind(x)] for x in a.anchors) + sum(_CROSS_WEIGHT[_kind(x)] for x in b.anchors)
    return 2 * sum(_CROSS_WEIGHT[_kind(x)] for x in a.anchors & b.anchors) / total if total else 0.0


def _conflict(a: Fingerprint, b: Fingerprint) -> bool:
    """The entries contradict: places each names that the other never does, or title figures of
    one kind that share nothing.

    Places: title or summary (Abilene vs Milam County, though both say Texas; a summary names
    the site a title leaves out); a place includes the one that holds it (``aliases.WITHIN``), so
    "a new Texas site" does not contradict "Milam County". Figures: one title's figures of a kind must overlap the other
    entry's (a story gives several: $30 billion of a $110 billion round).
    """
    if a.places - b.places and b.places - a.places:
        return True
    if not a.marks or not b.marks:
        return False
    for kind in {_kind(m) for m in a.marks} & {_kind(m) for m in b.marks}:
        if kind != _PLACE:
            mine = {m for m in a.marks if _kind(m) == kind}
            theirs = {m for m in b.marks if _kind(m) == kind}
            if not (mine & b.anchors or theirs & a.anchors):
                return True
    return False


def _in_window(a: Fingerprint, b: Fingerprint) -> bool:
    return abs(a.time - b.time) <= _WINDOW_SECONDS


def _decay(a: Fingerprint, b: Fingerprint) -> float:
    """1 within ``SAME_DAY``, then down to ``DECAY_FLOOR`` at the window's edge: reports of one
    event come the same day or so; two days on, alike words more often mean a follow-up."""
    late = abs(a.time - b.time) - _SAME_DAY_SECONDS
    return 1.0 if late <= 0 else 1.0 - (1.0 - DECAY_FLOOR) * late / (_WINDOW_SECONDS - _SAME_DAY_SECONDS)


def _names_only(a: Fingerprint, b: Fingerprint, df: DocFreq | None) -> bool:
    """The entries share only the names of companies, people and products, titles, and words that a
    fifth of the window holds (``COMMON_SHARE``: AI, in a digest of AI topics): no word of what
    happened. Takaichi meets Altman to discuss AI / Takaichi says Japan will not regulate AI.
    Titles alone when the summary is the same boilerplate (as ``text_similarity``)."""
    shared = a.plain_title & b.plain_title if a.summary and a.summary == b.summary else a.plain & b.plain
    if df is None or not shared:
        return not shared
    common = max(COMMON_MIN_DOCS, COMMON_SHARE * df.docs)
    return all(df.counts.get(term, 0) >= common for term in shared)


def contradicts(a: Fingerprint, b: Fingerprint) -> bool:
    """Explicit evidence of two stories in the window: other places, other title figures, another
    stage, or two items of one outlet that each name someone the other does not."""
    return _in_window(a, b) and (a.stage != b.stage or _conflict(a, b) or _other_names(a, b))


def _other_names(a: Fingerprint, b: Fingerprint) -> bool:
    """Two items of one outlet whose titles each hold a katakana word the other does not: one
    template, other names (日スウェーデン防衛相会談について / 日デンマーク防衛相会談について). An
    outlet spells a name one way, so a name it writes in one title and not the other is news."""
    return bool(a.outlet) and a.outlet == b.outlet and bool(a.kana - b.kana) and bool(b.kana - a.kana)


def adjust(score: float, a: Fingerprint, b: Fingerprint, df: DocFreq | None = None) -> float:
    """The rules every method shares: 0 outside the window or when the entries contradict, less
    the further apart in time past a day, and 0 for two reports of one outlet below
    ``SAME_OUTLET``, by all their words and by those that are not names: an outlet tells a
    story once, so its second item on the same people the same week is most often the next
    development (a feed's template, 高市総理は…を受けました, is alike in every item); only its
    companion pieces and revisions are that alike. Two reports
    in one language that share only names count only from ``NAMES_ONLY`` up (``_names_only``)."""
    if not _in_window(a, b) or a.stage != b.stage or _conflict(a, b):
        return 0.0
    score *= _decay(a, b)
    if a.lang == b.lang and score < NAMES_ONLY and _names_only(a, b, df):
        return 0.0
    same_outlet = a.outlet and a.outlet == b.outlet and a.lang == b.lang  # across languages: two editions
    if same_outlet and (score < SAME_OUTLET or _plain_similarity(a, b, df) < SAME_OUTLET):
        return 0.0
    return score


def _plain_similarity(a: Fingerprint, b: Fingerprint, df: DocFreq | None) -> float:
    """``text_similarity`` of what is left without names (``Fingerprint.plain``): one outlet's
    items on one product share its long name (クリスタル・インテリジェンス、大阪に新拠点 /
    クリスタル・インテリジェンス、新社長に山田氏), which alone made them alike past SAME_OUTLET.
    Titles alone when the summary is the same boilerplate (as ``text_similarity``); 1 when
    neither says more than names (Stargate: SoftBank, OpenAI and Oracle, twice)."""
    same_summary = a.summary and a.summary == b.summary
    mine, theirs = (a.plain_title, b.plain_title) if same_summary else (a.plain, b.plain)
    if not mine and not theirs:
        return 1.0
    return _overlap(_mass(mine & theirs, df), _mass(mine, df), _mass(theirs, df))


def similarity(
    a: Fingerprint, b: Fingerprint, df: DocFreq | None = None, size_a: float = 0.0, size_b: float = 0.0
) -> float:
    """How alike two entries are as reports of one story, in [0, 1]; 0 outside the window.

    ``df``: the window's document frequencies (``group``'s caller counts them); without them every
    term weighs the same. ``size_a``, ``size_b``: see ``text_similarity``.
    """
    if a.lang == b.lang:
        return adjust(text_similarity(a, b, df, size_a, size_b), a, b, df)
    return adjust(min(1.0, anchor_similarity(a, b) * THRESHOLD / CROSS_THRESHOLD), a, b)


def same_story(a: Fingerprint, b: Fingerprint, df: DocFreq | None = None) -> bool:
    """Whether two entries report the same story."""
    return similarity(a, b, df) >= THRESHOLD


def group(prints: Sequence[Fingerprint], df: DocFreq | None = None) -> list[int]:
    """The story of each entry, all at once: for each print, the index of the first print of
    its story (the order given; callers give time order, so that is the earliest report).

    Average link over the whole window (``linkage.average_link``): two groups of reports merge,
    the most alike first, while their mean similarity over every cross pair reaches
    ``LINK_THRESHOLD``, unless a member of one contradicts a member of the other
    (``contradicts``) or the story would span more than ``SPAN``. Assigned one at a time in
    time order (an LSH index with average link, which this replaced), an entry could only join
    a story that already existed, so two reports that began two stories stayed apart even when
    later reports showed them one, and a story's members depended on the order they came in.
    On the labelled set, same language, that index reached precision 0.968 at recall 0.872,
    this 0.951 at 0.955; across languages 1.000 at 0.820, this 1.000 at 0.982
    (``bench/clusters.py``, which also cross-validates ``LINK_THRESHOLD``). The mean counts a
    pair that shares no term as 0, and so a pair ``_pairs`` does not compare (see there).
    """
    sizes = [_mass(fp.bag, df) for fp in prints]
    edges = {(i, j): score for i, j in _pairs(prints, df, sizes)
             if (score := similarity(prints[i], prints[j], df, sizes[i], sizes[j])) > 0}

    def may_merge(a: Sequence[int], b: Sequence[int]) -> bool:
        times = [prints[i].time for i in chain(a, b)]
        if max(times) - min(times) > _SPAN_SECONDS:
            return False
        return not any(contradicts(prints[i], prints[j]) for i in a for j in b)

    return average_link(len(prints), edges, LINK_THRESHOLD, may_merge)


def _pairs(prints: Sequence[Fingerprint], df: DocFreq | None, sizes: Sequence[float]) -> list[tuple[int, int]]:
    """The pairs (i < j) within ``WINDOW`` of each other whose similarity can reach ``_FAINT``:
    they share a term in one language or an anchor in any, and what they share weighs enough
    (an upper bound: twice the shared terms' weight over the smaller entry's size). An inverted
    index, not LSH: the mean of average link counts the loose pairs too, and LSH misses a fifth
    of them; a fainter pair adds less than ``_FAINT`` to a mean, and comparing the many pairs
    that share only a common word or two would cost more than all the rest. A term more than
    ``_COMMON_TERM`` entries hold pairs only the entries for which it is one of their
    ``_RAREST`` terms, all compared: a story told by more reports than that (a review found 101
    copies of one headline split into 101 stories) shares nothing rarer."""
    holders: dict[tuple[str, int], list[int]] = defaultdict(list)
    rarest: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, fp in enumerate(prints):
        for term in fp.terms:
            holders[(fp.lang, term)].append(i)
        for anchor in fp.anchors:  # a date or a concept too: across languages they add up
            holders[("", anchor)].append(i)
        for term in sorted(fp.terms, key=lambda t: (df.counts.get(t, 0) if df else 0, t))[:_RAREST]:
            rarest[(fp.lang, term)].append(i)
    shared: dict[tuple[int, int], float] = defaultdict(float)
    compared: set[tuple[int, int]] = set()
    for (lang, term), held in holders.items():
        if len(held) <= 1:
            continue
        if len(held) <= _COMMON_TERM:
            weight = _mass((term,), df)
            for pair in combinations(held, 2):
                shared[pair] += weight
        else:
            compared.update(combinations(rarest.get((lang, term), ()), 2))
    compared.update((i, j) for (i, j), mass in shared.items()
                    if prints[i].lang != prints[j].lang or 2 * mass >= _FAINT * min(sizes[i], sizes[j]))
    return [(i, j) for i, j in compared if _in_window(prints[i], prints[j])]
