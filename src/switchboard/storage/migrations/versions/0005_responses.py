"""Responses kept for the Responses API's `previous_response_id` (issue 16): each with the key
that made it (another key cannot read it) and when it expires.

Revision ID: 0005_responses
Revises: 0005_teams
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_responses"
down_revision = "0005_teams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation", sa.Text, nullable=False),
    )
    op.create_index("ix_responses_expires_at", "responses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_responses_expires_at", "responses")
    op.drop_table("responses")
