"""Server-side sessions in Redis: cookie sessions for browsers, bearer tokens for programs.

A login creates one session reachable by two secrets: the cookie's session id and a bearer
token. Redis keys are SHA-256 hashes of those secrets, so a Redis dump holds nothing a client
could present. A lookup is one `GETEX`, which also slides the expiry: one round trip per request,
or none while the process's read cache (shared.adapters.readcache) holds the session. Logout
deletes the keys and publishes their names in one MULTI, so no process's cache serves them
afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import msgspec
from redis.asyncio import Redis

from shared.adapters.readcache import MISS, ReadCache, invalidation_message

_PREFIX = "session:"


class SessionData(msgspec.Struct, frozen=True):
    user_id: str
    userid: str  # PVE `user@realm`
    host: str
    port: int
    csrf_token: str
    created_at: float
    # hashes of the cookie id and the bearer token, so logout can remove both
    keys: tuple[str, str]
    # the host's pinned certificate when this session was made (only such a session may re-pin)
    tls_fingerprint: str | None = None


def _key(secret: str) -> str:
    return _PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def session_key(secret: str) -> str | None:
    """The Redis key of a cookie id or bearer token; None for one that cannot be valid."""
    if not secret or len(secret) > 256:
        return None
    return _key(secret)


def decode_session(payload: bytes | str | None) -> SessionData | None:
    if payload is None:
        return None
    try:
        return msgspec.json.decode(payload, type=SessionData)
    except msgspec.ValidationError:
        return None


class NewSession(msgspec.Struct, frozen=True):
    session_id: str
    bearer_token: str
    data: SessionData


class SessionStore:
    def __init__(
        self,
        redis: Redis,
        ttl_seconds: int,
        *,
        channel: str | None = None,
        cache: ReadCache | None = None,
    ) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        # shared.adapters.readcache.invalidation_channel; None only where sessions are never
        # destroyed (tests and benches that seed one), since a logout must tell every process
        self.channel = channel
        self.cache = cache

    async def create(
        self, *, user_id: str, userid: str, host: str, port: int,
        tls_fingerprint: str | None = None,
    ) -> NewSession:  # fmt: skip
        """Always fresh secrets: nothing a client sent before login can become its session."""
        session_id, bearer = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        data = SessionData(
            user_id=user_id,
            userid=userid,
            host=host,
            port=port,
            csrf_token=secrets.token_urlsafe(32),
            created_at=time.time(),
            keys=(_key(session_id), _key(bearer)),
            tls_fingerprint=tls_fingerprint,
        )
        payload = msgspec.json.encode(data)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in data.keys:
                pipe.set(key, payload, ex=self.ttl)
            await pipe.execute()
        return NewSession(session_id=session_id, bearer_token=bearer, data=data)

    async def lookup(self, secret: str, *, cached: bool = True) -> SessionData | None:
        """The session for a cookie id or bearer token, extending its life (sliding expiry).

        `cached=False` (unsafe methods, WebSockets) always asks Redis: a change must never
        be authorized by a session that was revoked a moment ago, and pushed invalidation
        cannot promise that against a message delayed on its way to this process."""
        key = session_key(secret)
        return None if key is None else await self.lookup_key(key, cached=cached)

    async def lookup_key(self, key: str, *, cached: bool) -> SessionData | None:
        """Like `lookup`, by the session's Redis key (one of `SessionData.keys`): a stream
        ticket (services.api.tickets) names its session this way, never by a secret."""
        cache = self.cache
        if cache is None or not cached:
            return decode_session(await self.redis.getex(key, ex=self.ttl))
        hit = cache.get(key)
        if hit is not MISS:
            return hit  # type: ignore[return-value]  # only SessionData is stored here
        epoch, started = cache.epoch, time.monotonic()
        data = decode_session(await self.redis.getex(key, ex=self.ttl))
        self.remember(key, data, epoch, started)
        return data

    def remember(self, key: str, data: SessionData | None, epoch: int, started: float) -> None:
        """Cache a session just read (a key that does not exist is not cached). An entry lives
        at most a tenth of the session TTL: hits skip GETEX, so the key's sliding expiry is
        renewed only by the misses, and they must come well before it runs out."""
        if data is not None and self.cache is not None:
            self.cache.put(key, data, epoch, started=started, max_seconds=self.ttl / 10)

    async def destroy(self, data: SessionData) -> None:
        """Logout: both the cookie and the bearer token stop working at once, in every
        process (the invalidation is published in the same transaction as the delete)."""
        if self.channel is None:
            raise RuntimeError("a SessionStore without an invalidation channel cannot log out")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*data.keys)
            pipe.publish(self.channel, invalidation_message(data.keys))
            await pipe.execute()
        if self.cache is not None:
            self.cache.invalidate(data.keys)
