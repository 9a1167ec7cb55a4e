"""Managing database keys, the same for the CLI and the admin HTTP API: the fields a user gives
(parsed here, every error naming its field) and the operations on the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from switchboard.errors import InvalidRequest, NotFound
from switchboard.storage import KeyStore
from switchboard.tenancy.keys import (
    ApiKey,
    KeyCache,
    Limits,
    hash_secret,
    new_key_id,
    new_secret,
    shown_prefix,
)
from switchboard.tenancy.limit_kinds import KEY_FIELDS, parse_time

if TYPE_CHECKING:
    from switchboard.tenancy.changes import KeyChanges

__all__ = ["FIELDS", "KeyAdmin", "parse_limits", "parse_time"]

FIELDS = ("name", *(f.field for f in KEY_FIELDS))


def parse_limits(fields: Mapping[str, Any], base: Limits) -> Limits:
    """Apply the given fields over `base`; a field given as null clears it."""
    for name in fields:
        if name not in FIELDS:
            raise InvalidRequest(
                f"{name}: unknown field (known: {', '.join(FIELDS)})", param=str(name)
            )
    limits = base
    for f in KEY_FIELDS:
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
        self, store: KeyStore, cache: KeyCache | None = None, changes: KeyChanges | None = None
    ) -> None:
        self._store = store
        self._cache = cache
        self._changes = changes

    async def _changed(self, new_secret: str | None = None) -> None:
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
        secret = new_secret()
        key = await self._store.create(
            new_key_id(), name, shown_prefix(secret), hash_secret(secret), limits
        )
        await self._changed(secret)
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
        updated = await self._store.update(key_id, name, parse_limits(fields, key.limits))
        await self._changed()
        assert updated is not None
        return updated

    async def revoke(self, key_id: str) -> ApiKey:
        await self.get(key_id)
        key = await self._store.revoke(key_id)
        await self._changed()
        assert key is not None
        return key

    async def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        key = await self.get(key_id)
        if key.revoked_at is not None:
            raise InvalidRequest(f"id: key '{key_id}' is revoked; create a new one", param="id")
        secret = new_secret()
        rotated = await self._store.rotate(key_id, shown_prefix(secret), hash_secret(secret))
        await self._changed(secret)
        assert rotated is not None
        return rotated, secret
