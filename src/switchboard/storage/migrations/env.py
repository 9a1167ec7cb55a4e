"""Alembic environment: always run programmatically (storage.migrate), on a connection the caller
opened, so the same code upgrades SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context

from switchboard.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
