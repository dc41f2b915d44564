"""The VMID cache: which guest ids a node's cluster already uses, one Redis SET per node.

Containers and VMs share one VMID space across the whole cluster, so the set is filled from
`/cluster/resources` (every guest of every node) plus the ids our own container rows reserve.
A refresh replaces the set atomically (MULTI: DEL, SADD, EXPIRE). The set lives 5 minutes and
is invalidated when we create or delete a container. Besides the ids, the set holds a sentinel
(so an empty cluster is "known empty", not "not cached") and an `owner:<user id>` member, so a
check is a single SMISMEMBER that answers "taken?", "cached?" and "the caller's node?" at once:
the hot path is one Redis command and never touches PostgreSQL.

The VMID route reads the set together with the caller's session (`session_and_status`): one
Lua script does the session's GETEX and the set's read, one round trip for both; none while the
process's read cache (shared.adapters.readcache) holds both. Every replace and invalidation
publishes the set's key in the same MULTI, so no process's cache serves the old set afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable
from typing import Any, Literal, NamedTuple, cast

from redis.asyncio import Redis

from shared.adapters.readcache import MISS, ReadCache, invalidation_message
from shared.domain.sessions import SessionData, SessionStore, decode_session, session_key

VMID_MIN = 100
VMID_MAX = 999_999_999
CACHE_TTL_SECONDS = 300
# Keeps an empty cluster's set in existence: "known empty" differs from "not cached".
_SENTINEL = "0"

VmidStatus = Literal["available", "taken", "unknown"]


class VmidPrefetch(NamedTuple):
    """What the auth middleware read along with the session, for the VMID route to answer."""

    node_id: uuid.UUID
    vmid: int
    status: VmidStatus | None


def _key(node_id: uuid.UUID) -> str:
    return f"vmid-cache:{node_id}"


def _owner_member(user_id: uuid.UUID) -> str:
    return f"owner:{user_id}"


# The session's GETEX (sliding expiry, as `SessionStore.lookup`) and the node's set, atomically.
# ARGV: the session TTL, then `members` (the whole set and its PTTL, for the read cache) or
# `check`, the VMID and the sentinel (SMISMEMBER of those and of the session user's owner
# member, whose user id the script reads from the session it just fetched).
_SESSION_AND_SET = """
local payload = redis.call('GETEX', KEYS[1], 'EX', ARGV[1])
if not payload then return {false} end
if ARGV[2] == 'members' then
  return {payload, redis.call('PTTL', KEYS[2]), redis.call('SMEMBERS', KEYS[2])}
end
local owner = ''
local ok, session = pcall(cjson.decode, payload)
if ok and type(session) == 'table' and type(session.user_id) == 'string' then
  owner = 'owner:' .. session.user_id
end
return {payload, redis.call('SMISMEMBER', KEYS[2], ARGV[3], ARGV[4], owner)}
"""
_SET_MEMBERS = "return {redis.call('PTTL', KEYS[1]), redis.call('SMEMBERS', KEYS[1])}"


def _status(members: frozenset[bytes], user_id: uuid.UUID, vmid: int) -> VmidStatus | None:
    if _SENTINEL.encode() not in members or _owner_member(user_id).encode() not in members:
        return None
    return "taken" if str(vmid).encode() in members else "available"


def _answer(taken: int, cached: int, owned: int) -> VmidStatus | None:
    """SMISMEMBER's answer for (the VMID, the sentinel, the caller's owner member): the
    status, or None when the cache cannot answer for this caller."""
    if not cached or not owned:
        return None
    return "taken" if taken else "available"


class VmidCache:
    def __init__(self, redis: Redis, channel: str, cache: ReadCache | None = None) -> None:
        self.redis = redis
        self.channel = channel  # shared.adapters.readcache.invalidation_channel
        self.cache = cache
        # registered once per client: EVALSHA, and EVAL's load again after a NOSCRIPT
        self._session_and_set = redis.register_script(_SESSION_AND_SET)
        self._set_members = redis.register_script(_SET_MEMBERS)

    async def session_and_status(
        self, sessions: SessionStore, secret: str, node_id: uuid.UUID, vmid: int
    ) -> tuple[SessionData | None, VmidStatus | None]:
        """The session of `secret` (None: not logged in) and, for its user, what `check`
        answers: one round trip, or none when the read cache holds both."""
        key = session_key(secret)
        if key is None:
            return None, None
        set_key = _key(node_id)
        cache = self.cache
        if cache is None or not cache.enabled:
            reply = await self._session_and_set(
                keys=[key, set_key], args=[sessions.ttl, "check", str(vmid), _SENTINEL]
            )
            found = decode_session(reply[0])
            if found is None:
                return None, None
            return found, _answer(*reply[1])
        data, members = cache.get(key), cache.get(set_key)
        epoch, started = cache.epoch, time.monotonic()
        if data is MISS and members is MISS:
            reply = await self._session_and_set(keys=[key, set_key], args=[sessions.ttl, "members"])
            data = decode_session(reply[0])
            if data is None:
                return None, None
            sessions.remember(key, data, epoch, started)
            members = frozenset(reply[2])
            cache.put(set_key, members, epoch, reply[1], started=started)
        elif data is MISS:
            data = await sessions.lookup_key(key, cached=True)
            if data is None:
                return None, None
        elif members is MISS:
            pttl, raw = await self._set_members(keys=[set_key])
            members = frozenset(raw)
            cache.put(set_key, members, epoch, pttl, started=started)
        session = cast(SessionData, data)
        return session, _status(cast("frozenset[bytes]", members), uuid.UUID(session.user_id), vmid)

    async def check(self, node_id: uuid.UUID, user_id: uuid.UUID, vmid: int) -> VmidStatus | None:
        """The status, or None when the cache cannot answer for this caller (not cached, or
        cached for someone else): the caller then checks ownership in the database."""
        # redis-py declares its commands `Awaitable[T] | T` for both clients; ours is the async one
        taken, cached, owned = await cast(
            "Awaitable[list[Literal[0, 1]]]",
            self.redis.smismember(_key(node_id), [str(vmid), _SENTINEL, _owner_member(user_id)]),
        )
        return _answer(taken, cached, owned)

    async def replace(self, node_id: uuid.UUID, user_id: uuid.UUID, vmids: set[int]) -> None:
        key = _key(node_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.sadd(key, _SENTINEL, _owner_member(user_id), *(str(v) for v in vmids))
            pipe.expire(key, CACHE_TTL_SECONDS)
            pipe.publish(self.channel, invalidation_message([key]))
            await pipe.execute()
        if self.cache is not None:
            self.cache.invalidate([key])

    async def members(self, node_id: uuid.UUID) -> set[int] | None:
        raw = await cast("Awaitable[set[Any]]", self.redis.smembers(_key(node_id)))
        if not raw:
            return None
        return {int(v) for v in raw if v.isdigit()} - {int(_SENTINEL)}

    async def invalidate(self, node_id: uuid.UUID) -> None:
        key = _key(node_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.publish(self.channel, invalidation_message([key]))
            await pipe.execute()
        if self.cache is not None:
            self.cache.invalidate([key])


def lowest_free(taken: set[int], start: int) -> int | None:
    candidate = max(start, VMID_MIN)
    while candidate in taken:
        candidate += 1
    return candidate if candidate <= VMID_MAX else None
