"""A logged-in caller without a Proxmox: a user row plus a session made by the real store."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from sqlalchemy import insert

from shared.core.settings import Settings
from shared.db import User, create_engine
from shared.domain.sessions import SessionStore


async def fresh_user(settings: Settings) -> uuid.UUID:
    """A user row of its own (tests share one database)."""
    user_id = uuid.uuid4()
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(User).values(
                    id=user_id, host_identity=f"tests-{user_id}.invalid:8006", userid="tests@pve"
                )
            )
    finally:
        await engine.dispose()
    return user_id


async def bearer_token(settings: Settings, user_id: uuid.UUID) -> str:
    """A new session of `user_id`, made by the real store; returns its bearer token."""
    redis = Redis.from_url(settings.redis_url or "")
    try:
        session = await SessionStore(redis, 600).create(
            user_id=str(user_id), userid="tests@pve", host=f"tests-{user_id}.invalid", port=8006
        )
    finally:
        await redis.aclose()
    return session.bearer_token


async def bearer_headers(settings: Settings) -> dict[str, str]:
    """`Authorization` header of a fresh session of a fresh user."""
    token = await bearer_token(settings, await fresh_user(settings))
    return {"Authorization": f"Bearer {token}"}
