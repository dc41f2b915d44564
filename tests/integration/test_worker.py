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


async def test_a_claimed_job_is_held_for_one_lease_not_for_the_longest_timeout(
    settings: Settings,
) -> None:
    """arq claims a job (PSETEX of its in-progress key) for the longest job timeout, 4 h for
    a build, before the job's own lease renews it: a worker SIGKILLed in between blocked the
    build for hours (a CI run caught it). The product's worker claims for 3 leases; a running
    job renews that (`jobs.leased`)."""
    import asyncio
    from urllib.parse import urlsplit

    from services.worker.settings import create_worker

    url = urlsplit(settings.redis_url or "")
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 6379)
    writer.write(b"MONITOR\r\n")
    await reader.readline()
    queue = create_queue(settings)
    job_id = f"ping:{uuid.uuid4().hex}"
    try:
        assert await queue.enqueue_job("ping", "claim", _job_id=job_id) is not None
        worker = create_worker(settings)
        worker.burst, worker.poll_delay_s = True, 0.05
        try:
            await worker.async_run()
        finally:
            await worker.close()
        claims = []
        # what Redis logged until shortly after the run (a total deadline: other clients,
        # such as the run's shared worker polling its queue, keep MONITOR busy)
        deadline = asyncio.get_running_loop().time() + 0.5
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    line = (await reader.readline()).decode()
            except TimeoutError:
                break
            if f"arq:in-progress:{job_id}" not in line:
                continue
            if '"psetex"' in line.lower():
                claims.append(int(line.split('"')[5]))
        lease_ms = settings.build_lease_seconds * 3 * 1000
        assert claims and all(ms <= lease_ms for ms in claims), (claims, lease_ms)
    finally:
        writer.close()
        await queue.aclose(close_connection_pool=True)
