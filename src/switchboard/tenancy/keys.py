"""Client API keys kept in the database: what a key may do, how its secret is made and hashed, and
the cache that keeps authentication off the database (and unknown keys away from it).

Only the SHA-256 of a secret is stored; the secret is shown once, when it is created or rotated."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from switchboard.errors import GatewayError
from switchboard.log import events as log

if TYPE_CHECKING:
    from switchboard.tenancy.limit_kinds import LimitKind

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


def new_team_id() -> str:
    return "team_" + secrets.token_hex(8)


def shown_prefix(secret: str) -> str:
    """Enough of the secret to recognise it in a list, too little to use it."""
    return secret[: len(SECRET_PREFIX) + 4]


@dataclass(frozen=True, slots=True)
class Limits:
    """Zero or None means no limit. What each field is, how it is given, stored and shown:
    tenancy/limit_kinds.py."""

    models: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    budget_nusd: int | None = None
    budget_period: Period = "month"
    expires_at: datetime | None = None
    # The limits of kinds that have no attribute here (limit_kinds.py: `attr=""`), each with
    # its kind: the limiters enforce them as they find them, with no code of their own.
    more: tuple[tuple[LimitKind, int], ...] = ()

    @property
    def rate_limited(self) -> bool:
        return bool(self.rpm or self.tpm or self.max_concurrent or self.more)


@dataclass(frozen=True, slots=True)
class Team:
    """Keys that share limits: a request must fit its key's limits and its team's, which count
    every key of the team together. `limits.expires_at` is always None (keys expire, teams
    do not: limit_kinds.TEAM_FIELDS)."""

    id: str
    name: str
    limits: Limits
    created_at: datetime

    def public(self, keys: int | None = None) -> dict[str, object]:
        """What the admin API and `teams --json` show; `keys`: how many keys it has."""
        from switchboard.tenancy.limit_kinds import TEAM_FIELDS  # it imports this module

        lim = self.limits
        shown: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            **{f.field: f.to_json(f.get(lim)) for f in TEAM_FIELDS},
            **{k.field: k.to_json(v) for k, v in lim.more},
            "created_at": _iso(self.created_at),
        }
        if keys is not None:
            shown["keys"] = keys
        return shown


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    limits: Limits
    created_at: datetime
    revoked_at: datetime | None = None
    team: Team | None = None  # read with the key, so a change to it reaches keys the same way

    def expired(self, now: datetime) -> bool:
        return self.limits.expires_at is not None and self.limits.expires_at <= now

    def public(self) -> dict[str, object]:
        """What the admin API and `keys --json` show: never the secret nor its hash."""
        from switchboard.tenancy.limit_kinds import KEY_FIELDS  # it imports this module

        lim = self.limits
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            **{f.field: f.to_json(f.get(lim)) for f in KEY_FIELDS},
            **{k.field: k.to_json(v) for k, v in lim.more},
            "team": self.team.id if self.team is not None else None,
            "team_name": self.team.name if self.team is not None else None,
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

    async def hashes(self) -> list[bytes]: ...


# What the cache holds of every stored key's hash: 8 bytes are plenty to tell a stranger from a
# key (a collision costs one database query, nothing more), in less memory than the whole hash.
_SEEN = 8
_MAX_FOUND = 10_000  # cached keys; an entry is dropped at its TTL or when all are forgotten
_MAX_MISSED = 4_096  # remembered misses, least recently used dropped first
# A cached key is read again in the background once this share of its TTL is left, so that a
# busy key never expires under its requests: before, every in-flight request of a key missed
# together at each TTL and queued a query each (the bench's p99 spike every 5 s).
_REFRESH_SHARE = 0.2


class KeyCache:
    """hash -> key, so that authenticating a request does not touch the database.

    A key read from the database is trusted for `ttl` seconds at most; every change made anywhere
    reaches `changed()` within a second (key_changes.py), which forgets everything read so far.
    A stranger costs no query: the cache knows the (prefix of the) hash of every stored key, and
    a hash it does not know is refused without asking, except for `unknown_per_second` lookups
    a second, so a key created on another instance or with the CLI works at once rather than
    after the next reload. A flood of random keys reaches the database at that rate at most.
    When nothing tells this instance about changes (`untrusted()`: the change feed is down, or
    the hashes were never loaded), it falls back to one query per distinct key per `ttl`."""

    def __init__(
        self,
        lookup: KeyLookup,
        ttl: float,
        unknown_per_second: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._found: dict[bytes, tuple[float, ApiKey]] = {}
        self._missed: OrderedDict[bytes, float] = OrderedDict()
        self._known: set[bytes] | None = None
        self._learned: set[bytes] | None = None  # learned while a reload is reading hashes
        self._generation = 0  # a lookup that began before a change must not cache its result
        self._rate = unknown_per_second
        self._tokens = unknown_per_second
        self._refilled = clock()
        self._reload = asyncio.Event()
        # One lookup per hash at a time, shared by every request that needs it meanwhile; only
        # lookups begun since the last change (forget() empties this).
        self._pending: dict[bytes, asyncio.Task[ApiKey | None]] = {}

    async def get(self, digest: bytes) -> ApiKey | None:
        now = self._clock()
        hit = self._found.get(digest)
        if hit is not None and hit[0] > now:
            if hit[0] - now < self._ttl * _REFRESH_SHARE and digest not in self._pending:
                self._start(digest, now)  # the entry still holds until its TTL, not after
            return hit[1]
        missed = self._missed.get(digest)
        if missed is not None and missed > now:
            self._missed.move_to_end(digest)
            return None
        pending = self._pending.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)  # a client that leaves does not cancel it
        known = self._known
        if known is not None and digest[:_SEEN] not in known and not self._spend(now):
            return None
        return await asyncio.shield(self._start(digest, now))

    def _start(self, digest: bytes, now: float) -> asyncio.Task[ApiKey | None]:
        task = asyncio.get_running_loop().create_task(self._read(digest, now))
        self._pending[digest] = task
        # A background refresh nobody awaits: its failure is seen by the next lookup.
        task.add_done_callback(_retrieved)
        return task

    async def _read(self, digest: bytes, now: float) -> ApiKey | None:
        generation = self._generation
        try:
            key = await self._lookup.by_hash(digest)
        finally:
            if self._pending.get(digest) is asyncio.current_task():
                del self._pending[digest]
        if generation == self._generation:
            self._remember(digest, key, now)
        return key

    def _spend(self, now: float) -> bool:
        """A token of the unknown-key lookup budget, if one is left."""
        self._tokens = min(self._rate, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _remember(self, digest: bytes, key: ApiKey | None, now: float) -> None:
        if key is None:
            self._missed[digest] = now + self._ttl
            if len(self._missed) > _MAX_MISSED:
                self._missed.popitem(last=False)
            return
        if len(self._found) >= _MAX_FOUND:
            self._found = {d: e for d, e in self._found.items() if e[0] > now}
            if len(self._found) >= _MAX_FOUND:
                self._found.clear()
        self._found[digest] = (now + self._ttl, key)
        if self._known is not None:
            self._known.add(digest[:_SEEN])

    def forget(self) -> None:
        """Drop every key and miss read so far (this instance changed a key)."""
        self._generation += 1
        self._found.clear()
        self._missed.clear()
        self._pending.clear()  # lookups begun before the change are not shared after it

    def learn(self, digest: bytes) -> None:
        """A key this instance just created or rotated: known at once, without a reload."""
        if self._known is not None:
            self._known.add(digest[:_SEEN])
        if self._learned is not None:
            self._learned.add(digest[:_SEEN])

    def changed(self) -> None:
        """A key changed somewhere: forget now, and reload the known hashes soon (`run`)."""
        self.forget()
        self._reload.set()

    def untrusted(self) -> None:
        """Changes may go unseen from now on: each key read so far is trusted to the end of its
        `ttl` (the bound without a feed), then asked about again; a stranger is asked about
        too. What was read stays: a database that has just failed (the likely reason the feed
        went down) must not turn every client's next request into a failed query."""
        self._known = None

    async def reload(self) -> None:
        """Read every stored key's hash (one query) and forget what was read before."""
        self._learned = set()
        try:
            hashes = await self._lookup.hashes()
            known = {h[:_SEEN] for h in hashes} | self._learned
        finally:
            self._learned = None
        self.forget()
        self._known = known

    async def run(self) -> None:
        """Reload after every change, at most one reload at a time (a burst of changes is one
        reload); until a reload succeeds, fall back to asking the database."""
        while True:
            await self._reload.wait()
            self._reload.clear()
            try:
                await self.reload()
            except GatewayError as exc:
                self.untrusted()
                log.warning("cannot reload the key hashes: %s", exc.message)
                await asyncio.sleep(1)
                self._reload.set()


def _retrieved(task: asyncio.Task[ApiKey | None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: asyncio would log an unawaited failure as a bug
