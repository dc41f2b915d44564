"""Worker liveness in Redis: workers beat, `/ready` counts the live ones in one round trip.

One sorted set per queue, member = worker id, score = time of its last beat. A worker that
stops cleanly removes itself; one that dies simply stops beating and ages out.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline


def workers_key(queue_name: str) -> str:
    return f"{queue_name}:workers"


async def beat(redis: Redis, queue_name: str, worker_id: str, ttl: float) -> None:
    """Record that `worker_id` is alive now and forget workers silent for longer than `ttl`."""
    now = time.time()
    key = workers_key(queue_name)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {worker_id: now})
        pipe.zremrangebyscore(key, "-inf", now - ttl)
        await pipe.execute()


async def leave(redis: Redis, queue_name: str, worker_id: str) -> None:
    await redis.zrem(workers_key(queue_name), worker_id)


def add_live_worker_count(pipe: Pipeline, queue_name: str, ttl: float) -> None:
    """Add the live-worker count to `pipe`, so callers can batch it with other commands."""
    pipe.zcount(workers_key(queue_name), time.time() - ttl, "+inf")
