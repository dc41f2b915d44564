"""The Redis client every process builds the same way from `Settings`."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.settings import Settings, SettingsError


def create_redis(settings: Settings) -> Redis:
    """A pooled client that fails fast when Redis is down and reconnects when it is back."""
    if settings.redis_url is None:
        raise SettingsError("REDIS_URL", "is not set")
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=15,
    )
