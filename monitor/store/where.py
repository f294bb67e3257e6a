"""The query tree -> an SQL condition on an id column; shared by both search back ends.

The tree walk is the same on SQLite and PostgreSQL: a pure negation (``-foo``) needs SQL NOT,
so each leaf becomes ``id IN (subquery)`` and the tree becomes SQL AND/OR/NOT; the terms of
one OR share one subquery (one index lookup instead of one each, and a long list of
alternatives does not nest SQL past SQLite's depth limit). Only the subquery of a group of
terms differs by back end: ``select_ids(terms, bind)`` writes it, binding every piece of
query text with ``bind`` (equal values share one parameter, ``q0``, ``q1``...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.core.query import And, Node, Not, Term

Bind = Callable[[str], str]  # a value -> its placeholder (":q0")
SelectIds = Callable[[Sequence[Term], Bind], str]  # terms -> "SELECT id ... " where any of them occurs


def compile_where(node: Node, select_ids: SelectIds, id_column: str) -> tuple[str, dict[str, str]]:
    """The SQL condition on ``id_column`` (SQL written by the caller, never user text) and its parameters."""
    params: dict[str, str] = {}
    names: dict[str, str] = {}

    def bind(value: str) -> str:
        if value not in names:
            names[value] = f"q{len(names)}"
            params[names[value]] = value
        return ":" + names[value]

    def build(n: Node) -> str:
        if isinstance(n, Term):
            return f"{id_column} IN ({select_ids([n], bind)})"
        if isinstance(n, Not):
            return f"NOT ({build(n.child)})"
        if isinstance(n, And):
            return "(" + " AND ".join(build(child) for child in n.children) + ")"
        leaves = [child for child in n.children if isinstance(child, Term)]
        parts = [build(child) for child in n.children if not isinstance(child, Term)]
        if leaves:
            parts.insert(0, f"{id_column} IN ({select_ids(leaves, bind)})")
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    return build(node), params
