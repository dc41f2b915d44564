"""The arq worker over real Redis: msgpack payloads, job round trip, heartbeat lifecycle."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from arq.worker import Worker
from redis.asyncio import Redis

from services.worker.settings import worker_settings
from shared.adapters import heartbeat
from shared.adapters.queue import create_queue
from shared.core.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A queue of this module's own: the session's real worker process must not steal jobs."""
    return msgspec.structs.replace(settings, queue_name=f"{settings.queue_name}-burst")


async def test_a_job_runs_with_msgpack_payloads_and_the_worker_beats(
    settings: Settings, redis: Redis
) -> None:
    queue = create_queue(settings)
    job_id = f"ping:{uuid.uuid4().hex}"  # arq's job keys are global, not per queue
    job = await queue.enqueue_job("ping", "hello", _job_id=job_id)
    assert job is not None
    # The stored payload is MessagePack, never a pickle.
    raw = await redis.get(f"arq:job:{job_id}")
    assert raw is not None and not raw.startswith(b"\x80")
    assert msgspec.msgpack.decode(raw)["a"] == ["hello"]

    worker = Worker(**worker_settings(settings), burst=True, poll_delay=0.05)
    try:
        await worker.async_run()
        key = heartbeat.workers_key(settings.queue_name)
        members = [m.decode() for m in await redis.zrange(key, 0, -1)]
        assert len(members) == 1  # the worker announced itself...
        result = await job.result(timeout=5)
        assert result["pong"] == "hello"
        assert result["worker"] == members[0]
    finally:
        await worker.close()
        await queue.aclose(close_connection_pool=True)
    # ...and a clean shutdown removes it at once instead of letting it age out.
    assert await redis.zcard(heartbeat.workers_key(settings.queue_name)) == 0


async def test_enqueueing_the_same_job_id_twice_is_refused(settings: Settings) -> None:
    queue = create_queue(settings)
    job_id = f"ping:{uuid.uuid4().hex}"
    try:
        first = await queue.enqueue_job("ping", "x", _job_id=job_id)
        second = await queue.enqueue_job("ping", "x", _job_id=job_id)
        assert first is not None and second is None
    finally:
        await queue.delete(f"arq:job:{job_id}")
        await queue.aclose(close_connection_pool=True)
