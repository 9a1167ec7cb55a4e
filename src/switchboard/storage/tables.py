"""The schema, as SQLAlchemy Core tables. Migrations create it; queries are built from it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from switchboard.tenancy.limit_kinds import KEY_FIELDS, TEAM_FIELDS

metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY.
_RowId = BigInteger().with_variant(Integer(), "sqlite")

teams = Table(
    "teams",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # The limits a team carries: the same columns as a key's (tenancy/limit_kinds.py).
    *(
        Column(f.column, f.column_type, nullable=f.clearable, server_default=f.server_default)
        for f in TEAM_FIELDS
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("secret_hash", LargeBinary(32), nullable=False, unique=True),
    # What a key carries, one column each (tenancy/limit_kinds.py; a new one needs a migration).
    *(
        Column(f.column, f.column_type, nullable=f.clearable, server_default=f.server_default)
        for f in KEY_FIELDS
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # The key's team (migration 0005_teams); no foreign key: deleting a team detaches its keys
    # in the same transaction (storage/teams.py), and SQLite cannot add one to a table in place.
    Column("team_id", String(32), nullable=True),
    Index("ix_api_keys_team_id", "team_id"),
)

usage = Table(
    "usage",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("request_id", String(64), nullable=False),  # unique: ux_usage_request_id
    Column("key_id", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("provider", String(200), nullable=False),
    Column("channel", String(400), nullable=False),
    Column("upstream_model", String(200), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cache_read_tokens", Integer, nullable=False),
    Column("cache_write_tokens", Integer, nullable=False),
    Column("cost_nusd", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    Column("stream", Boolean, nullable=False),
    Column("status", Integer, nullable=False),
    Column("error_type", String(64), nullable=True),
    Column("client_disconnected", Boolean, nullable=False),
    Column("failovers", Integer, nullable=False, server_default="0"),
    Column("retries", Integer, nullable=False, server_default="0"),
    Column("dropped", String(2048), nullable=True),  # the loss report (migration 0004)
    # Server tools the gateway ran (migration 0005_server_tools).
    Column("web_search_requests", Integer, nullable=False, server_default="0"),
    Column("web_fetch_requests", Integer, nullable=False, server_default="0"),
    Column("session", String(64), nullable=True),  # the client's session (migration 0005)
    Column("team_id", String(64), nullable=True),  # the key's team then (migration 0005_teams)
    Index("ix_usage_key_at", "key_id", "at"),
    Index("ix_usage_at", "at"),
    Index("ux_usage_request_id", "request_id", unique=True),
    Index("ix_usage_session", "session"),
    Index("ix_usage_team_at", "team_id", "at"),
)

# Captured requests (capture/, migration 0005_capture): what the client sent and received and
# each upstream attempt, redacted, kept `capture.retention_days`.
captures = Table(
    "captures",
    metadata,
    Column("request_id", String(64), primary_key=True),  # the ledger row's
    Column("at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(64), nullable=True),
    Column("model", String(200), nullable=True),
    Column("status", Integer, nullable=False),
    Column("client_request", Text, nullable=False),  # JSON: headers, body
    Column("upstream", Text, nullable=False),  # JSON: [{url, headers, request, status, response}]
    Column("client_response", Text, nullable=False),
    Index("ix_captures_at", "at"),
)
