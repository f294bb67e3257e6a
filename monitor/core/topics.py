"""An entry's analysis: its tokens (for the search index) and the topics it matches.

Pure: no I/O. Tokenising once and using the tokens for both the matcher and the FTS index
keeps the two back ends of the query language in step and halves the work per entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.core.matcher import Document, Matcher
from monitor.core.query import Node
from monitor.core.text import tokenize


@dataclass(frozen=True, slots=True)
class Analysis:
    title_tokens: str
    summary_tokens: str
    topics: tuple[str, ...]
    terms: dict[str, tuple[str, ...]]  # topic -> labels of the query terms that matched


class TopicSet:
    """The configured topics, compiled once, evaluated together per entry."""

    def __init__(self, topics: Sequence[tuple[str, Node]]) -> None:
        self.names = tuple(name for name, _ in topics)
        self._order = {name: i for i, name in enumerate(self.names)}
        self._matcher = Matcher(dict(topics))

    def analyse(self, title: str, summary: str) -> Analysis:
        title_tokens, summary_tokens = tokenize(title), tokenize(summary)
        found = self._matcher.match(Document.from_tokens({"title": title_tokens, "summary": summary_tokens}))
        ordered = tuple(sorted(found, key=self._order.__getitem__))  # config order
        return Analysis(" ".join(title_tokens), " ".join(summary_tokens), ordered, found)
