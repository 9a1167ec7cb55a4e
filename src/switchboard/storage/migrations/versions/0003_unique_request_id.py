"""A request's ledger row is unique: writing a batch again (its commit was not acknowledged) or
replaying the journal twice skips rows already stored (`ON CONFLICT DO NOTHING`).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ux_usage_request_id", "usage", ["request_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_usage_request_id", table_name="usage")
