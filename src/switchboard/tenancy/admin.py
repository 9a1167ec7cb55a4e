"""Managing database keys and teams, the same for the CLI and the admin HTTP API: the fields a
user gives (parsed here, every error naming its field) and the operations on the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from switchboard.errors import InvalidRequest, NotFound
from switchboard.storage import KeyStore, TeamStore
from switchboard.tenancy.keys import (
    ApiKey,
    KeyCache,
    Limits,
    Team,
    hash_secret,
    new_key_id,
    new_secret,
    new_team_id,
    shown_prefix,
)
from switchboard.tenancy.limit_kinds import KEY_FIELDS, TEAM_FIELDS, KeyField, parse_time

if TYPE_CHECKING:
    from switchboard.tenancy.changes import KeyChanges

__all__ = ["FIELDS", "KeyAdmin", "TeamAdmin", "parse_limits", "parse_time"]

# What a key is given: its name, its team (a team's name or id; null: none) and its limits.
FIELDS = ("name", "team", *(f.field for f in KEY_FIELDS))
TEAM_GIVEN = ("name", *(f.field for f in TEAM_FIELDS))


def parse_limits(
    fields: Mapping[str, Any],
    base: Limits,
    kinds: tuple[KeyField, ...] = KEY_FIELDS,
    known: tuple[str, ...] = FIELDS,
) -> Limits:
    """Apply the given fields over `base`; a field given as null clears it."""
    for name in fields:
        if name not in known:
            raise InvalidRequest(
                f"{name}: unknown field (known: {', '.join(known)})", param=str(name)
            )
    limits = base
    for f in kinds:
        if f.field in fields:
            limits = f.set(limits, f.parse(f.field, fields[f.field]))
    return limits


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidRequest(
            "name: must be a non-empty string of at most 200 characters", param="name"
        )
    return value.strip()


class KeyAdmin:
    """Every change forgets this instance's key cache, so a revoked key stops here at once, and
    is announced to the other instances (key_changes.py), which apply it within a second."""

    def __init__(
        self,
        store: KeyStore,
        cache: KeyCache | None = None,
        changes: KeyChanges | None = None,
        teams: TeamStore | None = None,
    ) -> None:
        self._store = store
        self._cache = cache
        self._changes = changes
        self._teams = teams
        self.teams = TeamAdmin(self, teams) if teams is not None else None

    async def _team(self, fields: Mapping[str, Any], current: Team | None) -> Team | None:
        """The team `fields` name (by name or id), `current` if they name none."""
        if "team" not in fields:
            return current
        given = fields["team"]
        if given is None:
            return None
        if not isinstance(given, str) or not given.strip() or len(given) > 200:
            raise InvalidRequest("team: must be a team's name or id", param="team")
        team = await self._teams.find(given.strip()) if self._teams is not None else None
        if team is None:
            raise InvalidRequest(f"team: no team '{given.strip()}'", param="team")
        return team

    async def changed(self, new_secret: str | None = None) -> None:
        if self._cache is not None:
            self._cache.forget()
            if new_secret is not None:
                self._cache.learn(hash_secret(new_secret))
        if self._changes is not None:
            await self._changes.publish()

    async def create(self, fields: Mapping[str, Any]) -> tuple[ApiKey, str]:
        if "name" not in fields:
            raise InvalidRequest("name: Field required", param="name")
        name = _name(fields["name"])
        limits = parse_limits(fields, Limits())
        team = await self._team(fields, None)
        secret = new_secret()
        key = await self._store.create(
            new_key_id(), name, shown_prefix(secret), hash_secret(secret), limits, team
        )
        await self.changed(secret)
        return key, secret

    async def get(self, key_id: str) -> ApiKey:
        key = await self._store.get(key_id)
        if key is None:
            raise NotFound(f"id: no key '{key_id}'", param="id")
        return key

    async def list(self) -> list[ApiKey]:
        return await self._store.list()

    async def update(self, key_id: str, fields: Mapping[str, Any]) -> ApiKey:
        key = await self.get(key_id)
        name = _name(fields["name"]) if "name" in fields else key.name
        limits = parse_limits(fields, key.limits)
        team = await self._team(fields, key.team)
        updated = await self._store.update(key_id, name, limits, team)
        await self.changed()
        assert updated is not None
        return updated

    async def revoke(self, key_id: str) -> ApiKey:
        await self.get(key_id)
        key = await self._store.revoke(key_id)
        await self.changed()
        assert key is not None
        return key

    async def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        key = await self.get(key_id)
        if key.revoked_at is not None:
            raise InvalidRequest(f"id: key '{key_id}' is revoked; create a new one", param="id")
        secret = new_secret()
        rotated = await self._store.rotate(key_id, shown_prefix(secret), hash_secret(secret))
        await self.changed(secret)
        assert rotated is not None
        return rotated, secret


class TeamAdmin:
    """Teams, changed through the same cache and announcements as keys: each key is cached with
    its team, so a team's change reaches every gateway as a key change does."""

    def __init__(self, keys: KeyAdmin, store: TeamStore) -> None:
        self._keys = keys
        self._store = store

    async def create(self, fields: Mapping[str, Any]) -> Team:
        if "name" not in fields:
            raise InvalidRequest("name: Field required", param="name")
        limits = parse_limits(fields, Limits(), TEAM_FIELDS, TEAM_GIVEN)
        team = await self._store.create(new_team_id(), _name(fields["name"]), limits)
        await self._keys.changed()
        return team

    async def get(self, name_or_id: str) -> Team:
        team = await self._store.find(name_or_id)
        if team is None:
            raise NotFound(f"id: no team '{name_or_id}'", param="id")
        return team

    async def show(self, name_or_id: str) -> dict[str, object]:
        """The team as the API shows it, with how many keys it has."""
        team = await self.get(name_or_id)
        return team.public(await self._store.count_keys(team.id))

    async def list(self) -> list[tuple[Team, int]]:
        return await self._store.list()

    async def update(self, name_or_id: str, fields: Mapping[str, Any]) -> dict[str, object]:
        team = await self.get(name_or_id)
        limits = parse_limits(fields, team.limits, TEAM_FIELDS, TEAM_GIVEN)
        name = _name(fields["name"]) if "name" in fields else team.name
        await self._store.update(team.id, name, limits)
        await self._keys.changed()
        return await self.show(team.id)

    async def delete(self, name_or_id: str, force: bool) -> dict[str, object]:
        """Refused (409) while the team has keys, unless `force`: then they are detached and
        keep working with their own limits."""
        team = await self.get(name_or_id)
        detached = await self._store.delete(team.id, force)
        await self._keys.changed()
        return {**team.public(), "deleted": True, "detached_keys": detached}
