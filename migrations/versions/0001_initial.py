"""The archive: sources, entries, the sources that carried them, topic matches, full-text index.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("last_polled_at", sa.DateTime),
        sa.Column("last_success_at", sa.DateTime),
        sa.Column("last_status", sa.String(20)),
        sa.Column("last_error", sa.Text),
        sa.Column("failing_since", sa.DateTime),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text),
        sa.Column("guid", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("published_at", sa.DateTime),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
    )
    op.create_index("ix_entries_first_seen", "entries", ["first_seen"])
    op.create_index("ix_entries_published_at", "entries", ["published_at"])
    op.create_table(
        "entry_sources",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("first_seen", sa.DateTime, nullable=False),
    )
    op.create_index("ix_entry_sources_source", "entry_sources", ["source_id"])
    op.create_table(
        "matches",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("topic", sa.String(100), primary_key=True),
        sa.Column("matched_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_matches_topic", "matches", ["topic"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # Token streams from monitor.core.text.tokenize, space-joined; the `ascii` tokenizer
        # keeps every non-ASCII character inside a token, so FTS5 sees exactly our tokens
        # (Latin words, Japanese bigrams) and a 1- or 2-character Japanese term is findable.
        op.execute("CREATE VIRTUAL TABLE entry_fts USING fts5(title, summary, tokenize='ascii')")
    elif dialect == "postgresql":
        # The same tokens as tsvector literals with their positions, one per field, GIN-indexed
        # (monitor/store/pg_search.py): PostgreSQL's own parser never sees the text.
        op.create_table(
            "entry_fts",
            sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"),
                      primary_key=True, autoincrement=False),
            sa.Column("title", postgresql.TSVECTOR, nullable=False),
            sa.Column("summary", postgresql.TSVECTOR, nullable=False),
        )
        op.create_index("ix_entry_fts_title", "entry_fts", ["title"], postgresql_using="gin")
        op.create_index("ix_entry_fts_summary", "entry_fts", ["summary"], postgresql_using="gin")
        # The rare field that a tsvector cannot hold (over 16383 tokens, a token over 2046 bytes
        # or seen over 256 times): its space-padded token text, searched with LIKE.
        op.create_table(
            "entry_fts_spill",
            sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"),
                      primary_key=True, autoincrement=False),
            sa.Column("title", sa.Text),
            sa.Column("summary", sa.Text),
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE entry_fts")
    elif dialect == "postgresql":
        op.drop_table("entry_fts_spill")
        op.drop_table("entry_fts")
    op.drop_table("matches")
    op.drop_table("entry_sources")
    op.drop_table("entries")
    op.drop_table("sources")
