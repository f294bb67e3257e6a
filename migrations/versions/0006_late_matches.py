"""Late matches: when an entry's article text first made it match a topic.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

An entry whose feed item matched no topic can match once its article page is fetched, which
happens after the poll's transaction, paced one request per host per second. Its first_seen
may then lie in a digest window that was already made, and the digest selected by first_seen
alone: such an entry was in no digest. ``late_match_at`` records when the article text made it
match; the digest counts the entry then instead (monitor.store.reading). Null for every entry
stored before: what they matched by their articles was counted by first_seen, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("late_match_at", sa.DateTime))
    op.create_index("ix_entries_late_match_at", "entries", ["late_match_at"])


def downgrade() -> None:
    op.drop_index("ix_entries_late_match_at", table_name="entries")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would rebuild the table, and
    # dropping the old one deletes, by ON DELETE CASCADE, every row that refers to it.
    op.drop_column("entries", "late_match_at")
