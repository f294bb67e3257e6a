"""Rebuild the search index from the entries, with the tokens this version of monitor makes.

The index holds ``monitor.core.text.tokenize`` output, not text: when the tokens change (a
number and its unit, ``1.5GW``, became ``1٫5 gw``), entries indexed before would not be found
by queries parsed the new way. A migration that changes the tokens calls ``rebuild`` in its
transaction, so a failed upgrade leaves the old index whole. It also forgets which query each
topic was last matched with: matches were made with the old tokens too, so the next
``run``, ``poll`` or ``digest`` matches the archive again (which never changes ``first_seen``
nor sends an alert).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from monitor.core.text import tokenize
from monitor.store import pg_search
from monitor.store.fts import index_text

_BATCH = 1000


def rebuild(conn: Connection) -> int:
    """Index every entry again, in the caller's transaction; the number of entries."""
    sqlite = conn.dialect.name == "sqlite"
    conn.execute(text("DELETE FROM entry_fts"))
    if not sqlite:
        conn.execute(text("DELETE FROM entry_fts_spill"))
    done, last = 0, 0
    page = text("SELECT id, title, summary, text FROM entries WHERE id > :last ORDER BY id LIMIT :n")
    while rows := conn.execute(page, {"last": last, "n": _BATCH}).all():
        indexed = [(r.id, tuple(index_text(tokenize(field or "")) for field in (r.title, r.summary, r.text)))
                   for r in rows]
        if sqlite:
            conn.exec_driver_sql("INSERT INTO entry_fts(rowid, title, summary, text) VALUES (?, ?, ?, ?)",
                                 [(i, *fields) for i, fields in indexed])
        else:
            pg_search.write_index(conn, indexed)
        done, last = done + len(rows), rows[-1].id
    conn.execute(text("DELETE FROM topics"))
    return done
