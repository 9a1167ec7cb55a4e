"""API key rows: create, read, change, revoke. Secrets never reach this module, only hashes.

Every change also tells the other gateways, in its own transaction (storage/changes.py listens):
PostgreSQL gets a NOTIFY, delivered only if the change commits; SQLite's header counter
`user_version` is bumped (nothing else uses it, and reading it is as cheap as a PRAGMA)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from switchboard.errors import Overloaded
from switchboard.storage.tables import api_keys, teams
from switchboard.tenancy.keys import ApiKey, Limits, Team
from switchboard.tenancy.limit_kinds import KEY_FIELDS, TEAM_FIELDS, make_limits

# The PostgreSQL channel key changes are announced on (per database, like LISTEN itself).
CHANNEL = "switchboard_keys"


async def announce(conn: AsyncConnection) -> None:
    """Tell every gateway's key cache that a key changed, when `conn`'s transaction commits."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {CHANNEL}"))
    else:
        # Under the write lock the transaction already holds: read and bump cannot interleave.
        version = (await conn.execute(text("PRAGMA user_version"))).scalar_one()
        await conn.execute(text(f"PRAGMA user_version = {(int(version) + 1) % 2**31}"))


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; everything stored is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A key's row with its team's columns beside it, labelled `team__<column>`: a key and its team
# are one read, so the key cache holds both and a team change reaches it as a key change does.
_TEAM_COLUMNS = [c.label(f"team__{c.name}") for c in teams.c]
_KEYS: Select[Any] = select(api_keys, *_TEAM_COLUMNS).select_from(
    api_keys.outerjoin(teams, api_keys.c.team_id == teams.c.id)
)


def team_from_row(row: RowMapping, label: str = "") -> Team:
    created = utc(row[f"{label}created_at"])
    assert created is not None
    limits = make_limits((f, f.from_row(row[f"{label}{f.column}"])) for f in TEAM_FIELDS)
    return Team(row[f"{label}id"], row[f"{label}name"], limits, created)


def _key(row: RowMapping) -> ApiKey:
    created = utc(row["created_at"])
    assert created is not None
    limits = make_limits((f, f.from_row(row[f.column])) for f in KEY_FIELDS)
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        limits=limits,
        created_at=created,
        revoked_at=utc(row["revoked_at"]),
        team=team_from_row(row, "team__") if row["team__id"] is not None else None,
    )


def limit_values(limits: Limits, fields: tuple[Any, ...] = KEY_FIELDS) -> dict[str, Any]:
    return {f.column: f.to_row(f.get(limits)) for f in fields}


class KeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        key_id: str,
        name: str,
        prefix: str,
        digest: bytes,
        limits: Limits,
        team: Team | None = None,
    ) -> ApiKey:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    name=name,
                    prefix=prefix,
                    secret_hash=digest,
                    created_at=now,
                    team_id=team.id if team is not None else None,
                    **limit_values(limits),
                )
            )
            await announce(conn)
        return ApiKey(key_id, name, prefix, limits, now, team=team)

    async def get(self, key_id: str) -> ApiKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_KEYS.where(api_keys.c.id == key_id))).mappings().first()
        return _key(row) if row is not None else None

    async def by_hash(self, digest: bytes) -> ApiKey | None:
        try:
            async with self._engine.connect() as conn:
                row = (
                    (await conn.execute(_KEYS.where(api_keys.c.secret_hash == digest)))
                    .mappings()
                    .first()
                )
        except (SQLAlchemyError, OSError) as exc:
            # On the request path: the client gets a retryable error, not a traceback.
            raise Overloaded(
                f"the gateway cannot reach its key database ({type(exc).__name__})",
                retry_after=1,
            ) from None
        return _key(row) if row is not None else None

    async def hashes(self) -> list[bytes]:
        """Every stored key's secret hash, revoked ones included (they get a clearer refusal)."""
        try:
            async with self._engine.connect() as conn:
                found = await conn.execute(select(api_keys.c.secret_hash))
                return [bytes(h) for h in found.scalars()]
        except (SQLAlchemyError, OSError) as exc:
            raise Overloaded(
                f"the gateway cannot reach its key database ({type(exc).__name__})",
                retry_after=1,
            ) from None

    async def list(self, include_revoked: bool = True) -> list[ApiKey]:
        query = _KEYS.order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_key(r) for r in rows]

    async def update(
        self, key_id: str, name: str, limits: Limits, team: Team | None
    ) -> ApiKey | None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(
                    name=name,
                    team_id=team.id if team is not None else None,
                    **limit_values(limits),
                )
            )
            await announce(conn)
        return await self.get(key_id)

    async def revoke(self, key_id: str) -> ApiKey | None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            await announce(conn)
        return await self.get(key_id)

    async def rotate(self, key_id: str, prefix: str, digest: bytes) -> ApiKey | None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(prefix=prefix, secret_hash=digest)
            )
            await announce(conn)
        return await self.get(key_id)
