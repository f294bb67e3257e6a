"""Parsed drafts -> archive: identity, matching, indexing, one transaction per poll.

Orchestration only: the decisions are monitor.core.intake's and the matcher's; the writes
are the Archive's. Shared by `monitor poll`, `monitor run` and bench/pipeline.py, so the
benchmark measures the code users run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from monitor.core.entry import EntryDraft
from monitor.core.intake import Identified, Known, credible, decide, identify
from monitor.core.topics import TopicSet
from monitor.store.archive import Archive, Indexed, Plan, PollRecord, TextReader

SHORT_SUMMARY = 280  # characters: a summary shorter than this says too little to match on


@dataclass(frozen=True, slots=True)
class Ingested:
    new: int
    revised: int
    matched: int
    skipped: int
    new_ids: tuple[int, ...]


class Pipeline:
    """Stores what one poll of one source found and matches it against the topics."""

    def __init__(self, archive: Archive, topics: TopicSet, *, alert_topics: frozenset[str] = frozenset(),
                 alert_floor: Callable[[datetime], datetime] | None = None,
                 article_topics: frozenset[str] = frozenset(),
                 queries: Mapping[str, str] | None = None) -> None:
        self.archive = archive
        self.topics = topics
        self.queries = queries  # the topics' query texts: a change elsewhere is noticed at each poll
        self.alert_topics = alert_topics  # `alert: immediate`: their new matches are queued with the poll
        self.alert_floor = alert_floor  # ... unless published before what this gives for now
        self.article_topics = article_topics  # `fetch_article: true`: their new matches' pages are queued

    def ingest(self, source_id: int, source_name: str, drafts: list[EntryDraft], *, now: datetime,
               record: PollRecord, skipped: int = 0, fetch_article: bool = False) -> Ingested:
        """`fetch_article`: the source asks for the article page of every new entry (a topic
        with `fetch_article` asks for those it matches); the wanted pages are queued with the poll."""
        identified = credible(identify(drafts, source_name), now)
        skipped += sum(1 for i in identified if i.key is None)

        def plan(known: dict[str, Known], texts: TextReader) -> Plan:
            return self._plan(identified, source_id, known, texts, fetch_article)

        applied = self.archive.ingest(source_id, [i.key for i in identified if i.key], plan, now=now,
                                      record=record, alert_topics=self.alert_topics,
                                      alert_since=self.alert_floor(now) if self.alert_floor else None,
                                      queries=self.queries)
        return Ingested(applied.new, applied.revised, applied.matched, skipped, applied.new_ids)

    def _plan(self, identified: list[Identified], source_id: int, known: dict[str, Known],
              texts: TextReader, fetch_article: bool) -> Plan:
        """Work done inside the write transaction: decide, tokenise, match. A revised entry is
        matched and indexed with the article text stored for it (revisions are few)."""
        intents = decide(identified, source_id=source_id, known=known)
        new = {e.key: self._index(e.title, e.summary) for e in intents.new}
        stored = texts([r.entry_id for r in intents.revisions]) if intents.revisions else {}
        revised = {r.entry_id: self._index(r.title, r.summary, stored.get(r.entry_id, ""))
                   for r in intents.revisions}
        articles = frozenset(e.key for e in intents.new if e.url and len(e.summary) < SHORT_SUMMARY and (
            fetch_article or not self.article_topics.isdisjoint(new[e.key].topics)))
        return Plan(intents, new, revised, articles)

    def _index(self, title: str, summary: str, text: str = "") -> Indexed:
        analysed = self.topics.analyse(title, summary, text)
        return Indexed(analysed.tokens, analysed.topics, analysed.hits)
