"""Per-container action locks in Redis: one lifecycle action at a time, across API replicas.

`SET NX EX` with a random owner token takes the lock; a Lua compare-and-delete releases it, so a
holder whose lock expired can never release someone else's. While the holder works, the lock is
renewed (compare-and-expire) every third of its lifetime, so a long shutdown keeps it, and a
crashed holder's lock still expires on its own. The value names the running action, so a
refused caller can be told what it is waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import msgspec
from redis.asyncio import Redis

from shared.core import metrics
from shared.core.errors import Conflict
from shared.core.logging import get_logger

log = get_logger(__name__)

LOCK_TTL_SECONDS = 300

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class _Holder(msgspec.Struct):
    action: str
    token: str
    since: float


def _key(container_id: uuid.UUID) -> str:
    return f"lock:container:{container_id}"


class ContainerLocks:
    def __init__(self, redis: Redis, ttl_seconds: int = LOCK_TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    @asynccontextmanager
    async def hold(
        self, container_id: uuid.UUID, action: str, *, wait_for_build: float = 0.0
    ) -> AsyncIterator[None]:
        """Run the block as the only action on this container, or raise `Conflict`.

        `wait_for_build`: seconds to wait while the holder is a build (it marks the container
        `ready` a moment before it lets go of the lock); any other holder is a conflict."""
        holder = _Holder(action=action, token=secrets.token_hex(16), since=time.time())
        value = msgspec.json.encode(holder)
        started = time.monotonic()
        deadline = started + wait_for_build
        contended = False
        while not await self.redis.set(_key(container_id), value, nx=True, ex=self.ttl):
            contended = True
            if await self.holder(container_id) != "build" or time.monotonic() >= deadline:
                metrics.lock_contended("container", "refused")
                raise Conflict(await self._describe_holder(container_id))
            await asyncio.sleep(0.1)
        if contended:
            metrics.lock_contended("container", "waited")
            metrics.observe_lock_wait("container", time.monotonic() - started)
        renewing = asyncio.create_task(self._keep(container_id, value))
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)  # never swallows our own cancel
            try:
                await self._release(keys=[_key(container_id)], args=[value])
            except Exception:  # Redis gone: the lock expires by itself; keep the real error
                log.warning("could not release a container lock", container_id=str(container_id))

    async def _keep(self, container_id: uuid.UUID, value: bytes) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            with contextlib.suppress(Exception):  # a missed renewal is retried next round
                await self._renew(keys=[_key(container_id)], args=[value, self.ttl])

    async def holder(self, container_id: uuid.UUID) -> str | None:
        """The action currently running on the container, if any."""
        raw = await self.redis.get(_key(container_id))
        return None if raw is None else msgspec.json.decode(raw, type=_Holder).action

    async def _describe_holder(self, container_id: uuid.UUID) -> str:
        raw = await self.redis.get(_key(container_id))
        if raw is None:  # released in between: still a collision the caller should retry
            return "Another action just finished on this container; try again."
        running = msgspec.json.decode(raw, type=_Holder)
        age = int(time.time() - running.since)
        return f"A {running.action!r} action is already running on this container ({age} s)."


_ACQUIRE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
    return 1
end
return 0
"""


class BuildSlots:
    """At most `limit` builds at once per node, across every worker process.

    A sorted set per node: members are the builds holding a slot, scores the time their claim
    runs out. Holders renew their claim while they work, so a crashed worker's slot frees
    itself within `ttl_seconds`; taking a slot is one Lua call (expire stale claims, then take
    one if there is room, or keep the one this build already holds).
    """

    def __init__(self, redis: Redis, limit: int, ttl_seconds: float = 30.0) -> None:
        self.redis = redis
        self.limit = limit
        self.ttl = ttl_seconds
        self._acquire = redis.register_script(_ACQUIRE_SLOT)

    @staticmethod
    def key(node_id: uuid.UUID) -> str:
        return f"build-slots:{node_id}"

    async def try_acquire(self, node_id: uuid.UUID, holder: str) -> bool:
        now = time.time()
        taken = await self._acquire(
            keys=[self.key(node_id)], args=[now, now + self.ttl, holder, self.limit]
        )
        return bool(taken)

    async def release(self, node_id: uuid.UUID, holder: str) -> None:
        with contextlib.suppress(Exception):  # Redis gone: the claim runs out by itself
            await self.redis.zrem(self.key(node_id), holder)

    @asynccontextmanager
    async def hold(
        self,
        node_id: uuid.UUID,
        holder: str,
        *,
        poll_seconds: float = 1.0,
        on_wait: Callable[[], Awaitable[None]] | None = None,
        while_waiting: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[None]:
        """Wait for a slot (calling `on_wait()` once if there is none yet, and
        `while_waiting()` at every poll: it may raise to give up), hold it, renew it every
        third of its lifetime, and give it back at the end."""
        waited = False
        started = time.monotonic()
        try:
            while not await self.try_acquire(node_id, holder):
                if not waited and on_wait is not None:
                    await on_wait()
                waited = True
                if while_waiting is not None:
                    await while_waiting()
                await asyncio.sleep(poll_seconds)
        except BaseException:
            if waited:  # gave up waiting (cancelled, or `while_waiting` said stop)
                metrics.lock_contended("build_slot", "abandoned")
            raise
        if waited:
            metrics.lock_contended("build_slot", "waited")
            metrics.observe_lock_wait("build_slot", time.monotonic() - started)

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.ttl / 3)
                with contextlib.suppress(Exception):
                    await self.try_acquire(node_id, holder)

        renewing = asyncio.create_task(keep())
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await self.release(node_id, holder)
