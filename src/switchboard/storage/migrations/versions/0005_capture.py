"""Captured requests (issue 18: request capture for debugging).

Revision ID: 0005_capture
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_capture"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "captures",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("client_request", sa.Text, nullable=False),
        sa.Column("upstream", sa.Text, nullable=False),
        sa.Column("client_response", sa.Text, nullable=False),
    )
    op.create_index("ix_captures_at", "captures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_captures_at", "captures")
    op.drop_table("captures")
