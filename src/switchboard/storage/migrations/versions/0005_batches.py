"""Batches (issue 16): the Message Batches and OpenAI Batch APIs' batches, their requests (each
claimed by a worker with a lease, its outcome final once stored), the OpenAI files, and a
`batch_id` on each ledger row a batch's request wrote.

Revision ID: 0005_batches
Revises: 0005_responses
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_batches"
down_revision = "0005_responses"
branch_labels = None
depends_on = None

_RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(64), nullable=True))
    op.create_table(
        "batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("api", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_initiated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("input_file_id", sa.String(64), nullable=True),
        sa.Column("endpoint", sa.String(64), nullable=True),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("output_file_id", sa.String(64), nullable=True),
        sa.Column("error_file_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_batches_key_created", "batches", ["key_id", "created_at"])
    op.create_index("ix_batches_status", "batches", ["status"])
    op.create_table(
        "batch_requests",
        sa.Column("id", _RowId, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("custom_id", sa.String(64), nullable=False),
        sa.Column("params", sa.LargeBinary, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ux_batch_requests_batch_idx", "batch_requests", ["batch_id", "idx"], unique=True
    )
    op.create_index("ix_batch_requests_batch_outcome", "batch_requests", ["batch_id", "outcome"])
    op.create_table(
        "files",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("part", sa.String(8), nullable=True),
    )
    op.create_index("ix_files_key_created", "files", ["key_id", "created_at"])


def downgrade() -> None:
    op.drop_table("files")
    op.drop_table("batch_requests")
    op.drop_table("batches")
    with op.batch_alter_table("usage") as batch:
        batch.drop_column("batch_id")
