"""The job queue contract shared by the API (enqueue) and the worker (consume).

Jobs are serialized with msgspec MessagePack: compact, fast, and unlike arq's default pickle it
cannot execute code when a payload is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix, job_key_prefix
from redis.asyncio import ConnectionPool, Redis

from shared.core.logging import get_logger
from shared.core.settings import Settings

log = get_logger(__name__)

# Job names: the worker registers its functions under these, the API enqueues them.
CREATE_JOB = "create_container"
DELETE_JOB = "delete_container"


class ContainerJob(msgspec.Struct, frozen=True, kw_only=True):
    """The payload of a create or delete job: an id (never an object or a secret), and the
    id of the request that asked for it, so the job's logs can be joined to the request's."""

    container_id: uuid.UUID
    request_id: str | None = None


def create_job_id(container_id: uuid.UUID) -> str:
    """One id per container: a second enqueue while a build is queued or running is a no-op."""
    return f"create:{container_id}"


def delete_job_id(container_id: uuid.UUID) -> str:
    return f"delete:{container_id}"


async def _enqueue(
    queue: ArqRedis, name: str, job_id: str, job: ContainerJob, wait_seconds: float = 0.0
) -> bool:
    """True when queued; False when a job with this id is still queued or running after
    `wait_seconds` (a failed build's job may take a moment to end after its failure)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        queued = await queue.enqueue_job(name, msgspec.to_builtins(job), _job_id=job_id)
        if queued is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)


async def enqueue_create(
    queue: ArqRedis,
    container_id: uuid.UUID,
    request_id: str | None = None,
    *,
    wait_seconds: float = 0.0,
) -> bool:
    job = ContainerJob(container_id=container_id, request_id=request_id)
    return await _enqueue(queue, CREATE_JOB, create_job_id(container_id), job, wait_seconds)


async def enqueue_delete(
    queue: ArqRedis, container_id: uuid.UUID, request_id: str | None = None
) -> bool:
    job = ContainerJob(container_id=container_id, request_id=request_id)
    return await _enqueue(queue, DELETE_JOB, delete_job_id(container_id), job)


def job_of(payload: Any) -> ContainerJob:
    return msgspec.convert(payload, ContainerJob)


async def job_alive(redis: Redis, job_id: str) -> bool:
    """Queued (or waiting to be retried) or running: arq's job key or in-progress key exists."""
    return bool(await redis.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id))


def claim_seconds(renew_seconds: float) -> float:
    """How long a job's claim lives: three renewals, so one late renewal never loses it."""
    return renew_seconds * 3


@contextlib.asynccontextmanager
async def job_lease(redis: Redis, job_id: str, renew_seconds: float) -> AsyncIterator[None]:
    """Hold a running job's claim for only `3 x renew_seconds` at a time, renewed while it runs.

    arq marks a running job with an in-progress key that lives as long as the longest job
    timeout: a worker killed mid-build would block its job for that long (an hour). Shrinking
    the key and renewing it means another worker picks the job up within seconds of a crash.
    """
    key = in_progress_key_prefix + job_id
    lifetime_ms = int(claim_seconds(renew_seconds) * 1000)

    async def renew() -> None:
        while True:
            try:
                await redis.pexpire(key, lifetime_ms)
            except Exception as exc:  # Redis away: arq's own key outlives a short outage
                log.warning("job lease renewal failed", job_id=job_id, error=str(exc))
            await asyncio.sleep(renew_seconds)

    renewing = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)


def serialize(value: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(value)


def deserialize(payload: bytes) -> dict[str, Any]:
    job_or_result: dict[str, Any] = msgspec.msgpack.decode(payload)  # arq stores only dicts
    return job_or_result


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.required("REDIS_URL"))


def create_queue(settings: Settings) -> ArqRedis:
    """A client for enqueueing jobs; it connects on first use, so the API starts while Redis is
    down (close it with `aclose(close_connection_pool=True)`)."""
    return ArqRedis(
        ConnectionPool.from_url(
            settings.required("REDIS_URL"), socket_connect_timeout=2, socket_timeout=5
        ),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=settings.queue_name,
    )
