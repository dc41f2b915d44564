"""A logged-in caller without a Proxmox: a user row plus a session made by the real store."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from sqlalchemy import insert

from shared.db import User, create_engine
from shared.sessions import SessionStore
from shared.settings import Settings


async def bearer_headers(settings: Settings) -> dict[str, str]:
    """`Authorization` header of a fresh session of a fresh user (tests share one database)."""
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
    redis = Redis.from_url(settings.redis_url or "")
    try:
        session = await SessionStore(redis, 600).create(
            user_id=str(user_id), userid="tests@pve", host=f"tests-{user_id}.invalid", port=8006
        )
    finally:
        await redis.aclose()
    return {"Authorization": f"Bearer {session.bearer_token}"}
