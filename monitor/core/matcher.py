"""The Python back end of the query language: does a query tree match a document?

Pure: no I/O, standard library only. ``monitor.store.fts`` is the other back end; both read
the same tokens (``text.tokenize``) and the same term patterns (``query.pattern``).

A term matches when its pattern tokens occur at consecutive positions of one field (the
term's field, or any field), the last one as a prefix when the term says so.

``Matcher`` evaluates many topics per document: leaves are shared and deduplicated across
topics, only leaves whose first token the document holds are checked, and only topics that
hold a true leaf (or that match an empty document, like ``-foo``) are evaluated. It does not
store anything itself: it returns, per matching topic, the labels of the terms that made
it match (``reasons``: a term of a branch that failed, or under a NOT, is no reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitor.core.query import And, Node, Not, Term, terms
from monitor.core.text import tokenize


@dataclass(frozen=True, slots=True)
class Document:
    """Token lists per field (``title``, ``summary``; later ``text``) and their vocabularies."""

    fields: Mapping[str, tuple[str, ...]]
    vocab: Mapping[str, frozenset[str]]

    @classmethod
    def from_tokens(cls, fields: Mapping[str, Iterable[str]]) -> Document:
        """Build from tokens already made (the store tokenises once for FTS and matching)."""
        tokens = {name: tuple(toks) for name, toks in fields.items()}
        return cls(tokens, {name: frozenset(toks) for name, toks in tokens.items()})


def document(title: str, summary: str = "") -> Document:
    """The matchable form of an entry's title and summary."""
    return Document.from_tokens({"title": tokenize(title), "summary": tokenize(summary)})


def occurs(tokens: Sequence[str], prefix: bool, field: Sequence[str], vocab: frozenset[str]) -> bool:
    """Whether ``tokens`` occur at consecutive positions of ``field`` (last as prefix if asked)."""
    head = tokens[0]
    n = len(tokens)
    if n == 1:
        return _any_starts(vocab, head) if prefix else head in vocab
    for token in tokens[:-1] if prefix else tokens:
        if token not in vocab:
            return False
    middle, last = tuple(tokens[1:-1]), tokens[-1]
    start, stop = 0, len(field) - n + 1
    while start < stop:
        try:
            i = field.index(head, start, stop)
        except ValueError:
            return False
        if tuple(field[i + 1 : i + n - 1]) == middle and (
            field[i + n - 1].startswith(last) if prefix else field[i + n - 1] == last
        ):
            return True
        start = i + 1
    return False


def _any_starts(vocab: Iterable[str], start: str) -> bool:
    for token in vocab:
        if token.startswith(start):
            return True
    return False


def term_occurs(term: Term, doc: Document) -> bool:
    """Whether ``term`` occurs in its field, or in any single field when it has none."""
    names = doc.fields if term.field is None else (term.field,) if term.field in doc.fields else ()
    return any(occurs(term.tokens, term.prefix, doc.fields[name], doc.vocab[name]) for name in names)


def matches(node: Node, doc: Document) -> bool:
    """Whether the query tree ``node`` matches ``doc``."""
    if isinstance(node, Term):
        return term_occurs(node, doc)
    if isinstance(node, Not):
        return not matches(node.child, doc)
    if isinstance(node, And):
        return all(matches(child, doc) for child in node.children)
    return any(matches(child, doc) for child in node.children)


def hits(node: Node, doc: Document) -> tuple[str, ...]:
    """Labels of the terms that made ``node`` match ``doc`` (``reasons``), first seen first."""
    found = {id(t) for t in reasons(node, lambda t: term_occurs(t, doc))}
    return tuple(dict.fromkeys(t.label for t, _ in terms(node) if id(t) in found))


def reasons(node: Node, holds: Callable[[Term], bool], truth: bool = True) -> list[Term]:
    """The terms that occur and make ``node`` come out ``truth``: what a match is explained by.

    Only the branches that decided count: in ``AI基本計画 OR (政府 -閣議)`` over 政府、AI基本計画を
    閣議決定, 政府 occurs but its branch is false, so it explains nothing. A NOT turns the
    question round: ``ai -(dubai -mumbai)`` holds on "AI in Dubai and Mumbai" because of ai and
    mumbai. A term that is absent, or sits under a NOT that held, is never a reason.
    """
    if isinstance(node, Term):
        return [node] if truth and holds(node) else []
    if isinstance(node, Not):
        return reasons(node.child, holds, not truth)
    decisive = isinstance(node, And) != truth  # an AND that failed, an OR that held: some children
    children = [c for c in node.children if _value(c, holds) == truth] if decisive else node.children
    return [t for child in children for t in reasons(child, holds, truth)]


def _value(node: Node, holds: Callable[[Term], bool]) -> bool:
    if isinstance(node, Term):
        return holds(node)
    if isinstance(node, Not):
        return not _value(node.child, holds)
    if isinstance(node, And):
        return all(_value(c, holds) for c in node.children)
    return any(_value(c, holds) for c in node.children)


_Leaf = tuple[tuple[str, ...], bool, str | None]  # tokens, prefix, field: what a Term means
_Test = Callable[[set[int]], bool]  # true leaf ids -> does the topic match?


def _compile(node: Node, leaf_id: Callable[[Term], int]) -> _Test:
    """Turn a tree into nested closures; groups of plain terms become one set operation."""
    if isinstance(node, Term):
        lid = leaf_id(node)
        return lambda true: lid in true
    if isinstance(node, Not):
        inner = _compile(node.child, leaf_id)
        return lambda true: not inner(true)
    ids = frozenset(leaf_id(c) for c in node.children if isinstance(c, Term))
    subs = [_compile(c, leaf_id) for c in node.children if not isinstance(c, Term)]
    if isinstance(node, And):
        if not subs:
            return ids.issubset
        return lambda true: ids.issubset(true) and all(sub(true) for sub in subs)
    if not subs:
        return lambda true: not ids.isdisjoint(true)
    return lambda true: not ids.isdisjoint(true) or any(sub(true) for sub in subs)


class Matcher:
    """Many named topics, evaluated together against one document at a time."""

    def __init__(self, topics: Mapping[str, Node]) -> None:
        self._names = list(topics)
        self._trees = list(topics.values())
        self._leaves: list[_Leaf] = []
        ids: dict[_Leaf, int] = {}
        self._ids = ids
        self._tests: list[_Test] = []
        self._positive: list[list[tuple[int, str, Term]]] = []
        self._topics_of: dict[int, list[int]] = {}

        def leaf_id(node: Term) -> int:
            key = (node.tokens, node.prefix, node.field)
            if key not in ids:
                ids[key] = len(self._leaves)
                self._leaves.append(key)
            return ids[key]

        for index, node in enumerate(topics.values()):
            self._tests.append(_compile(node, leaf_id))
            leaf_terms = [(leaf_id(t), t, positive) for t, positive in terms(node)]
            self._positive.append([(lid, t.label, t) for lid, t, positive in leaf_terms if positive])
            for lid, _, _ in leaf_terms:
                self._topics_of.setdefault(lid, []).append(index)
        # Topics true on a document with no true leaf (``-foo``) are always evaluated.
        self._always = [i for i, test in enumerate(self._tests) if test(set())]
        # Leaves are found by their first token: exactly, or by its first character when
        # the leaf is one prefix token (``invest*``, one-character Japanese ``米``).
        self._by_head: dict[str, list[tuple[int, tuple[str, ...], bool, str | None]]] = {}
        self._by_initial: dict[str, list[tuple[int, str, str | None]]] = {}
        for lid, (tokens, prefix, field) in enumerate(self._leaves):
            if len(tokens) == 1 and prefix:
                self._by_initial.setdefault(tokens[0][0], []).append((lid, tokens[0], field))
            else:
                self._by_head.setdefault(tokens[0], []).append((lid, tokens, prefix, field))
        self._heads = frozenset(self._by_head)
        self._initials = frozenset(self._by_initial)

    def true_leaves(self, doc: Document) -> set[int]:
        """Ids of the leaves that occur in ``doc``."""
        true: set[int] = set()
        for name, vocab in doc.vocab.items():
            tokens = doc.fields[name]
            for head in self._heads.intersection(vocab):
                for lid, pattern, prefix, field in self._by_head[head]:
                    if lid in true or (field is not None and field != name):
                        continue
                    if len(pattern) == 1 or occurs(pattern, prefix, tokens, vocab):
                        true.add(lid)
            if self._initials:
                # Group the document's tokens by first character once, so a prefix leaf
                # scans only the few tokens that could start with it.
                groups: dict[str, list[str]] = {}
                for token in vocab:
                    groups.setdefault(token[0], []).append(token)
                for initial in self._initials.intersection(groups):
                    for lid, start, field in self._by_initial[initial]:
                        if lid in true or (field is not None and field != name):
                            continue
                        # One character: a token starting with it is here, we just saw it.
                        if len(start) == 1 or _any_starts(groups[initial], start):
                            true.add(lid)
        return true

    def match(self, doc: Document) -> dict[str, tuple[str, ...]]:
        """Topic name -> labels of the terms that matched, for each topic ``doc`` matches."""
        true = self.true_leaves(doc)
        candidates = set(self._always)
        for lid in true:
            candidates.update(self._topics_of[lid])
        result: dict[str, tuple[str, ...]] = {}
        for index in sorted(candidates):
            if self._tests[index](true):
                why = self._reasons(index, true)
                labels = (label for _, label, term in self._positive[index] if id(term) in why)
                result[self._names[index]] = tuple(dict.fromkeys(labels))
        return result

    def _reasons(self, index: int, true: set[int]) -> set[int]:
        """The terms (by ``id``: two terms may share a leaf, OpenAI and openai, and only one of
        them decide) that made topic ``index`` match (``reasons``): worked out for the few
        topics that match an entry, by walking their trees."""
        ids = self._ids

        def holds(term: Term) -> bool:
            return ids[(term.tokens, term.prefix, term.field)] in true

        return {id(t) for t in reasons(self._trees[index], holds)}

    def explain(self, doc: Document) -> dict[str, tuple[Hit, ...]]:
        """Like ``match``, with where each term hit: topic -> (term label, fields) per term.

        Fields are only worked out for the topics that matched, which are few per entry.
        """
        true = self.true_leaves(doc)
        candidates = set(self._always)
        for lid in true:
            candidates.update(self._topics_of[lid])
        result: dict[str, tuple[Hit, ...]] = {}
        for index in sorted(candidates):
            if not self._tests[index](true):
                continue
            hits: dict[str, list[str]] = {}
            why = self._reasons(index, true)
            for lid, label, term in self._positive[index]:
                if id(term) in why and label not in hits:
                    hits[label] = self._fields_of(lid, doc)
            result[self._names[index]] = tuple(Hit(label, tuple(fields)) for label, fields in hits.items())
        return result

    def _fields_of(self, lid: int, doc: Document) -> list[str]:
        tokens, prefix, only = self._leaves[lid]
        return [name for name, field in doc.fields.items()
                if (only is None or only == name) and occurs(tokens, prefix, field, doc.vocab[name])]


@dataclass(frozen=True, slots=True)
class Hit:
    """One query term that matched, and the fields it was found in (title, summary, text)."""

    term: str
    fields: tuple[str, ...]
