"""Faults: a source that answered 410 Gone is disabled until its config entry changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

- sources.disabled_at / disabled_reason: when and why polling stopped (HTTP 410 Gone);
- sources.disabled_config: the fingerprint of the source's config entry at that time, so an
  edited entry (a new URL, say) is polled again without a manual `monitor sources enable`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime))
        batch.add_column(sa.Column("disabled_reason", sa.Text))
        batch.add_column(sa.Column("disabled_config", sa.String(64)))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would rebuild the table, and
    # dropping the old one deletes, by ON DELETE CASCADE, every row that refers to it.
    for column in ("disabled_config", "disabled_reason", "disabled_at"):
        op.drop_column("sources", column)
