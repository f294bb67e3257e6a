"""Article queue: new entries whose article page is wanted and not fetched yet.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Article pages were fetched right after the poll that found their entries, from a list held in
memory: a shutdown (which abandons a poll after 10 s, while pages are paced one per second per
host), a crash or one failed request meant the page was never fetched, and a topic matched
only through it never matched. The queue is written in the poll's transaction; the source's
next poll fetches what is left. ``matched`` holds the topics the entry matched when stored (a
JSON list): whether its page brings a late match, or a new alert, is judged against them.
Entries stored before are not queued: their chance has passed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_queue",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("next_try_at", sa.DateTime, nullable=False),
        sa.Column("matched", sa.Text, nullable=False),
    )
    op.create_index("ix_article_queue_source", "article_queue", ["source_id", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_article_queue_source", table_name="article_queue")
    op.drop_table("article_queue")
