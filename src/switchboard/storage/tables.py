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
    text,
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

_HAS_SESSION = text("session IS NOT NULL")
_HAS_TEAM = text("team_id IS NOT NULL")

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
    # What the searches cost, part of cost_nusd (migration 0006_search_cost).
    Column("web_search_nusd", BigInteger, nullable=False, server_default="0"),
    Column("session", String(64), nullable=True),  # the client's session (migration 0005)
    Column("team_id", String(64), nullable=True),  # the key's team then (migration 0005_teams)
    Column("batch_id", String(64), nullable=True),  # a batch's request (migration 0005_batches)
    Index("ix_usage_key_at", "key_id", "at"),
    Index("ix_usage_at", "at"),
    Index("ux_usage_request_id", "request_id", unique=True),
    # Only the rows that have one (migration 0006): most rows have neither.
    Index("ix_usage_session", "session", sqlite_where=_HAS_SESSION, postgresql_where=_HAS_SESSION),
    Index("ix_usage_team_at", "team_id", "at", sqlite_where=_HAS_TEAM, postgresql_where=_HAS_TEAM),
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

# Responses kept for `previous_response_id` and `GET /v1/responses/{id}` (storage/responses.py;
# migrations 0005_responses, 0007_response_objects).
responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("conversation", Text, nullable=False),  # its items, JSON
    Column("response", Text, nullable=True),  # the response object as served, JSON (0007)
    Index("ix_responses_expires_at", "expires_at"),
)

# Batches (migration 0005_batches; batches/ and storage/batches.py). A batch's requests are rows
# of their own: a worker claims some with a lease, and a request's stored outcome is final.
batches = Table(
    "batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),  # only this key sees it
    Column("api", String(16), nullable=False),  # whose API made it: anthropic, openai
    Column("status", String(16), nullable=False),  # in_progress, canceling, ended
    Column("total", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("cancel_initiated_at", DateTime(timezone=True), nullable=True),
    # The OpenAI Batch API's: its input file, endpoint and metadata, and its output files.
    Column("input_file_id", String(64), nullable=True),
    Column("endpoint", String(64), nullable=True),
    Column("metadata", Text, nullable=True),
    Column("output_file_id", String(64), nullable=True),
    Column("error_file_id", String(64), nullable=True),
    Index("ix_batches_key_created", "key_id", "created_at"),
    Index("ix_batches_status", "status"),
)

batch_requests = Table(
    "batch_requests",
    metadata,
    Column("id", _RowId, primary_key=True, autoincrement=True),
    Column("batch_id", String(64), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("custom_id", String(64), nullable=False),
    Column("params", LargeBinary, nullable=False),  # the request body, as the client sent it
    # NULL until the request has an outcome: succeeded, errored, canceled, expired.
    Column("outcome", String(16), nullable=True),
    Column("status", Integer, nullable=True),  # the HTTP status it would have had
    Column("request_id", String(64), nullable=True),
    Column("result", LargeBinary, nullable=True),  # the reply or error body, in the API's shape
    # Who runs it and until when (renewed while it runs); a lease with no owner is a request
    # put back until then (the key's rate limit said to wait).
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Index("ux_batch_requests_batch_idx", "batch_id", "idx", unique=True),
    Index("ix_batch_requests_batch_outcome", "batch_id", "outcome"),
)

# The OpenAI Batch API's files (storage/files.py): uploaded inputs, and the output and error
# files of an ended batch (deleted with it).
files = Table(
    "files",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),  # batch, batch_output
    Column("filename", String(255), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("content", LargeBinary, nullable=True),  # NULL: a batch's output, made when read
    Column("batch_id", String(64), nullable=True),
    Column("part", String(8), nullable=True),  # output, error
    Index("ix_files_key_created", "key_id", "created_at"),
)
