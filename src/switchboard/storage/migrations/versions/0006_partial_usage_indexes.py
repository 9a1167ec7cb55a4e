"""The ledger's session and team indexes hold only the rows that have one. Most rows have
neither (a request without a Claude Code session, a key in no team): indexing their NULLs cost
two more index inserts per usage row and answered no query (a team's spend and `usage --team`
ask for `team_id = ...`, which the partial index serves).

Revision ID: 0006_partial_usage_indexes
Revises: 0005_batches
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_partial_usage_indexes"
down_revision = "0005_batches"
branch_labels = None
depends_on = None

_SESSION = sa.text("session IS NOT NULL")
_TEAM = sa.text("team_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_usage_session", table_name="usage")
    op.drop_index("ix_usage_team_at", table_name="usage")
    op.create_index(
        "ix_usage_session", "usage", ["session"], sqlite_where=_SESSION, postgresql_where=_SESSION
    )
    op.create_index(
        "ix_usage_team_at", "usage", ["team_id", "at"], sqlite_where=_TEAM, postgresql_where=_TEAM
    )


def downgrade() -> None:
    op.drop_index("ix_usage_session", table_name="usage")
    op.drop_index("ix_usage_team_at", table_name="usage")
    op.create_index("ix_usage_session", "usage", ["session"])
    op.create_index("ix_usage_team_at", "usage", ["team_id", "at"])
