"""The response object a stored response was served as, beside its conversation: what
`GET /v1/responses/{id}` answers with. Rows stored before hold NULL (they can still be
continued by `previous_response_id`; reading them back answers 404) and expire as before.

Revision ID: 0007_response_objects
Revises: 0006_search_cost
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_response_objects"
down_revision = "0006_search_cost"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("response", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("response")
