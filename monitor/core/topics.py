"""An entry's analysis: its tokens (for the search index) and the topics it matches.

Pure: no I/O. Tokenising once and using the tokens for both the matcher and the FTS index
keeps the two back ends of the query language in step and halves the work per entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.core.matcher import Document, Hit, Matcher
from monitor.core.query import FIELDS, Node
from monitor.core.text import tokenize


@dataclass(frozen=True, slots=True)
class Analysis:
    tokens: tuple[str, ...]  # each field's tokens, space-joined, in FIELDS order (the index's columns)
    topics: tuple[str, ...]
    hits: dict[str, tuple[Hit, ...]]  # topic -> the query terms that matched, and where


class TopicSet:
    """The configured topics, compiled once, evaluated together per entry."""

    def __init__(self, topics: Sequence[tuple[str, Node]]) -> None:
        self.names = tuple(name for name, _ in topics)
        self._order = {name: i for i, name in enumerate(self.names)}
        self._matcher = Matcher(dict(topics))

    def analyse(self, title: str, summary: str, text: str = "") -> Analysis:
        fields = {"title": tokenize(title), "summary": tokenize(summary), "text": tokenize(text) if text else []}
        found = self._matcher.explain(Document.from_tokens(fields))
        ordered = tuple(sorted(found, key=self._order.__getitem__))  # config order
        return Analysis(tuple(" ".join(fields[f]) for f in FIELDS), ordered, found)
