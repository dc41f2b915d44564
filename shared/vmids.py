"""The VMID cache: which guest ids a node's cluster already uses, one Redis SET per node.

Containers and VMs share one VMID space across the whole cluster, so the set is filled from
`/cluster/resources` (every guest of every node) plus the ids our own container rows reserve.
A refresh replaces the set atomically (MULTI: DEL, SADD, EXPIRE). The set lives 5 minutes and
is invalidated when we create or delete a container. Besides the ids, the set holds a sentinel
(so an empty cluster is "known empty", not "not cached") and an `owner:<user id>` member, so a
check is a single SMISMEMBER that answers "taken?", "cached?" and "the caller's node?" at once:
the hot path is one Redis command and never touches PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, Literal, cast

from redis.asyncio import Redis

VMID_MIN = 100
VMID_MAX = 999_999_999
CACHE_TTL_SECONDS = 300
# Keeps an empty cluster's set in existence: "known empty" differs from "not cached".
_SENTINEL = "0"

VmidStatus = Literal["available", "taken", "unknown"]


def _key(node_id: uuid.UUID) -> str:
    return f"vmid-cache:{node_id}"


def _owner_member(user_id: uuid.UUID) -> str:
    return f"owner:{user_id}"


class VmidCache:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def check(self, node_id: uuid.UUID, user_id: uuid.UUID, vmid: int) -> VmidStatus | None:
        """The status, or None when the cache cannot answer for this caller (not cached, or
        cached for someone else): the caller then checks ownership in the database."""
        # redis-py declares its commands `Awaitable[T] | T` for both clients; ours is the async one
        taken, cached, owned = await cast(
            "Awaitable[list[Literal[0, 1]]]",
            self.redis.smismember(_key(node_id), [str(vmid), _SENTINEL, _owner_member(user_id)]),
        )
        if not cached or not owned:
            return None
        return "taken" if taken else "available"

    async def replace(self, node_id: uuid.UUID, user_id: uuid.UUID, vmids: set[int]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(_key(node_id))
            pipe.sadd(_key(node_id), _SENTINEL, _owner_member(user_id), *(str(v) for v in vmids))
            pipe.expire(_key(node_id), CACHE_TTL_SECONDS)
            await pipe.execute()

    async def members(self, node_id: uuid.UUID) -> set[int] | None:
        raw = await cast("Awaitable[set[Any]]", self.redis.smembers(_key(node_id)))
        if not raw:
            return None
        return {int(v) for v in raw if v.isdigit()} - {int(_SENTINEL)}

    async def invalidate(self, node_id: uuid.UUID) -> None:
        await self.redis.delete(_key(node_id))


def lowest_free(taken: set[int], start: int) -> int | None:
    candidate = max(start, VMID_MIN)
    while candidate in taken:
        candidate += 1
    return candidate if candidate <= VMID_MAX else None
