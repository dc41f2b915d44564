"""The job queue contract shared by the API (enqueue) and the worker (consume).

Jobs are serialized with msgspec MessagePack: compact, fast, and unlike arq's default pickle it
cannot execute code when a payload is read.
"""

from __future__ import annotations

from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool

from shared.settings import Settings, SettingsError


def serialize(value: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(value)


def deserialize(payload: bytes) -> dict[str, Any]:
    return msgspec.msgpack.decode(payload)


def redis_settings(settings: Settings) -> RedisSettings:
    if settings.redis_url is None:
        raise SettingsError("REDIS_URL", "is not set")
    return RedisSettings.from_dsn(settings.redis_url)


def create_queue(settings: Settings) -> ArqRedis:
    """A client for enqueueing jobs; it connects on first use, so the API starts while Redis is
    down (close it with `aclose(close_connection_pool=True)`)."""
    if settings.redis_url is None:
        raise SettingsError("REDIS_URL", "is not set")
    return ArqRedis(
        ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=settings.queue_name,
    )
