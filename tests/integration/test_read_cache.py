"""The authenticated read path's Redis round trips (one Lua script for session + VMID set, none
from the per-process cache) and the cache's correctness: a revoked session or an invalidated
VMID set is never served from it, with its subscription up, cut, reconnecting or silent."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.api.app import create_app
from shared.adapters.readcache import (
    MISS,
    InvalidationSubscriber,
    ReadCache,
    _Incomplete,
    _parse,
    invalidation_channel,
)
from shared.core.settings import Settings
from shared.dev.embedded import free_port
from shared.domain.sessions import SessionStore
from shared.domain.vmids import VmidCache

# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A queue (so an invalidation channel) of this module's own: the run's shared worker
    publishes invalidations on the run's channel, and each bumps a cache's epoch."""
    return msgspec.structs.replace(settings, queue_name=f"{settings.queue_name}-cache")


def _session_key(token: str) -> str:
    return "session:" + hashlib.sha256(token.encode()).hexdigest()


async def _seed(settings: Settings, redis: Redis) -> tuple[str, uuid.UUID, uuid.UUID]:
    """A session (its bearer token, its user id) and a node id whose VMID set holds 150."""
    user_id, node_id = uuid.uuid4(), uuid.uuid4()
    new = await SessionStore(redis, 600).create(
        user_id=str(user_id), userid="tests@pve", host="tests.invalid", port=8006
    )
    await _writer(settings, redis).replace(node_id, user_id, {150})
    return new.bearer_token, user_id, node_id


def _writer(settings: Settings, redis: Redis) -> VmidCache:
    """What the worker and the other replicas use: no cache of their own."""
    return VmidCache(redis, invalidation_channel(redis, settings.queue_name))


class Monitor:
    """Commands Redis receives that name one of `needles`, from MONITOR (scripts' own
    commands, `[0 lua]`, left out): round trips to Redis, whoever else uses it."""

    def __init__(self, redis_url: str, needles: list[str]) -> None:
        self.url = urlsplit(redis_url)
        self.needles = [needle.encode() for needle in needles]

    async def count(self, action: Callable[[], Awaitable[Any]]) -> int:
        reader, writer = await asyncio.open_connection(self.url.hostname, self.url.port or 6379)
        try:
            writer.write(b"MONITOR\r\n")
            await reader.readline()
            await action()
            deadline = asyncio.get_running_loop().time() + 0.3
            count = 0
            while True:
                try:  # what Redis logged until shortly after the action (others use it too)
                    async with asyncio.timeout_at(deadline):
                        line = await reader.readline()
                except TimeoutError:
                    return count
                source = line.split(b"[", 1)[1].split(b"]", 1)[0].split()[-1]
                if source != b"lua" and any(needle in line for needle in self.needles):
                    count += 1
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def _replica(
    settings: Settings, *, subscribed: bool = True
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], Any]]:
    """An API app (a replica of its own) once its cache subscription is up; and its state."""
    app = create_app(settings)
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        subscriber = app.state.read_cache_subscriber
        if subscriber is not None and subscribed:
            assert await subscriber.wait_subscribed(5), "the read cache never came on"
        yield client, app.state


async def _kill_client(redis: Redis, name: str) -> None:
    ids = [c["id"] for c in await redis.client_list() if c.get("name") == name]
    assert ids, f"no Redis client named {name}"
    for client_id in ids:
        await redis.client_kill_filter(_id=client_id)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the cache itself ------------------------------------------------------------------------


def test_a_fill_that_raced_an_invalidation_is_dropped() -> None:
    cache = ReadCache(5)
    cache.put("k", 1, cache.epoch)
    assert cache.get("k") is MISS  # off until a subscription turns it on
    cache.turn_on()
    epoch = cache.epoch  # a read begins
    cache.invalidate(["other"])  # ... an invalidation arrives before it returns
    cache.put("k", 1, epoch)
    assert cache.get("k") is MISS
    cache.put("k", 2, cache.epoch, pttl_ms=-1)
    assert cache.get("k") == 2
    cache.put("short", 3, cache.epoch, pttl_ms=1)  # the key's own expiry bounds the entry
    time.sleep(0.005)
    assert cache.get("short") is MISS
    cache.turn_off()
    assert cache.get("k") is MISS and len(cache) == 0
    cache.turn_on()
    assert cache.get("k") is MISS  # on again, empty


def test_the_subscriber_parses_replies_split_anywhere() -> None:
    """RESP as it arrives: any reply cut at any byte is completed by the next chunk."""
    wire = (
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$11\r\nsession:a b\r\n"
        b"*2\r\n$4\r\npong\r\n$0\r\n\r\n+OK\r\n-ERR no\r\n$-1\r\n"
    )
    expected = [
        [b"subscribe", b"ch", 1], [b"message", b"ch", b"session:a b"], [b"pong", b""], b"OK",
        "ERR no", None,
    ]  # fmt: skip
    for cut in range(len(wire)):
        buffer, replies, pos = bytearray(wire[:cut]), [], 0
        for chunk in (None, wire[cut:]):
            if chunk is not None:
                buffer += chunk
            try:
                while pos < len(buffer):
                    reply, pos = _parse(buffer, pos)
                    replies.append(reply)
            except _Incomplete:
                pass
        assert replies == expected, cut


# -- round trips -----------------------------------------------------------------------------


async def test_vmid_check_is_one_round_trip_without_the_cache(
    settings: Settings, redis: Redis
) -> None:
    token, _, node_id = await _seed(settings, redis)
    no_cache = msgspec.structs.replace(settings, api_read_cache_seconds=0)
    monitor = Monitor(settings.redis_url or "", [_session_key(token), str(node_id)])
    async with _replica(no_cache) as (client, state):
        assert state.read_cache is None
        url = f"/api/nodes/{node_id}/vmids/150"
        await client.get(url, headers=_bearer(token))  # loads the script once (NOSCRIPT)
        answers: list[Any] = []

        async def check() -> None:
            answers.append(await client.get(url, headers=_bearer(token)))

        for _ in range(3):
            assert await monitor.count(check) == 1
        assert [(a.status_code, a.json()["status"]) for a in answers] == [(200, "taken")] * 3
        free = f"/api/nodes/{node_id}/vmids/151"
        assert (await client.get(free, headers=_bearer(token))).json()["status"] == "available"
        # /me, like every route that does not opt in, reads the session alone: one GETEX
        assert await monitor.count(lambda: client.get("/api/auth/me", headers=_bearer(token))) == 1


async def test_a_cached_session_and_vmid_set_cost_no_round_trip(
    settings: Settings, redis: Redis
) -> None:
    token, user_id, node_id = await _seed(settings, redis)
    other = (await SessionStore(redis, 600).create(
        user_id=str(user_id), userid="tests@pve", host="tests.invalid", port=8006
    )).bearer_token  # fmt: skip
    needles = [_session_key(token), _session_key(other), str(node_id)]
    monitor = Monitor(settings.redis_url or "", needles)
    url = f"/api/nodes/{node_id}/vmids/150"
    async with _replica(settings) as (client, _):
        first = await monitor.count(lambda: client.get(url, headers=_bearer(token)))
        assert first <= 3  # one script call (EVALSHA, and SCRIPT LOAD + EVALSHA the first time)
        for _ in range(3):
            assert await monitor.count(lambda: client.get(url, headers=_bearer(token))) == 0
        # a new session with the set cached: its GETEX only
        assert await monitor.count(lambda: client.get(url, headers=_bearer(other))) == 1
        assert await monitor.count(lambda: client.get("/api/auth/me", headers=_bearer(other))) == 0
        answer = await client.get(url, headers=_bearer(token))
        assert answer.status_code == 200 and answer.json()["status"] == "taken"


# -- correctness -----------------------------------------------------------------------------


async def _assert_fresh(
    settings: Settings, redis: Redis, a: AsyncTestClient[Litestar], b: AsyncTestClient[Litestar],
    cache: ReadCache, *,
    before_write: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]] | None = None,
    trials: int = 20,
) -> None:  # fmt: skip
    """Sessions logged out on A and VMID sets rewritten by another process are never answered
    from B's cache, right after the write returned. B's cache holds what the write replaces
    before each write (asserted: a test on an empty cache would prove nothing)."""
    for _ in range(trials):
        token, user_id, node_id = await _seed(settings, redis)
        url = f"/api/nodes/{node_id}/vmids/150"

        async def warm_set(
            token: str = token, url: str = url, node_id: uuid.UUID = node_id
        ) -> None:
            for _ in range(2):  # session and set in B's cache
                assert (await b.get(url, headers=_bearer(token))).json()["status"] == "taken"
            assert cache.get(_session_key(token)) is not MISS
            assert cache.get(f"vmid-cache:{node_id}") is not MISS

        async def warm_session(token: str = token) -> None:
            for _ in range(2):
                assert (await b.get("/api/auth/me", headers=_bearer(token))).status_code == 200
            assert cache.get(_session_key(token)) is not MISS

        # (`before_write` warms the cache itself, once its subscription is back)
        await (warm_set() if before_write is None else before_write(warm_set))
        await _writer(settings, redis).replace(node_id, user_id, {151})
        assert (await b.get(url, headers=_bearer(token))).json()["status"] == "available"
        assert (await b.get(url, headers=_bearer(token))).json()["status"] == "available"
        await _writer(settings, redis).invalidate(node_id)
        # not cached any more: the database does not know this node (no cached "available")
        assert (await b.get(url, headers=_bearer(token))).status_code == 404
        # (`before_write` warms the cache itself, once its subscription is back)
        await (warm_session() if before_write is None else before_write(warm_session))
        assert (await a.post("/api/auth/logout", headers=_bearer(token))).status_code == 204
        assert (await b.get("/api/auth/me", headers=_bearer(token))).status_code == 401
        assert (await b.get(url, headers=_bearer(token))).status_code == 401


async def test_revoked_sessions_and_invalidated_sets_are_never_served_from_the_cache(
    settings: Settings, redis: Redis
) -> None:
    async with _replica(settings) as (a, _), _replica(settings) as (b, b_state):
        subscriber: InvalidationSubscriber = b_state.read_cache_subscriber
        cache: ReadCache = b_state.read_cache
        # subscription up
        await _assert_fresh(settings, redis, a, b, cache)
        assert cache.enabled  # (what it held was asserted before each write)
        switches = cache.switches

        # subscription cut just before each write: the cache is off at once, then reconnects
        async def cut(warm: Callable[[], Awaitable[None]]) -> None:
            assert await subscriber.wait_subscribed(5)
            await warm()
            assert cache.enabled
            await _kill_client(redis, subscriber.client_name)

        await _assert_fresh(settings, redis, a, b, cache, before_write=cut, trials=10)
        assert cache.switches >= switches + 20  # it went off each time

        # reconnecting: it comes back on (empty), and stays correct
        assert await subscriber.wait_subscribed(5)
        await _assert_fresh(settings, redis, a, b, cache, trials=5)
        assert cache.enabled


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frozen: threading.Event
) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            while frozen.is_set():
                await asyncio.sleep(0.01)
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def _freezable_proxy(redis_url: str) -> AsyncIterator[tuple[str, threading.Event]]:
    """A TCP proxy to Redis that can go silent (a partition: nothing passes, nothing closes).
    On a thread of its own: the test client may block the test's event loop meanwhile."""
    target = urlsplit(redis_url)
    frozen = threading.Event()
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port or 6379)
        await asyncio.gather(_pump(reader, up_writer, frozen), _pump(up_reader, writer, frozen))

    stopping: list[asyncio.Event] = []

    async def main() -> None:
        stopping.append(asyncio.Event())
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        ready.set()
        async with server:
            await stopping[0].wait()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def run() -> None:
        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield f"redis://127.0.0.1:{port}{target.path or '/0'}", frozen
    finally:
        frozen.clear()
        loop.call_soon_threadsafe(stopping[0].set)
        thread.join(5)


async def test_a_silent_subscription_turns_the_cache_off_within_about_a_second(
    settings: Settings, redis: Redis
) -> None:
    async with _freezable_proxy(settings.redis_url or "") as (url, frozen):
        channel = invalidation_channel(redis, settings.queue_name)
        cache = ReadCache(5)
        subscriber = InvalidationSubscriber(url, channel, cache)
        store = SessionStore(redis, 600, channel=channel, cache=cache)
        await subscriber.start()
        try:
            assert await subscriber.wait_subscribed(5)
            new = await store.create(user_id=str(uuid.uuid4()), userid="t@pve", host="h", port=1)
            assert await store.lookup(new.bearer_token) is not None
            assert cache.get(new.data.keys[1]) is not MISS
            frozen.set()
            started = time.monotonic()
            await SessionStore(redis, 600, channel=channel).destroy(new.data)  # message stuck
            while cache.enabled:
                assert time.monotonic() - started < 1.6, "the cache stayed on"
                await asyncio.sleep(0.01)
            assert await store.lookup(new.bearer_token) is None
            print(f"silent subscription: cache off after {time.monotonic() - started:.2f} s")
            frozen.clear()  # the proxy passes again; the subscriber reconnects and resubscribes
            assert await subscriber.wait_subscribed(5)
            assert len(cache) == 0
        finally:
            await subscriber.stop()


async def test_redis_down_is_a_503_on_the_script_path(settings: Settings, redis: Redis) -> None:
    token, _, node_id = await _seed(settings, redis)
    down = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with _replica(down, subscribed=False) as (client, state), asyncio.timeout(20):
        assert not state.read_cache.enabled
        answer = await client.get(f"/api/nodes/{node_id}/vmids/150", headers=_bearer(token))
        assert answer.status_code == 503, answer.text


@pytest.mark.timeout(60)
async def test_a_hung_redis_is_a_503_not_a_hung_request(settings: Settings, redis: Redis) -> None:
    token, _, node_id = await _seed(settings, redis)
    async with _freezable_proxy(settings.redis_url or "") as (url, frozen):
        hung = msgspec.structs.replace(settings, redis_url=url)
        async with _replica(hung) as (client, state):
            path = f"/api/nodes/{node_id}/vmids/150"
            assert (await client.get(path, headers=_bearer(token))).status_code == 200
            frozen.set()
            while state.read_cache.enabled:  # off within about a second
                await asyncio.sleep(0.05)
            started = time.monotonic()
            answer = await client.get(path, headers=_bearer(token))
            assert answer.status_code == 503, answer.text
            assert time.monotonic() - started < 8  # the client's socket timeout (5 s)
            frozen.clear()


async def test_a_change_is_never_authorized_by_a_cached_session(
    settings: Settings, redis: Redis
) -> None:
    """A logout whose invalidation has not reached this process yet (here: the key deleted
    without a message) may still read for a moment; it never writes. Unsafe methods always
    ask Redis."""
    token, _, _ = await _seed(settings, redis)
    async with _replica(settings) as (client, state):
        for _ in range(2):
            assert (await client.get("/api/auth/me", headers=_bearer(token))).status_code == 200
        assert state.read_cache.get(_session_key(token)) is not MISS
        await redis.delete(_session_key(token))  # gone from Redis, still in the cache
        assert (await client.get("/api/auth/me", headers=_bearer(token))).status_code == 200
        logout = await client.post("/api/auth/logout", headers=_bearer(token))
        assert logout.status_code == 401, logout.text
        made = await client.post("/api/templates", headers=_bearer(token), json={"name": "x"})
        assert made.status_code == 401, made.text
