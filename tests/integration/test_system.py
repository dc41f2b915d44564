"""/health and /ready against real PostgreSQL and Redis, and the error format around them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.api.app import create_app
from shared.adapters import heartbeat
from shared.core.settings import Settings
from shared.dev.embedded import EmbeddedRedis, free_port

PROBLEM = "application/problem+json"


async def test_health_answers_with_a_request_id(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


async def test_safe_request_id_is_echoed_and_hostile_one_replaced(
    client: AsyncTestClient[Litestar],
) -> None:
    kept = await client.get("/health", headers={"X-Request-ID": "lb-1234.abc_DEF"})
    assert kept.headers["x-request-id"] == "lb-1234.abc_DEF"
    replaced = await client.get("/health", headers={"X-Request-ID": 'evil"}{injected: 1'})
    assert replaced.headers["x-request-id"] != 'evil"}{injected: 1'
    assert len(replaced.headers["x-request-id"]) == 32


@pytest.fixture
async def lonely(
    settings: Settings,
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], Settings]]:
    """An app on a queue of its own: the run's shared worker (`running_worker`, started by
    whichever test needs it first) beats on the run's queue and would answer for it."""
    own = msgspec.structs.replace(settings, queue_name=f"lonely-{uuid.uuid4().hex[:8]}")
    async with AsyncTestClient(create_app(own), base_url="https://testserver.local") as client:
        yield client, own


async def test_ready_without_a_worker_is_503_naming_the_worker(
    lonely: tuple[AsyncTestClient[Litestar], Settings],
) -> None:
    client, _ = lonely
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 503
    assert body["detail"] == "Unavailable: worker"
    checks = {check["name"]: check for check in body["checks"]}
    assert checks["postgres"]["ok"] and checks["redis"]["ok"]
    assert checks["worker"] == {"name": "worker", "ok": False, "detail": "no worker heartbeat"}


async def test_ready_with_a_live_worker_is_200(
    lonely: tuple[AsyncTestClient[Litestar], Settings], redis: Redis
) -> None:
    client, settings = lonely
    await heartbeat.beat(redis, settings.queue_name, "test-worker", settings.worker_heartbeat_ttl)
    try:
        response = await client.get("/ready")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"
    finally:
        await heartbeat.leave(redis, settings.queue_name, "test-worker")


async def test_stale_heartbeat_does_not_count(
    lonely: tuple[AsyncTestClient[Litestar], Settings], redis: Redis
) -> None:
    client, settings = lonely
    key = heartbeat.workers_key(settings.queue_name)
    await redis.zadd(key, {"long-dead-worker": 1.0})
    response = await client.get("/ready")
    assert response.status_code == 503
    await redis.zrem(key, "long-dead-worker")


async def test_ready_names_postgres_when_it_is_unreachable(settings: Settings) -> None:
    broken = msgspec.structs.replace(
        settings, database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    )
    async with AsyncTestClient(create_app(broken)) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert not checks["postgres"]["ok"]
    assert checks["redis"]["ok"]


async def test_ready_follows_redis_down_and_back(settings: Settings, tmp_path) -> None:
    """Redis stopped while the API runs: 503 naming Redis; back up: 200 with no restart."""
    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    url = server.start()
    app = create_app(msgspec.structs.replace(settings, redis_url=url))
    worker_id = f"w-{uuid.uuid4().hex[:6]}"

    async def beat() -> None:
        direct = Redis.from_url(url)
        await heartbeat.beat(direct, settings.queue_name, worker_id, 60)
        await direct.aclose()

    try:
        async with AsyncTestClient(app) as client:
            await beat()
            assert (await client.get("/ready")).status_code == 200

            server.stop()
            down = await client.get("/ready")
            assert down.status_code == 503
            assert "redis" in down.json()["detail"]
            checks = {check["name"]: check for check in down.json()["checks"]}
            assert not checks["redis"]["ok"] and checks["postgres"]["ok"]

            server.start()  # same port; a real worker would beat again on its own
            await beat()
            assert (await client.get("/ready")).status_code == 200
    finally:
        server.stop()


async def test_unknown_route_is_a_problem_document(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no-such-route")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "Not Found"
    assert response.json()["requestId"] == response.headers["x-request-id"]


async def test_wrong_method_is_405_with_allow(client: AsyncTestClient[Litestar]) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    assert response.headers["content-type"] == PROBLEM


async def test_a_bug_is_a_500_problem_without_the_stack_trace(settings: Settings, capsys) -> None:
    @get("/explode", operation_id="Explode", exclude_from_auth=True)
    async def explode() -> None:
        raise RuntimeError("secret internals /etc/shadow")

    app = create_app(settings)
    app.register(explode)
    async with AsyncTestClient(app) as client:
        response = await client.get("/explode")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["requestId"] == response.headers["x-request-id"]
    # ...while the log keeps the trace for the operator, tagged with the same request id.
    logged = capsys.readouterr().err
    assert "secret internals" in logged and response.headers["x-request-id"] in logged


async def test_redis_down_is_503_not_500_on_api_routes(settings: Settings) -> None:
    broken = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with AsyncTestClient(create_app(broken)) as client:
        response = await client.get("/api/nodes", headers={"Authorization": "Bearer x" * 3})
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"


async def test_database_down_is_503_not_500_on_api_routes(settings: Settings, redis: Redis) -> None:
    from shared.domain.sessions import SessionStore

    session = await SessionStore(redis, 60).create(
        user_id=str(uuid.uuid4()), userid="x@pve", host="h", port=8006
    )
    broken = msgspec.structs.replace(
        settings, database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    )
    async with AsyncTestClient(create_app(broken)) as client:
        response = await client.get(
            "/api/nodes", headers={"Authorization": f"Bearer {session.bearer_token}"}
        )
    assert response.status_code == 503, response.text
