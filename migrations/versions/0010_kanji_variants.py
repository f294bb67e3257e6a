"""Kanji variants: the search index again, now that old and variant kanji fold to their common form.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27

``normalize`` now reads 髙 as 高, 﨑 as 崎, 邉 as 辺, 𠮷 as 吉 (monitor.core.text._KANJI_VARIANTS),
so `monitor search 高島屋` finds 髙島屋 and a topic on 山崎 matches 山﨑. Entries indexed before
hold the variant's own tokens, and queries are parsed the new way: every entry is indexed
again, and every topic matched again at the next start (monitor.store.reindex).
Going down keeps the new index: the old code then finds 髙島屋 only as 高島屋.
"""

from __future__ import annotations

from alembic import op

from monitor.store import reindex

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reindex.rebuild(op.get_bind())


def downgrade() -> None:
    pass
