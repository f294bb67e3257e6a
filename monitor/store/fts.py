"""The SQLite FTS5 back end of the query language: query tree -> SQL over ``entry_fts``.

(``monitor.store.pg_search`` is the PostgreSQL one, with the same shape; ``where_clause_for``
picks one by the engine's dialect name.)

Builds strings only (no connection, no I/O), so it is tested against a bare ``sqlite3``.
The index stores, per entry, each field as the space-joined ``text.tokenize`` output in an
FTS5 table with the ``ascii`` tokenizer: it splits on ASCII spaces and punctuation and treats
every non-ASCII character as part of a token, and our tokens hold only letters and digits, so
FTS5 sees exactly our tokens (CJK bigrams included) and a Term's pattern means the same here
as in ``monitor.core.matcher``.

Each leaf (or the terms of one OR, joined) becomes a ``rowid IN (... MATCH ...)`` subquery
and the tree becomes SQL AND/OR/NOT, because FTS5 MATCH alone cannot express a pure negation
(``-foo``). All query text travels as bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.core.query import FIELDS, And, Node, Not, Term

TABLE = "entry_fts"
COLUMNS = FIELDS  # title, summary, text: one FTS5 column per field
CREATE_TABLE = f"CREATE VIRTUAL TABLE {TABLE} USING fts5({', '.join(COLUMNS)}, tokenize='ascii')"


def index_text(tokens: Sequence[str]) -> str:
    """The column value for one field: its tokens joined by spaces."""
    return " ".join(tokens)


def leaf_match(term: Term) -> str:
    """The FTS5 MATCH expression of one term: ``{title} : "tok tok" *``."""
    phrase = '"' + " ".join(token.replace('"', '""') for token in term.tokens) + '"'
    if term.prefix:
        phrase += " *"
    return f"{{{term.field}}} : {phrase}" if term.field else phrase


def where_clause(node: Node, id_column: str = "entries.id") -> tuple[str, dict[str, str]]:
    """An SQL condition on ``id_column`` that holds for the entries ``node`` matches.

    Returns the SQL and its parameters (``q0``, ``q1``...; equal leaves share one).
    ``id_column`` is SQL written by the caller, never user text.
    """
    params: dict[str, str] = {}
    names: dict[str, str] = {}

    def subquery(expression: str) -> str:
        if expression not in names:
            names[expression] = f"q{len(names)}"
            params[names[expression]] = expression
        return f"{id_column} IN (SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :{names[expression]})"

    def build(n: Node) -> str:
        if isinstance(n, Term):
            return subquery(leaf_match(n))
        if isinstance(n, Not):
            return f"NOT ({build(n.child)})"
        if isinstance(n, And):
            return "(" + " AND ".join(build(child) for child in n.children) + ")"
        # The terms of an OR become one MATCH ("a" OR "b" ...): one index lookup instead of
        # one subquery each, and a long list of alternatives does not nest SQL expressions
        # past SQLite's depth limit.
        leaves = [child for child in n.children if isinstance(child, Term)]
        parts = [build(child) for child in n.children if not isinstance(child, Term)]
        if len(leaves) == 1:
            parts.insert(0, build(leaves[0]))
        elif leaves:
            parts.insert(0, subquery(" OR ".join(f"({leaf_match(t)})" for t in leaves)))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    return build(node), params


WhereClause = Callable[..., tuple[str, dict[str, str]]]


def where_clause_for(dialect: str) -> WhereClause:
    """The ``where_clause`` of the back end for an SQLAlchemy dialect name (``engine.dialect.name``)."""
    if dialect == "sqlite":
        return where_clause
    if dialect == "postgresql":
        from monitor.store import pg_search

        return pg_search.where_clause
    raise ValueError(f"no search back end for {dialect}: use SQLite or PostgreSQL")
