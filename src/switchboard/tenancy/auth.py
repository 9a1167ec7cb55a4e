"""Client keys: the config's master key and static keys, stored only as SHA-256 hashes and
compared in constant time, then the database's keys (`sk-sb-...`) through a short-lived cache.
The key may come in `x-api-key` or `Authorization: Bearer`; old SDKs send both, possibly
different: either valid one is enough."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from switchboard.config import Config, data_dir
from switchboard.errors import AuthenticationFailed
from switchboard.tenancy.keys import SECRET_PREFIX, ApiKey, KeyCache


class Principal(msgspec.Struct):
    name: str
    is_master: bool = False
    key: ApiKey | None = None  # a database key, with its limits

    @property
    def key_id(self) -> str:
        """Who the usage ledger charges."""
        if self.key is not None:
            return self.key.id
        return "master" if self.is_master else f"config:{self.name}"

    @property
    def team_id(self) -> str | None:
        """The team the usage ledger charges with the key."""
        return self.key.team.id if self.key is not None and self.key.team is not None else None


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class Authenticator:
    def __init__(self, master_key: str, config: Config, stored: KeyCache | None = None) -> None:
        self._stored = stored
        self._entries: list[tuple[bytes, Principal]] = [
            (_hash(master_key), Principal("master", True))
        ]
        self._entries.extend((_hash(k.key), Principal(k.name)) for k in config.keys)

    async def authenticate(self, api_key: str | None, authorization: str | None) -> Principal:
        # (the key, the header it came in): every refusal names the header the client used.
        candidates: list[tuple[str, str]] = []
        if api_key and api_key.strip():
            candidates.append((api_key.strip(), "x-api-key"))
        if authorization and authorization.strip():
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                candidates.append((token.strip(), "Authorization"))
            elif not candidates:
                raise AuthenticationFailed(
                    "Authorization: expected 'Bearer <key>' (or send the key in x-api-key)"
                )
        if not candidates:
            raise AuthenticationFailed(
                "missing API key: send it in the x-api-key header or as Authorization: Bearer"
            )
        for candidate, header in candidates:
            digest = _hash(candidate)
            found: Principal | None = None
            for stored, principal in self._entries:
                # No early exit: every stored hash is compared, so timing says nothing.
                if hmac.compare_digest(digest, stored) and found is None:
                    found = principal
            if found is not None:
                return found
            if self._stored is not None and candidate.startswith(SECRET_PREFIX):
                key = await self._stored.get(digest)
                if key is not None:
                    return _usable(key, header)
        headers = " and ".join(header for _, header in candidates)
        plural = "s" if len(candidates) > 1 else ""
        raise AuthenticationFailed(f"invalid API key in the {headers} header{plural}")


def _usable(key: ApiKey, header: str) -> Principal:
    if key.revoked_at is not None:
        raise AuthenticationFailed(f"{header}: key '{key.name}' has been revoked")
    if key.limits.expires_at is not None and key.expired(datetime.now(UTC)):
        assert key.limits.expires_at is not None
        when = key.limits.expires_at.isoformat().replace("+00:00", "Z")
        raise AuthenticationFailed(f"{header}: key '{key.name}' expired at {when}")
    return Principal(key.name, key=key)


def master_key_file(database_url: str) -> Path:
    """Beside the SQLite database; in the data directory (config.data_dir) for other databases."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        db = Path(database_url.removeprefix(prefix))
        return db.with_name(db.stem + ".master_key")
    return data_dir() / "switchboard.master_key"


def resolve_master_key(config: Config) -> tuple[str, Path | None]:
    """The master key, and the file it was just generated into (None if it was not)."""
    if config.master_key:
        return config.master_key, None
    path = master_key_file(config.database)
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), None
    key = "sk-sb-master-" + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key, path
