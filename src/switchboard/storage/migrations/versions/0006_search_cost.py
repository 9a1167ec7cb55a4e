"""What a ledger row's web searches cost (nano-USD), apart from its total: `switchboard usage`
and the console show it. Stored, not recomputed from the config, so that a price changed later
does not rewrite the past. Rows written before hold 0 (their total still includes the searches).

Revision ID: 0006_search_cost
Revises: 0006_partial_usage_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_search_cost"
down_revision = "0006_partial_usage_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.add_column(
            sa.Column("web_search_nusd", sa.BigInteger, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.drop_column("web_search_nusd")
