"""Client API keys kept in the database: what a key may do, how its secret is made and hashed, and
a short-lived cache so that authenticating a request does not touch the database.

Only the SHA-256 of a secret is stored; the secret is shown once, when it is created or rotated."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

Period = Literal["day", "month", "total"]
PERIODS: tuple[Period, ...] = ("day", "month", "total")
SECRET_PREFIX = "sk-sb-"
NANO = 1_000_000_000  # money is counted in integer nano-USD so sums are exact everywhere


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def shown_prefix(secret: str) -> str:
    """Enough of the secret to recognise it in a list, too little to use it."""
    return secret[: len(SECRET_PREFIX) + 4]


@dataclass(frozen=True, slots=True)
class Limits:
    """Zero or None means no limit."""

    models: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    budget_nusd: int | None = None
    budget_period: Period = "month"
    expires_at: datetime | None = None

    @property
    def rate_limited(self) -> bool:
        return bool(self.rpm or self.tpm or self.max_concurrent)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    limits: Limits
    created_at: datetime
    revoked_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.limits.expires_at is not None and self.limits.expires_at <= now

    def public(self) -> dict[str, object]:
        """What the admin API and `keys --json` show: never the secret nor its hash."""
        lim = self.limits
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "models": list(lim.models) if lim.models is not None else None,
            "rpm": lim.rpm,
            "tpm": lim.tpm,
            "max_concurrent": lim.max_concurrent,
            "budget_usd": lim.budget_nusd / NANO if lim.budget_nusd is not None else None,
            "budget_period": lim.budget_period,
            "expires_at": _iso(lim.expires_at),
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
            "status": self.status(datetime.now(UTC)),
        }

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired(now) else "active"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


class KeyLookup(Protocol):
    async def by_hash(self, digest: bytes) -> ApiKey | None: ...


class KeyCache:
    """hash -> key for `ttl` seconds, misses included, so a flood of bad keys costs one query
    per distinct key per TTL. `forget` drops everything: the admin API calls it on every change,
    so this instance sees a revocation at once and the others within `ttl`."""

    def __init__(self, lookup: KeyLookup, ttl: float) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._entries: dict[bytes, tuple[float, ApiKey | None]] = {}

    async def get(self, digest: bytes) -> ApiKey | None:
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await self._lookup.by_hash(digest)
        if len(self._entries) > 10_000:
            # Bounded: a scan of random keys must not grow memory without end.
            self._entries = {d: e for d, e in self._entries.items() if e[0] > now}
        self._entries[digest] = (now + self._ttl, key)
        return key

    def forget(self) -> None:
        self._entries.clear()
