"""How a key change made anywhere reaches every gateway's key cache within a second.

One feed per deployment: Redis pub/sub when `redis:` is set (every writer, the admin API of any
instance and the CLI, publishes after its change commits), else the database itself
(storage/changes.py: PostgreSQL NOTIFY sent in the change's own transaction, or SQLite's header
counter). A feed's `watch` runs for the life of the process and tells the key cache."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import make_url

from switchboard.config import Config
from switchboard.log import events as log
from switchboard.storage.changes import (
    RETRY_SECONDS,
    Listener,
    PostgresChanges,
    SqliteChanges,
)

if TYPE_CHECKING:
    import redis.asyncio as aioredis

PING_SECONDS = 5


class KeyChanges(Protocol):
    async def publish(self) -> None:
        """Announce a change that has just committed."""

    async def watch(self, listener: Listener) -> None:
        """Tell `listener` of every change, until cancelled."""

    async def close(self) -> None: ...


class RedisChanges:
    """The Redis client is imported here, not at the top: a gateway without Redis (or without
    PostgreSQL, for storage/changes.py) does not carry its 5 MiB."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        # The health check pings a quiet subscription, so a dead connection is found out.
        self._redis: aioredis.Redis = aioredis.from_url(
            url, health_check_interval=PING_SECONDS, socket_connect_timeout=PING_SECONDS
        )
        self._channel = f"{prefix}:keys:changed"

    async def publish(self) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.publish(self._channel, b"1")
        except (RedisError, OSError) as exc:
            # The change is made; gateways that do not hear of it apply it at their TTL.
            log.warning("cannot announce a key change on Redis: %s", type(exc).__name__)

    async def watch(self, listener: Listener) -> None:
        from redis.exceptions import RedisError

        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    listener.changed()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=PING_SECONDS
                        )
                        if message is not None:
                            listener.changed()
            except (RedisError, OSError) as exc:
                listener.untrusted()
                log.warning("lost the key-change subscription: %s", type(exc).__name__)
            await asyncio.sleep(RETRY_SECONDS)

    async def close(self) -> None:
        await self._redis.aclose()


def key_changes(config: Config) -> KeyChanges:
    if config.redis:
        return RedisChanges(config.redis, config.redis_prefix)
    if make_url(config.database).get_backend_name() == "sqlite":
        return SqliteChanges(config.database)
    return PostgresChanges(config.database)
