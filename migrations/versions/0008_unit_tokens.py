"""Unit tokens: the search index again, now that a number ends where letters follow it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

``1.5GW`` was indexed as the tokens ``1 5gw``, so neither ``GW`` nor ``"1.5 GW"`` found it,
and ``200MW`` was one token. The tokenizer now splits a number from the letters after it
(``1٫5 gw``; ``G7`` and ``H100`` stay whole), makes a number in groups of three one token
(``13,251`` -> ``13251``, so ``5000億円`` finds ``5,000億円``) and a decimal too (``1.4`` ->
``1٫4``, so it no longer finds the date ``1/4``), and drops characters that show
nothing (a soft hyphen or zero-width space inside Stargate split it in two). Queries are parsed
with it, so every entry is indexed again and every topic matched again at the next start
(monitor.store.reindex).
Going down keeps the new index: the old code then finds ``1.5GW`` only as ``1.5 GW``.
"""

from __future__ import annotations

from alembic import op

from monitor.store import reindex

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reindex.rebuild(op.get_bind())


def downgrade() -> None:
    pass
