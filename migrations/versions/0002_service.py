"""The service's state: per-source schedule and lease, health, digests made, the outbox, alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

The schedule lives in the database so that a restart resumes where it stopped and several
workers can share one database: `next_poll_at` says when a source is due, `lease_until` /
`lease_owner` say which worker is polling it (an expired lease is free again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("next_poll_at", sa.DateTime))
        batch.add_column(sa.Column("lease_owner", sa.String(100)))
        batch.add_column(sa.Column("lease_until", sa.DateTime))
        batch.add_column(sa.Column("last_new_at", sa.DateTime))
        batch.add_column(sa.Column("last_items", sa.Integer))
        batch.add_column(sa.Column("layout_changed_at", sa.DateTime))
    op.create_index("ix_sources_next_poll_at", "sources", ["next_poll_at"])
    op.create_table(
        "digests",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("window_start", sa.DateTime, nullable=False),
        sa.Column("window_end", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),  # making | made
        sa.Column("claimed_until", sa.DateTime),
        sa.Column("path", sa.Text),
        sa.Column("entries", sa.Integer),
        sa.Column("email_state", sa.String(20)),  # none | queued | sent | failed | skipped
        sa.Column("made_at", sa.DateTime),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),  # digest:2025-02-04, alert:stargate:...
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("message", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),  # pending | sent | failed
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.create_table(
        "alert_queue",
        sa.Column("topic", sa.String(100), primary_key=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("queued_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "alerts_sent",
        sa.Column("topic", sa.String(100), primary_key=True),
        sa.Column("last_sent_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alerts_sent")
    op.drop_table("alert_queue")
    op.drop_index("ix_outbox_due", "outbox")
    op.drop_table("outbox")
    op.drop_table("digests")
    op.drop_index("ix_sources_next_poll_at", "sources")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would rebuild the table, and
    # dropping the old one deletes, by ON DELETE CASCADE, every row that refers to it.
    for column in ("layout_changed_at", "last_items", "last_new_at", "lease_until", "lease_owner", "next_poll_at"):
        op.drop_column("sources", column)
