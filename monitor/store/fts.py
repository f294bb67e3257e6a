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

from monitor.core.query import FIELDS, Node, Term
from monitor.store.where import Bind, compile_where

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
    """An SQL condition on ``id_column`` that holds for the entries ``node`` matches, and its
    parameters (see monitor.store.where); the terms of an OR are one MATCH ("a" OR "b" ...)."""
    return compile_where(node, _select_ids, id_column)


def _select_ids(terms: Sequence[Term], bind: Bind) -> str:
    expression = leaf_match(terms[0]) if len(terms) == 1 else " OR ".join(f"({leaf_match(t)})" for t in terms)
    return f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH {bind(expression)}"


WhereClause = Callable[..., tuple[str, dict[str, str]]]


def where_clause_for(dialect: str) -> WhereClause:
    """The ``where_clause`` of the back end for an SQLAlchemy dialect name (``engine.dialect.name``)."""
    if dialect == "sqlite":
        return where_clause
    if dialect == "postgresql":
        from monitor.store import pg_search

        return pg_search.where_clause
    raise ValueError(f"no search back end for {dialect}: use SQLite or PostgreSQL")
