"""Source reading: the selectors an html source's validators were earned with.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28

An html source whose ``item`` selector matched nothing, fixed in the config, was polled with
the old ETag and Last-Modified, got 304 Not Modified, and stayed empty until the page itself
changed. ``sources.reading`` holds a digest of the selectors (``SourceConfig.reading``) that
the stored validators were earned with, written by the poll that earned them; a poll with
other selectors sends none, and a changed config makes a healthy source due at once. Existing
rows start empty: html sources are fetched whole once more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("reading", sa.String(64)))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), as in 0004: batch mode would rebuild the
    # table, and dropping the old one deletes every row that refers to it (ON DELETE CASCADE).
    op.drop_column("sources", "reading")
