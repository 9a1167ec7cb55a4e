"""Team rows: create, read, change, delete. A team's change is announced like a key's
(storage/keys.py `announce`), in its own transaction: the key caches hold each key with its
team, so forgetting them is how a team's new limits reach every gateway."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.errors import Conflict
from switchboard.storage.keys import announce, limit_values, team_from_row
from switchboard.storage.tables import api_keys, teams
from switchboard.tenancy.keys import Limits, Team
from switchboard.tenancy.limit_kinds import TEAM_FIELDS


def _taken(name: str) -> Conflict:
    return Conflict(f"name: there is already a team named '{name}'", param="name")


class TeamStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, team_id: str, name: str, limits: Limits) -> Team:
        now = datetime.now(UTC)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    teams.insert().values(
                        id=team_id, name=name, created_at=now, **limit_values(limits, TEAM_FIELDS)
                    )
                )
                await announce(conn)
        except IntegrityError:
            raise _taken(name) from None
        return Team(team_id, name, limits, now)

    async def find(self, name_or_id: str) -> Team | None:
        """The team with this id, else the one with this name."""
        query = select(teams).where(or_(teams.c.id == name_or_id, teams.c.name == name_or_id))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        by_id = [r for r in rows if r["id"] == name_or_id]
        found = by_id or rows
        return team_from_row(found[0]) if found else None

    async def list(self) -> list[tuple[Team, int]]:
        """Every team, with how many keys it has (revoked ones included)."""
        keys = (
            select(api_keys.c.team_id, func.count().label("keys"))
            .group_by(api_keys.c.team_id)
            .subquery()
        )
        query = (
            select(teams, keys.c["keys"])
            .select_from(teams.outerjoin(keys, keys.c.team_id == teams.c.id))
            .order_by(teams.c.created_at, teams.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [(team_from_row(r), int(r["keys"] or 0)) for r in rows]

    async def count_keys(self, team_id: str) -> int:
        query = select(func.count()).where(api_keys.c.team_id == team_id)
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def update(self, team_id: str, name: str, limits: Limits) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(teams)
                    .where(teams.c.id == team_id)
                    .values(name=name, **limit_values(limits, TEAM_FIELDS))
                )
                await announce(conn)
        except IntegrityError:
            raise _taken(name) from None

    async def delete(self, team_id: str, force: bool) -> int:
        """Delete the team; with `force`, its keys are detached (they keep working, with their
        own limits only) in the same transaction. Returns how many keys it had; without
        `force`, a team with keys is refused (Conflict) and stays."""
        async with self._engine.begin() as conn:
            held = await conn.execute(select(func.count()).where(api_keys.c.team_id == team_id))
            count = int(held.scalar_one())
            if count and not force:
                raise Conflict(
                    f"id: team '{team_id}' has {count} key(s); move them to another team "
                    "or none first, or delete with force to detach them",
                    param="id",
                )
            await conn.execute(
                update(api_keys).where(api_keys.c.team_id == team_id).values(team_id=None)
            )
            await conn.execute(teams.delete().where(teams.c.id == team_id))
            await announce(conn)
        return count
