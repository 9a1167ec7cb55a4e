"""Teams: keys that share limits (issue 18). A `teams` table carrying the same limit columns as a
key, the key's team (`api_keys.team_id`) and the team a ledger row was charged to
(`usage.team_id`). Existing rows keep everything; their team is NULL (none).

Revision ID: 0005_teams
Revises: 0005_session
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_teams"
down_revision = "0005_session"
branch_labels = None
depends_on = None

# The limit columns as they are at this revision, written out: a migration must not change
# when limit_kinds.py later gains a kind (that kind's own migration adds its column).
_LIMITS = (
    ("models", sa.Text(), True, None),
    ("rpm", sa.Integer(), True, None),
    ("tpm", sa.Integer(), True, None),
    ("max_concurrent", sa.Integer(), True, None),
    ("budget_nusd", sa.BigInteger(), True, None),
    ("budget_period", sa.String(8), False, "month"),
)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        *(
            sa.Column(name, kind, nullable=nullable, server_default=default)
            for name, kind, nullable, default in _LIMITS
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("team_id", sa.String(32), nullable=True))
        batch.create_index("ix_api_keys_team_id", ["team_id"])
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("team_id", sa.String(64), nullable=True))
        batch.create_index("ix_usage_team_at", ["team_id", "at"])


def downgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.drop_index("ix_usage_team_at")
        batch.drop_column("team_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_team_id")
        batch.drop_column("team_id")
    op.drop_table("teams")
