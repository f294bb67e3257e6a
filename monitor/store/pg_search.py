"""The PostgreSQL back end of the query language: query tree -> SQL over ``entry_fts``.

The same tokens as everywhere (``monitor.core.text.tokenize``), never PostgreSQL's parser:
its idea of a word differs from ours and depends on the locale. Per entry, each field
(title, summary) is one ``tsvector`` written literally from our tokens with their positions
(``'sb':1 'openai':2 'japan':3``), so a phrase cannot straddle the two fields; both columns
are GIN-indexed. Each leaf is a ``tsquery`` written literally too: its tokens joined by
``<->`` (adjacent, in order), the last one ``:*`` when it is a prefix. A literal cast
(``CAST(... AS tsquery)``) applies no dictionary, stemming or case folding, and lexemes
compare byte by byte, so a Term's pattern means here what it means in
``monitor.core.matcher``.

A ``tsvector`` cannot hold every field: a lexeme is at most 2046 bytes, a position at most
16383 (larger ones are silently clamped), a lexeme keeps at most 256 positions (the rest are
silently dropped) and the whole value is at most 1 MiB. A field that would break one of these
limits gets an empty vector and is *spilled* instead: its token text, space-joined and padded
with a space on each side, goes to ``entry_fts_spill``, where a leaf is a ``LIKE`` pattern
(``% sb openai japan %``, or ``% sb openai jap%`` for a prefix). Spilled fields are rare
(the feed parser caps titles at 1,000 characters and summaries at 5,000), the table is
small, and search stays exact for them too. Our tokens hold only letters and digits, so the
quoting and the ``LIKE`` escaping below never change one; they are there for safety.

Each leaf (or the terms of one OR, joined per field with ``|``) becomes an
``id IN (SELECT entry_id ...)`` subquery and the tree becomes SQL AND/OR/NOT, as on SQLite,
so a pure negation (``-foo``) works. All query text travels as bound parameters.

Builds strings only, besides ``write_index``/``delete_index`` (the archive's writes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, bindparam, text

from monitor.core.query import FIELDS, Node, Term
from monitor.store.where import Bind, compile_where

TABLE = "entry_fts"
SPILL_TABLE = "entry_fts_spill"
COLUMNS = FIELDS  # title, summary, text: one tsvector column (and one spill column) per field

MAX_LEXEME_BYTES = 2046  # "word is too long (2047 bytes, max 2046 bytes)"
MAX_POSITION = 16383  # larger positions are clamped to 16383
MAX_POSITIONS_PER_LEXEME = 256  # later positions of a lexeme are dropped
MAX_VECTOR_BYTES = 1_000_000  # PostgreSQL refuses a tsvector over 1,048,575 bytes; stay well clear

_INSERT = text(
    f"INSERT INTO {TABLE} (entry_id, {', '.join(COLUMNS)}) "
    f"VALUES (:id, {', '.join(f'CAST(:{c} AS tsvector)' for c in COLUMNS)})"
)
_INSERT_SPILL = text(f"INSERT INTO {SPILL_TABLE} (entry_id, {', '.join(COLUMNS)}) "
                     f"VALUES (:id, {', '.join(':' + c for c in COLUMNS)})")
_DELETE = text(f"DELETE FROM {TABLE} WHERE entry_id IN :ids").bindparams(bindparam("ids", expanding=True))
_DELETE_SPILL = text(f"DELETE FROM {SPILL_TABLE} WHERE entry_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def quote(token: str) -> str:
    """A lexeme as ``tsvector``/``tsquery`` input: in single quotes, ``'`` and ``\\`` doubled."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: Sequence[str]) -> str | None:
    """``'tok':1 'tok2':2 ...`` for one field's tokens; None when the field does not fit a tsvector."""
    count = len(tokens)
    if not count:
        return ""
    if count > MAX_POSITION:
        return None
    longest = max(map(len, tokens))
    if longest * 4 > MAX_LEXEME_BYTES and max(len(t.encode()) for t in tokens) > MAX_LEXEME_BYTES:
        return None  # (4 bytes a character at most in UTF-8: only long tokens are encoded)
    if count > MAX_POSITIONS_PER_LEXEME and max(Counter(tokens).values()) > MAX_POSITIONS_PER_LEXEME:
        return None
    if count * (longest * 4 + 10) > MAX_VECTOR_BYTES:
        distinct = set(tokens)
        if sum(len(t.encode()) + 8 for t in distinct) + 2 * count > MAX_VECTOR_BYTES:
            return None
    joined = "".join(tokens)
    if "'" in joined or "\\" in joined:  # never from monitor.core.text.tokenize
        return " ".join([f"{quote(token)}:{position}" for position, token in enumerate(tokens, start=1)])
    return " ".join([f"'{token}':{position}" for position, token in enumerate(tokens, start=1)])


def spill_text(tokens: Sequence[str]) -> str:
    """A field's tokens for ``LIKE`` search: space-joined, one space before and after."""
    return " " + " ".join(tokens) + " "


def index_values(entry_id: int, fields: Sequence[str]) -> tuple[dict, dict | None]:
    """The ``entry_fts`` row of one entry, and its ``entry_fts_spill`` row when a field spills.

    The token arguments are space-joined ``tokenize`` output, as ``monitor.core.topics`` makes
    them (tokens never hold whitespace, so ``split()`` gives them back exactly).
    """
    row: dict = {"id": entry_id}
    spill: dict = {"id": entry_id}
    spilled = False
    for column, joined in zip(COLUMNS, fields, strict=True):
        tokens = joined.split()
        literal = tsvector_literal(tokens)
        if literal is None:
            row[column], spill[column], spilled = "", spill_text(tokens), True
        else:
            row[column], spill[column] = literal, None
    return row, spill if spilled else None


def write_index(conn: Connection, indexed: Iterable[tuple[int, Sequence[str]]]) -> None:
    """Index (entry id, per-field tokens in COLUMNS order) rows, in the caller's transaction."""
    rows, spills = [], []
    for entry_id, fields in indexed:
        row, spill = index_values(entry_id, fields)
        rows.append(row)
        if spill is not None:
            spills.append(spill)
    if rows:
        conn.execute(_INSERT, rows)
    if spills:
        conn.execute(_INSERT_SPILL, spills)


def delete_index(conn: Connection, ids: Sequence[int]) -> None:
    """Forget the index rows of these entries (before they are indexed again)."""
    if ids:
        conn.execute(_DELETE, {"ids": list(ids)})
        conn.execute(_DELETE_SPILL, {"ids": list(ids)})


def leaf_tsquery(term: Term) -> str | None:
    """The tsquery of one term: ``'sb' <-> 'openai' <-> 'jap':*``.

    None when a token is too long to be a lexeme, or the phrase is longer than any vector:
    such a term can then only occur in a spilled field.
    """
    if len(term.tokens) > MAX_POSITION or any(len(t.encode()) > MAX_LEXEME_BYTES for t in term.tokens):
        return None
    query = " <-> ".join(quote(token) for token in term.tokens)
    return query + ":*" if term.prefix else query


def _like_escape(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(term: Term) -> str:
    """The ``LIKE`` pattern of one term over a spilled field (``spill_text``)."""
    body = " ".join(_like_escape(token) for token in term.tokens)
    return f"% {body}%" if term.prefix else f"% {body} %"


def where_clause(node: Node, id_column: str = "entries.id") -> tuple[str, dict[str, str]]:
    """An SQL condition on ``id_column`` that holds for the entries ``node`` matches, and its
    parameters (see monitor.store.where); the terms of an OR are one tsquery per field, joined by |."""
    return compile_where(node, _select_ids, id_column)


def _select_ids(leaves: Sequence[Term], bind: Bind) -> str:
    """Entries where at least one of ``leaves`` occurs: in a field's vector, or in a spilled field."""
    vector_tests: list[str] = []
    for column in COLUMNS:
        queries = [q for t in leaves if t.field in (None, column) and (q := leaf_tsquery(t)) is not None]
        if queries:
            query = queries[0] if len(queries) == 1 else " | ".join(f"({q})" for q in queries)
            vector_tests.append(f"{column} @@ CAST({bind(query)} AS tsquery)")
    spill_tests: list[str] = []
    for t in leaves:
        pattern = bind(like_pattern(t))
        spill_tests.extend(f"{column} LIKE {pattern}" for column in COLUMNS if t.field in (None, column))
    selects = [f"SELECT entry_id FROM {TABLE} WHERE {' OR '.join(vector_tests)}"] if vector_tests else []
    selects.append(f"SELECT entry_id FROM {SPILL_TABLE} WHERE {' OR '.join(spill_tests)}")
    return " UNION ALL ".join(selects)
