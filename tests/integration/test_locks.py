"""Container action locks on real Redis: exclusive, renewed while held, released by owner."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from shared.adapters.locks import ContainerLocks
from shared.core.errors import Conflict


async def test_a_held_lock_is_renewed_past_its_ttl_and_released_after(redis: Redis) -> None:
    locks = ContainerLocks(redis, ttl_seconds=1)
    container = uuid.uuid4()
    async with locks.hold(container, "shutdown"):
        await asyncio.sleep(2.5)  # longer than the TTL: only renewal keeps it
        assert await locks.holder(container) == "shutdown"
        with pytest.raises(Conflict, match="'shutdown' action is already running"):
            async with locks.hold(container, "stop"):
                pass
    assert await locks.holder(container) is None


async def test_an_expired_holder_cannot_release_the_next_holders_lock(redis: Redis) -> None:
    locks = ContainerLocks(redis, ttl_seconds=60)
    container = uuid.uuid4()
    async with locks.hold(container, "start"):
        # simulate expiry and another replica taking over
        await redis.delete(f"lock:container:{container}")
        async with locks.hold(container, "stop"):
            pass  # the inner holder releases its own lock...
        await redis.set(f"lock:container:{container}", b"someone else", ex=60)
    # ...and the outer holder's release does not delete someone else's lock
    assert await redis.get(f"lock:container:{container}") == b"someone else"
    await redis.delete(f"lock:container:{container}")
