"""The loss report on each ledger row: what translation dropped or changed, streams included
(issue 13: a streamed reply's loss report reaches the ledger too). NULL: nothing was dropped.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("dropped", sa.String(2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.drop_column("dropped")
