"""The Redis client every process builds the same way from `Settings`."""

from __future__ import annotations

from typing import TypedDict

from redis.asyncio import BlockingConnectionPool, Redis

from shared.core.settings import Settings


class _ClientOptions(TypedDict):
    socket_connect_timeout: float
    socket_timeout: float
    health_check_interval: int


_OPTIONS: _ClientOptions = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "health_check_interval": 15,
}


def create_redis(settings: Settings, *, max_connections: int | None = None) -> Redis:
    """A pooled client that fails fast when Redis is down and reconnects when it is back.

    With `max_connections`, the pool never holds more: a burst of requests waits (up to 5 s,
    then a 503) for a connection instead of opening one each, so the process's connection
    count stays fixed however many clients it serves.
    """
    url = settings.required("REDIS_URL")
    if max_connections is None:
        client: Redis = Redis.from_url(url, **_OPTIONS)  # from_url is untyped
        return client
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, **_OPTIONS
    )
    return Redis.from_pool(pool)  # owns the pool: `aclose()` closes its connections
