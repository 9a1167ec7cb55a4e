"""Managing database keys, the same for the CLI and the admin HTTP API: the fields a user gives
(parsed here, every error naming its field) and the operations on the store."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from switchboard.errors import InvalidRequest, NotFound
from switchboard.storage import KeyStore
from switchboard.tenancy.keys import (
    NANO,
    PERIODS,
    ApiKey,
    KeyCache,
    Limits,
    hash_secret,
    new_key_id,
    new_secret,
    shown_prefix,
)

if TYPE_CHECKING:
    from switchboard.tenancy.changes import KeyChanges

# Past these a count or a budget is no limit at all, and would overflow a database column
# (PostgreSQL's INTEGER; nano-dollars in a BIGINT).
MAX_COUNT = 2**31 - 1
MAX_BUDGET_USD = 1_000_000_000
FIELDS = (
    "name",
    "models",
    "rpm",
    "tpm",
    "max_concurrent",
    "budget_usd",
    "budget_period",
    "expires_at",
)


def parse_time(field: str, value: str, ahead: bool = False) -> datetime:
    """ISO 8601 (`2025-01-31`, `2025-01-31T12:00:00Z`) or a span from now (`30m`, `24h`, `7d`):
    back from now, or `ahead` of it (an expiry)."""
    text = value.strip()
    units = {"m": 60, "h": 3600, "d": 86400}
    try:
        if text[:-1].isascii() and text[:-1].isdigit() and text[-1:] in units:
            span = timedelta(seconds=int(text[:-1]) * units[text[-1]])
            return datetime.now(UTC) + span if ahead else datetime.now(UTC) - span
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except ValueError:
        direction = "ahead of" if ahead else "back from"
        raise InvalidRequest(
            f"{field}: '{value[:100]}' is neither an ISO 8601 time (like 2025-01-31T12:00:00Z) "
            f"nor a span {direction} now (like 30m, 24h, 7d)",
            param=field,
        ) from None
    except OverflowError:  # a span past year 1 or 9999, or a time past year 9999 in UTC
        raise InvalidRequest(f"{field}: '{value[:100]}' is out of range", param=field) from None


def _count(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{field}: must be a whole number, 0 or more", param=field)
    if value > MAX_COUNT:
        raise InvalidRequest(f"{field}: must be at most {MAX_COUNT}", param=field)
    return value or None


def _models(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [m.strip() for m in value.split(",") if m.strip()]
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise InvalidRequest("models: must be a list of model names", param="models")
    return tuple(value)


def parse_limits(fields: Mapping[str, Any], base: Limits) -> Limits:
    """Apply the given fields over `base`; a field given as null clears it."""
    for name in fields:
        if name not in FIELDS:
            raise InvalidRequest(
                f"{name}: unknown field (known: {', '.join(FIELDS)})", param=str(name)
            )
    limits = base
    if "models" in fields:
        limits = replace(limits, models=_models(fields["models"]))
    if "rpm" in fields:
        limits = replace(limits, rpm=_count("rpm", fields["rpm"]))
    if "tpm" in fields:
        limits = replace(limits, tpm=_count("tpm", fields["tpm"]))
    if "max_concurrent" in fields:
        limits = replace(limits, max_concurrent=_count("max_concurrent", fields["max_concurrent"]))
    if "budget_usd" in fields:
        usd = fields["budget_usd"]
        if usd is None:
            limits = replace(limits, budget_nusd=None)
        elif isinstance(usd, bool) or not isinstance(usd, int | float) or not usd > 0:
            raise InvalidRequest(
                "budget_usd: must be a number of dollars above 0", param="budget_usd"
            )
        elif not math.isfinite(usd) or usd > MAX_BUDGET_USD:
            raise InvalidRequest(
                f"budget_usd: must be at most {MAX_BUDGET_USD}", param="budget_usd"
            )
        else:
            limits = replace(limits, budget_nusd=round(usd * NANO))
    if "budget_period" in fields:
        period = fields["budget_period"]
        if period not in PERIODS:
            raise InvalidRequest(
                f"budget_period: must be one of {', '.join(PERIODS)}", param="budget_period"
            )
        limits = replace(limits, budget_period=period)
    if "expires_at" in fields:
        at = fields["expires_at"]
        if at is not None and not isinstance(at, str):
            raise InvalidRequest("expires_at: must be an ISO 8601 time", param="expires_at")
        limits = replace(
            limits, expires_at=parse_time("expires_at", at, ahead=True) if at else None
        )
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
