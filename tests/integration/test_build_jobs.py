"""The job plumbing of builds: lost enqueues are reconciled, per-node build slots hold across
holders, leases expire, and job ids refuse duplicates only while a job exists."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import msgspec
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from services.pvesim.process import RunningSimulator
from services.worker.context import WorkerContext
from services.worker.jobs import reconcile
from shared.adapters import queue
from shared.adapters.locks import BuildSlots
from shared.core.settings import Settings
from shared.db import Container, create_engine
from tests.integration.helpers import Session
from tests.integration.test_pipeline import register, stored_events, wait_until_done


async def test_build_slots_hold_the_limit_across_holders(redis: Redis) -> None:
    node = uuid.uuid4()
    slots = BuildSlots(redis, limit=2, ttl_seconds=30)
    running = peak = 0

    async def build(name: str) -> None:
        nonlocal running, peak
        async with slots.hold(node, name, poll_seconds=0.05):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.2)
            running -= 1

    await asyncio.gather(*(build(f"b{i}") for i in range(6)))
    assert peak == 2
    assert await redis.zcard(BuildSlots.key(node)) == 0


async def test_a_crashed_holders_slot_frees_itself_and_a_resumed_build_keeps_its_own(
    redis: Redis,
) -> None:
    node = uuid.uuid4()
    slots = BuildSlots(redis, limit=1, ttl_seconds=0.5)
    assert await slots.try_acquire(node, "crashed")
    assert not await slots.try_acquire(node, "other")
    assert await slots.try_acquire(node, "crashed")  # the same build, resumed: still its slot
    await asyncio.sleep(0.6)
    assert await slots.try_acquire(node, "other")


@pytest.mark.usefixtures("running_worker")
async def test_a_build_whose_enqueue_was_lost_is_reconciled(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    created = await alice.call(
        "POST", "/api/containers",
        json={"hostname": "lost-01", "nodeId": node_id, "osTemplate": "debian-12-standard",
              "vmid": 7950},
    )  # fmt: skip
    assert created.status_code == 202, created.text
    container_id = uuid.UUID(created.json()["id"])
    await wait_until_done(alice, str(container_id))
    # Back to `creating` with no job, as if the API's enqueue had been lost after its commit.
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(
            update(Container)
            .where(Container.id == container_id)
            .values(lifecycle="creating", last_completed_phase="starting",
                    updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        )  # fmt: skip
    await engine.dispose()
    app = WorkerContext.build(settings, "test-reconciler")
    arq_redis = queue.create_queue(settings)
    try:
        assert await reconcile({"app": app, "redis": arq_redis}) == 1
        # while its job is queued or running, the row is left alone
        assert await reconcile({"app": app, "redis": arq_redis}) == 0
    finally:
        await arq_redis.aclose(close_connection_pool=True)
        await app.aclose()
    detail = await wait_until_done(alice, str(container_id))
    assert detail["lifecycle"] == "ready"
    messages = [e.message for e in await stored_events(settings, str(container_id))]
    # resumed after `starting`: the container was not created or started again
    assert messages.count(f"Creating container {detail['vmid']} on pve") == 1
    assert messages.count(f"Container is up at {detail['ipAddress']}") == 1


async def test_a_job_id_is_refused_only_while_its_job_exists(settings: Settings) -> None:
    # a queue no worker consumes, so the job stays queued
    idle = msgspec.structs.replace(settings, queue_name=f"idle-{uuid.uuid4().hex[:6]}")
    arq_redis = queue.create_queue(idle)
    container_id = uuid.uuid4()
    try:
        assert await queue.enqueue_create(arq_redis, container_id)
        assert not await queue.enqueue_create(arq_redis, container_id)
        assert await queue.job_alive(arq_redis, queue.create_job_id(container_id))
        await arq_redis.delete(f"arq:job:{queue.create_job_id(container_id)}")
        assert not await queue.job_alive(arq_redis, queue.create_job_id(container_id))
        assert await queue.enqueue_create(arq_redis, container_id)
    finally:
        await arq_redis.delete(f"arq:job:{queue.create_job_id(container_id)}")
        await arq_redis.aclose(close_connection_pool=True)
