"""The key a stored batch runs as. A batch keeps only its key's id (`Principal.key_id`); its
worker, maybe in another process or after a restart, finds the key again: the master key, a
config key by name, or a database key, read fresh so that a revoked or expired key stops its
batches' remaining requests."""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard.config import Config
from switchboard.errors import AuthenticationFailed
from switchboard.storage.keys import KeyStore
from switchboard.tenancy.auth import Principal

CONFIG_PREFIX = "config:"


class Principals:
    def __init__(self, config: Config, keys: KeyStore) -> None:
        self._config_names = {k.name for k in config.keys}
        self._keys = keys

    async def of(self, key_id: str) -> Principal:
        """The principal with this id, or AuthenticationFailed naming why it cannot run."""
        if key_id == "master":
            return Principal("master", is_master=True)
        if key_id.startswith(CONFIG_PREFIX):
            name = key_id.removeprefix(CONFIG_PREFIX)
            if name in self._config_names:
                return Principal(name)
            raise AuthenticationFailed(f"the batch's key '{name}' is no longer in the config")
        key = await self._keys.get(key_id)
        if key is None:
            raise AuthenticationFailed("the batch's key no longer exists")
        if key.revoked_at is not None:
            raise AuthenticationFailed(f"the batch's key '{key.name}' has been revoked")
        if key.expired(datetime.now(UTC)):
            raise AuthenticationFailed(f"the batch's key '{key.name}' has expired")
        return Principal(key.name, key=key)
