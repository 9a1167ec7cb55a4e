"""Server tools the gateway runs for models that have none (issue 15): each ledger row counts
its web searches (priced per 1,000) and web fetches.

Revision ID: 0005_server_tools
Revises: 0005_capture
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_server_tools"
down_revision = "0005_capture"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.add_column(
            sa.Column("web_search_requests", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("web_fetch_requests", sa.Integer, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.drop_column("web_fetch_requests")
        batch.drop_column("web_search_requests")
