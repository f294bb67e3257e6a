"""Coverage: why each match matched, topic queries remembered, article text, publishers and
Google News links.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

- matches.terms: the query terms that hit and where (JSON), for the digest and search;
- topics: each topic's query as last matched, so a changed query re-matches the archive;
- entries.text: an article's main text when fetched (fetch_article); it is indexed and
  matched like title and summary, so the search index gains a `text` column;
- entries.publisher: the outlet named by an aggregator (Google News "Headline - Outlet");
- google_links: Google News redirect links resolved to the publisher's URL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("terms", sa.Text))
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("text", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("publisher", sa.Text))
    op.create_table(
        "topics",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("matched_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "google_links",
        sa.Column("google_url", sa.Text, primary_key=True),
        sa.Column("publisher_url", sa.Text),
        sa.Column("resolved_at", sa.DateTime, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # FTS5 tables cannot gain a column: build the new one and copy the token columns over.
        op.execute("CREATE VIRTUAL TABLE entry_fts_new USING fts5(title, summary, text, tokenize='ascii')")
        op.execute("INSERT INTO entry_fts_new(rowid, title, summary, text) SELECT rowid, title, summary, '' "
                   "FROM entry_fts")
        op.execute("DROP TABLE entry_fts")
        op.execute("ALTER TABLE entry_fts_new RENAME TO entry_fts")
    elif dialect == "postgresql":
        op.add_column("entry_fts", sa.Column("text", postgresql.TSVECTOR, nullable=False,
                                             server_default=sa.text("''::tsvector")))
        op.create_index("ix_entry_fts_text", "entry_fts", ["text"], postgresql_using="gin")
        op.add_column("entry_fts_spill", sa.Column("text", sa.Text))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE entry_fts_old USING fts5(title, summary, tokenize='ascii')")
        op.execute("INSERT INTO entry_fts_old(rowid, title, summary) SELECT rowid, title, summary FROM entry_fts")
        op.execute("DROP TABLE entry_fts")
        op.execute("ALTER TABLE entry_fts_old RENAME TO entry_fts")
    elif dialect == "postgresql":
        op.drop_column("entry_fts_spill", "text")
        op.drop_index("ix_entry_fts_text", "entry_fts")
        op.drop_column("entry_fts", "text")
    op.drop_table("google_links")
    op.drop_table("topics")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would rebuild the table, and
    # dropping the old one deletes, by ON DELETE CASCADE, every row that refers to it.
    for column in ("publisher", "text"):
        op.drop_column("entries", column)
    op.drop_column("matches", "terms")
