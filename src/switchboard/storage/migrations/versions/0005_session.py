"""The client's session on each ledger row (issue 15: cost by Claude Code session), indexed for
`usage --group-by session`. NULL: the request carried no session id.

Revision ID: 0005_session
Revises: 0005_server_tools
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_session"
down_revision = "0005_server_tools"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("session", sa.String(64), nullable=True))
        batch.create_index("ix_usage_session", ["session"])


def downgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.drop_index("ix_usage_session")
        batch.drop_column("session")
