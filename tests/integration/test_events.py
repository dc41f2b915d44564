"""Progress events: the JSON pages and the SSE stream, against real PostgreSQL and Redis.

The streams are read over real HTTP from an API process of this module (uvicorn, short ping
interval); events are written the way the worker writes them, through `shared.domain.events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from httpx_sse import aconnect_sse
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import insert

from bench.proc import redis_connections
from services.api.events_hub import RESYNC, EventHub, Frame
from shared.core.lifecycle import EventType, Phase
from shared.core.settings import Settings
from shared.db import Container, Node, create_engine, create_session_factory
from shared.dev.embedded import EmbeddedRedis, free_port
from shared.domain import events
from shared.domain.events import EventDraft
from tests.bearer import bearer_token, fresh_user
from tests.support import settings_environment, start_process, stop_process

PING_SECONDS = 0.3


class SseApi(msgspec.Struct):
    url: str
    pid: int


@pytest.fixture(scope="module")
def sse_api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SseApi]:
    """The API as its own uvicorn process, pinging idle streams every 0.3 s."""
    port = free_port()
    changed = msgspec.structs.replace(settings, api_port=port, sse_ping_seconds=PING_SECONDS)
    log_path: Path = tmp_path_factory.mktemp("sse-api") / "api.log"
    process = start_process("services.api", settings_environment(changed), log_path)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"the API process did not start; see {log_path}")
        time.sleep(0.1)
    yield SseApi(url=url, pid=process.pid)
    stop_process(process)


class Owned(msgspec.Struct):
    headers: dict[str, str]
    container_id: uuid.UUID
    user_id: uuid.UUID


async def owned_container(settings: Settings, user_id: uuid.UUID | None = None) -> Owned:
    """A user (new unless given) with a node and a container record of their own."""
    user_id = user_id or await fresh_user(settings)
    node_id, container_id = uuid.uuid4(), uuid.uuid4()
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Node).values(
                    id=node_id, user_id=user_id, name=f"n{node_id.hex[:8]}", host="192.0.2.1",
                    token_id="t@pve!x", token_secret_enc="unused",
                )
            )  # fmt: skip
            await connection.execute(
                insert(Container).values(
                    id=container_id, node_id=node_id, created_by=user_id,
                    vmid=100 + int(container_id.hex[:6], 16) % 900_000, hostname="ct",
                    lifecycle="creating",
                )
            )  # fmt: skip
    finally:
        await engine.dispose()
    token = await bearer_token(settings, user_id)
    return Owned({"Authorization": f"Bearer {token}"}, container_id, user_id)


class Writer:
    """Writes events like the worker does: `shared.domain.events.record` (or stage+commit only)."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings, pooled=False)
        self.sessions = create_session_factory(self.engine)
        self.redis = Redis.from_url(settings.redis_url or "")

    async def record(
        self, container_id: uuid.UUID, count: int, *, final: EventType | None = None
    ) -> list[int]:
        drafts = [
            EventDraft(type=EventType.LOG, message=f"line {i}", step=Phase.DEPLOYING,
                       script_name="setup.sh", script_index=1, script_total=2)
            for i in range(count)
        ]  # fmt: skip
        if final is not None:
            drafts.append(EventDraft(type=final, message=f"the end ({final})"))
        async with self.sessions() as session:
            written = await events.record(session, self.redis, container_id, drafts)
        return [e.seq for e in written]

    async def record_unpublished(self, container_id: uuid.UUID, count: int) -> list[int]:
        """Committed rows whose publish is lost."""
        async with self.sessions() as session:
            written = await events.stage(
                session, container_id, [events.log_line(f"quiet {i}") for i in range(count)]
            )
            await session.commit()
        return [e.seq for e in written]

    async def aclose(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[Writer]:
    w = Writer(settings)
    yield w
    await w.aclose()


class Frames:
    """A raw SSE reader: events, comments and the retry hint, exactly as sent."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.retry: int | None = None
        self.comments: list[str] = []
        self.ended = False

    async def next_event(self) -> dict[str, Any] | None:
        """The next event (id, event, data decoded), or None when the stream ended."""
        fields: dict[str, str] = {}
        async for line in self.lines:
            if line == "":
                if "data" in fields:
                    return {"id": int(fields["id"]), "event": fields["event"],
                            "data": msgspec.json.decode(fields["data"])}  # fmt: skip
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "retry":
                self.retry = int(value)
            else:
                fields[name] = value
        self.ended = True
        return None

    async def events(self, count: int) -> list[dict[str, Any]]:
        got = []
        for _ in range(count):
            event = await self.next_event()
            assert event is not None, f"the stream ended after {got}"
            got.append(event)
        return got

    async def rest(self) -> list[dict[str, Any]]:
        got = []
        while (event := await self.next_event()) is not None:
            got.append(event)
        return got

    async def until_live(self) -> None:
        """Return once the replay is sent (the retry hint precedes it, in the same chunk)."""
        async for line in self.lines:
            if line.startswith("retry:"):
                self.retry = int(line.split(":", 1)[1])
                return
        raise AssertionError("the stream ended before its retry hint")


def stream_path(container_id: uuid.UUID) -> str:
    return f"/api/containers/{container_id}/events/stream"


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, owned: Owned, **kwargs: Any
) -> AsyncIterator[Frames]:
    """A stream of `owned`'s container, read raw; closing it is the client going away."""
    headers = {**owned.headers, **kwargs.pop("headers", {})}
    async with client.stream(
        "GET", stream_path(owned.container_id), headers=headers, **kwargs
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Frames(response)


def _client(api: SseApi) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, timeout=httpx.Timeout(10, read=10))


# -- the JSON pages ----------------------------------------------------------------------


async def test_pages_of_events_by_seq(
    client: AsyncTestClient[Litestar], settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    await writer.record(owned.container_id, 4, final=EventType.COMPLETE)
    path = f"/api/containers/{owned.container_id}/events"

    first = await client.get(path, params={"limit": 2}, headers=owned.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [e["seq"] for e in body["items"]] == [1, 2] and body["nextAfter"] == 2
    item = body["items"][0]
    assert item["type"] == "log" and item["step"] == "deploying" and item["message"] == "line 0"
    assert (item["scriptName"], item["scriptIndex"], item["scriptTotal"]) == ("setup.sh", 1, 2)
    assert item["timestamp"]

    second = await client.get(path, params={"after": 2, "limit": 2}, headers=owned.headers)
    assert [e["seq"] for e in second.json()["items"]] == [3, 4]
    assert second.json()["nextAfter"] == 4
    last = (await client.get(path, params={"after": 4}, headers=owned.headers)).json()
    assert [e["type"] for e in last["items"]] == ["complete"] and last["nextAfter"] is None
    empty = (await client.get(path, params={"after": 5}, headers=owned.headers)).json()
    assert empty == {"items": [], "nextAfter": None}


async def test_another_users_container_is_404_on_both_routes(
    client: AsyncTestClient[Litestar], settings: Settings, writer: Writer
) -> None:
    alice = await owned_container(settings)
    bob = await owned_container(settings)
    await writer.record(alice.container_id, 2)
    for path in (
        f"/api/containers/{alice.container_id}/events",
        stream_path(alice.container_id),
        f"/api/containers/{uuid.uuid4()}/events",
        stream_path(uuid.uuid4()),
    ):
        response = await client.get(path, headers=bob.headers)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(stream_path(alice.container_id))).status_code == 401


async def test_bad_positions_are_400(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    owned = await owned_container(settings)
    path = f"/api/containers/{owned.container_id}/events"
    for params in ({"after": -1}, {"limit": 0}, {"limit": 1001}, {"after": 2**31}, {"after": "x"}):
        response = await client.get(path, params=params, headers=owned.headers)
        assert response.status_code == 400, params
    for headers in ({"Last-Event-ID": "abc"}, {"Last-Event-ID": "-3"}):
        response = await client.get(stream_path(owned.container_id),
                                    headers={**owned.headers, **headers})  # fmt: skip
        assert response.status_code == 400, headers
    response = await client.get(
        stream_path(owned.container_id), params={"lastEventId": "9" * 20}, headers=owned.headers
    )
    assert response.status_code == 400


# -- the stream, over real HTTP ------------------------------------------------------------


async def test_replay_then_live_in_order_until_complete(
    sse_api: SseApi, settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    await writer.record(owned.container_id, 3)
    received, retries = [], []
    async with _client(sse_api) as client:
        async with aconnect_sse(
            client, "GET", stream_path(owned.container_id), headers=owned.headers
        ) as source:
            assert source.response.headers["cache-control"] == "no-cache"
            events_ = source.aiter_sse()
            async for sse in events_:
                if sse.retry is not None:  # the hint, before any event
                    retries.append((sse.retry, len(received)))
                if sse.data:
                    received.append(sse)
                if len(received) == 3:
                    break
            for _ in range(3):  # live, in several batches
                await writer.record(owned.container_id, 2)
            await writer.record(owned.container_id, 1, final=EventType.COMPLETE)
            async for sse in events_:  # ends by itself after `complete`
                received.append(sse)
    assert retries == [(3000, 0)]
    assert [int(s.id) for s in received] == list(range(1, 12))
    assert received[-1].event == "complete" and received[0].event == "log"
    assert [msgspec.json.decode(s.data)["seq"] for s in received] == list(range(1, 12))


async def test_reconnect_with_last_event_id_gets_the_rest_exactly_once(
    sse_api: SseApi, settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    await writer.record(owned.container_id, 8)
    async with _client(sse_api) as client:
        async with open_stream(client, owned) as frames:
            first = await frames.events(5)
        assert [e["id"] for e in first] == [1, 2, 3, 4, 5]
        await writer.record(owned.container_id, 2)  # while disconnected: 9, 10
        async with open_stream(client, owned, headers={"Last-Event-ID": "5"}) as frames:
            replayed = await frames.events(5)  # 6..10
            await writer.record(owned.container_id, 3, final=EventType.ERROR)  # 11..14
            rest = await frames.rest()
    ids = [e["id"] for e in replayed + rest]
    assert ids == list(range(6, 15))
    assert rest[-1]["event"] == "error" and rest[-1]["data"]["type"] == "error"


async def test_last_event_id_query_parameter(
    sse_api: SseApi, settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    await writer.record(owned.container_id, 4, final=EventType.COMPLETE)
    async with _client(sse_api) as client:
        async with open_stream(client, owned, params={"lastEventId": 2}) as frames:
            assert [e["id"] for e in await frames.rest()] == [3, 4, 5]
        # the header wins when it is further along (EventSource keeps the URL and adds it)
        headers = {"Last-Event-ID": "4"}
        async with open_stream(client, owned, params={"lastEventId": 2}, headers=headers) as frames:
            assert [e["id"] for e in await frames.rest()] == [5]


async def test_after_completion_full_replay_then_the_stream_ends(
    sse_api: SseApi, settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    await writer.record(owned.container_id, 6, final=EventType.COMPLETE)
    async with _client(sse_api) as client:
        async with open_stream(client, owned) as frames:
            replay = await frames.rest()
            assert frames.ended and frames.retry == 3000
        assert [e["id"] for e in replay] == list(range(1, 8))
        assert replay[-1]["event"] == "complete"
        again = await client.get(
            stream_path(owned.container_id), headers={**owned.headers, "Last-Event-ID": "7"}
        )
        assert again.status_code == 204  # nothing more will come: EventSource stops


async def test_a_retried_build_streams_past_its_first_error(
    sse_api: SseApi, settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    await writer.record(owned.container_id, 2, final=EventType.ERROR)  # 1..3
    await writer.record(owned.container_id, 2, final=EventType.COMPLETE)  # retried: 4..6
    async with _client(sse_api) as client:
        async with open_stream(client, owned) as frames:
            assert [e["id"] for e in await frames.rest()] == [1, 2, 3]
        async with open_stream(client, owned, headers={"Last-Event-ID": "3"}) as frames:
            assert [e["id"] for e in await frames.rest()] == [4, 5, 6]


async def test_a_lost_publish_is_back_filled(
    sse_api: SseApi, settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    async with _client(sse_api) as client:
        async with open_stream(client, owned) as frames:
            await frames.until_live()
            assert await writer.record_unpublished(owned.container_id, 3) == [1, 2, 3]
            await writer.record(owned.container_id, 1)  # 4 arrives: 1..3 are a gap
            got = await frames.events(4)
            await writer.record_unpublished(owned.container_id, 2)  # 5, 6
            await writer.record(owned.container_id, 0, final=EventType.COMPLETE)  # 7
            got += await frames.rest()
    assert [e["id"] for e in got] == [1, 2, 3, 4, 5, 6, 7]


async def test_pubsub_connection_lost_then_back_filled(
    sse_api: SseApi, settings: Settings, writer: Writer, redis: Redis
) -> None:
    owned = await owned_container(settings)
    await writer.record(owned.container_id, 2)
    async with _client(sse_api) as client:
        async with open_stream(client, owned) as frames:
            got = await frames.events(2)
            killed = await redis.execute_command(
                "CLIENT", "KILL", "ID", await _hub_client_id(redis, sse_api.pid)
            )
            assert killed == 1
            await writer.record(owned.container_id, 3)  # published while the hub is down
            got += await frames.events(3)
            await _hub_client_id(redis, sse_api.pid)  # it reconnected
            await writer.record(owned.container_id, 1, final=EventType.COMPLETE)
            got += await frames.rest()
    assert [e["id"] for e in got] == list(range(1, 8))


async def _hub_client_id(redis: Redis, pid: int) -> int:
    name = f"infrahaus-events-{pid}"
    for _ in range(100):
        for client in await redis.client_list():
            if client.get("name") == name:
                return int(client["id"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no Redis client named {name}")


async def test_idle_stream_is_pinged(sse_api: SseApi, settings: Settings) -> None:
    owned = await owned_container(settings)
    async with _client(sse_api) as client:
        async with open_stream(client, owned) as frames:
            await frames.until_live()
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(PING_SECONDS * 4.5):
                    await frames.next_event()
            assert frames.comments.count(": ping") >= 3, frames.comments
            assert time.monotonic() - started >= PING_SECONDS * 3


async def test_redis_resources_released_when_the_client_goes_away(
    sse_api: SseApi, settings: Settings, redis: Redis
) -> None:
    owned = await owned_container(settings)
    channel = events.channel(owned.container_id)
    async with _client(sse_api) as client:
        async with open_stream(client, owned) as frames:
            await frames.until_live()
            async with open_stream(client, owned) as second:
                await second.until_live()
                assert (await redis.pubsub_numsub(channel))[0][1] == 1  # one SUBSCRIBE for two
    for _ in range(50):
        if (await redis.pubsub_numsub(channel))[0][1] == 0:
            break
        await asyncio.sleep(0.1)
    assert (await redis.pubsub_numsub(channel))[0][1] == 0


async def test_redis_connections_do_not_grow_with_subscribers(
    sse_api: SseApi, settings: Settings, writer: Writer
) -> None:
    owners = [await owned_container(settings) for _ in range(50)]
    async with _client(sse_api) as client:
        async with open_stream(client, owners[0]) as frames:
            await frames.until_live()
            one = redis_connections(sse_api.pid, settings.redis_url or "")
        async with _client(sse_api) as many:  # 50 streams opened at once, 50 channels
            streams = [open_stream(many, owned) for owned in owners]
            opened = await asyncio.gather(*(s.__aenter__() for s in streams))
            try:
                await asyncio.gather(*(f.until_live() for f in opened))
                fifty = redis_connections(sse_api.pid, settings.redis_url or "")
                for owned in owners[:5]:
                    await writer.record(owned.container_id, 0, final=EventType.COMPLETE)
                for frames in opened[:5]:
                    assert [e["id"] for e in await frames.rest()] == [1]
            finally:
                await asyncio.gather(*(s.__aexit__(None, None, None) for s in streams))
    # a fixed number: the command pool's cap plus the one pub/sub connection of the hub and
    # the one of the read cache's invalidation subscriber (shared.adapters.readcache)
    assert 1 <= one <= fifty <= settings.api_redis_connections + 2 < 50, (one, fifty)


# -- the hub on its own, against the real Redis ---------------------------------------------


async def test_a_slow_subscriber_falls_back_without_blocking_others(
    settings: Settings, writer: Writer
) -> None:
    owned = await owned_container(settings)
    hub = EventHub(settings.redis_url or "", queue_size=4)
    await hub.start()
    try:
        slow = hub.subscribe(owned.container_id)
        fast = hub.subscribe(owned.container_id)
        assert await slow.wait_confirmed(5) and await fast.wait_confirmed(5)
        received: list[int] = []

        async def consume() -> None:
            while len(received) < 12:
                for item in await fast.wait():
                    assert isinstance(item, Frame), item
                    received.append(item.seq)

        consumer = asyncio.create_task(consume())
        for _ in range(12):
            await writer.record(owned.container_id, 1)
        async with asyncio.timeout(5):
            await consumer
        assert received == list(range(1, 13))
        backlog = slow.drain()
        assert RESYNC in backlog and len(backlog) <= 4
        assert hub.stats().overflows >= 1 and hub.connections == 1
        slow.close()
        fast.close()
        assert hub.stats().subscribers == 0
    finally:
        await hub.stop()


async def test_a_channel_left_and_joined_again_at_once_stays_subscribed(
    settings: Settings, writer: Writer, redis: Redis
) -> None:
    owned = await owned_container(settings)
    hub = EventHub(settings.redis_url or "")
    await hub.start()
    try:
        first = hub.subscribe(owned.container_id)
        assert await first.wait_confirmed(5)
        first.close()  # UNSUBSCRIBE sent ...
        second = hub.subscribe(owned.container_id)  # ... and SUBSCRIBE again before its reply
        assert await second.wait_confirmed(5)
        await writer.record(owned.container_id, 2)
        async with asyncio.timeout(5):
            items = await second.wait()
            while len(items) < 2:
                items += await second.wait()
        assert [item.seq for item in items if isinstance(item, Frame)] == [1, 2]
        assert (await redis.pubsub_numsub(events.channel(owned.container_id)))[0][1] == 1
        second.close()
        assert hub.stats().channels <= 1 and hub.stats().subscribers == 0
    finally:
        await hub.stop()


async def test_a_redis_restart_mid_stream_loses_nothing(
    settings: Settings, scratch_dir: Path, tmp_path: Path
) -> None:
    """Redis stops while a stream is open: events written meanwhile arrive by polling the
    table; once Redis is back, the hub reconnects and the stream goes on live, to the end."""
    server = EmbeddedRedis(scratch_dir / "redis", persist=False)
    url = server.start()
    port = free_port()
    own = msgspec.structs.replace(
        settings, redis_url=url, api_port=port, sse_ping_seconds=PING_SECONDS
    )
    process = start_process("services.api", settings_environment(own), tmp_path / "api.log")
    writer = Writer(own)
    try:
        api = SseApi(url=f"http://127.0.0.1:{port}", pid=process.pid)
        async with asyncio.timeout(30):
            while True:
                try:
                    async with _client(api) as probe:
                        if (await probe.get("/health")).status_code == 200:
                            break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        owned = await owned_container(own)
        async with _client(api) as client, open_stream(client, owned) as frames:
            await writer.record(owned.container_id, 2)
            got = await frames.events(2)
            server.stop()
            await writer.record(owned.container_id, 3)  # committed; the publish fails
            got += await frames.events(3)  # polled from the table
            server.start()
            redis = Redis.from_url(url)
            try:
                await _hub_client_id(redis, process.pid)  # the hub is back
            finally:
                await redis.aclose()
            await writer.aclose()
            writer = Writer(own)
            await writer.record(owned.container_id, 1, final=EventType.COMPLETE)
            got += await frames.rest()
        assert [e["id"] for e in got] == list(range(1, 8))
    finally:
        await writer.aclose()
        stop_process(process)
        server.stop()
