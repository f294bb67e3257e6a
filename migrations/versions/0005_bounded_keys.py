"""Bounded keys: an entry key over 1024 bytes is stored as its SHA-256.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

PostgreSQL's unique index on entries.key refuses a row over about 2.7 KB, so one very long
canonical URL failed every poll of its source; monitor.core.intake.bounded_key now keys such
entries by ``sha256:`` and the digest of the key (the URL stays in entries.url). Entries stored
before under a long key are re-keyed here by the same rule, so the next poll finds them
instead of storing them again. The rule is written out, not imported: a migration must mean
the same thing whatever the code becomes.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MAX_KEY_BYTES = 1024
RESTORABLE_BYTES = 2000  # below PostgreSQL's btree limit (about 2.7 KB) even uncompressed
_entries = sa.table("entries", sa.column("id", sa.Integer), sa.column("key", sa.Text), sa.column("url", sa.Text))


def upgrade() -> None:
    conn = op.get_bind()
    long_keys = conn.execute(sa.select(_entries.c.id, _entries.c.key)
                             .where(sa.func.length(_entries.c.key) > MAX_KEY_BYTES // 4)).all()
    for entry_id, key in long_keys:
        data = key.encode("utf-8", "surrogatepass")
        if len(data) > MAX_KEY_BYTES:
            conn.execute(sa.update(_entries).where(_entries.c.id == entry_id)
                         .values(key="sha256:" + hashlib.sha256(data).hexdigest()))


def downgrade() -> None:
    """An entry keyed by its URL gets it back when PostgreSQL can index it (up to
    ``RESTORABLE_BYTES``; the URL column keeps it either way). Longer ones, and those keyed by a
    long feed id, keep the digest, which the older code reads as an id it never sees again."""
    conn = op.get_bind()
    hashed = conn.execute(sa.select(_entries.c.id, _entries.c.url)
                          .where(_entries.c.key.like("sha256:%"), _entries.c.url.is_not(None))).all()
    for entry_id, url in hashed:
        if len(url.encode("utf-8", "surrogatepass")) <= RESTORABLE_BYTES:
            conn.execute(sa.update(_entries).where(_entries.c.id == entry_id).values(key=url))
