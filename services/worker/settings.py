"""arq worker configuration built from `Settings`, plus the heartbeat `/ready` looks for."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import Any

import structlog
from arq.worker import Worker

from services.worker.jobs import JOB_FUNCTIONS
from shared import heartbeat
from shared.crypto import SecretBox
from shared.db import create_engine, create_session_factory
from shared.logging import get_logger
from shared.proxmox.pool import ProxmoxClientPool
from shared.queue import deserialize, redis_settings, serialize
from shared.redis import create_redis
from shared.settings import Settings

log = get_logger(__name__)


def worker_settings(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `arq.worker.Worker` (what arq calls `WorkerSettings`)."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        ctx["worker_id"] = worker_id
        ctx["redis"] = create_redis(settings)
        ctx["db_engine"] = create_engine(settings)
        ctx["db_sessions"] = create_session_factory(ctx["db_engine"])
        ctx["secret_box"] = SecretBox.from_spec(settings.secret_keys or "")
        ctx["proxmox_clients"] = ProxmoxClientPool()
        ctx["heartbeat"] = asyncio.create_task(_beat_forever(ctx["redis"], settings, worker_id))
        log.info("worker started", worker_id=worker_id, queue=settings.queue_name)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        task: asyncio.Task[None] | None = ctx.get("heartbeat")
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        redis = ctx.get("redis")
        if redis is not None:
            with contextlib.suppress(Exception):  # Redis may be the reason we stop
                await heartbeat.leave(redis, settings.queue_name, worker_id)
            await redis.aclose()
        if "proxmox_clients" in ctx:
            await ctx["proxmox_clients"].aclose()
        if "db_engine" in ctx:
            await ctx["db_engine"].dispose()
        log.info("worker stopped", worker_id=worker_id)

    async def on_job_start(ctx: dict[str, Any]) -> None:
        structlog.contextvars.bind_contextvars(job_id=ctx["job_id"], job_try=ctx["job_try"])

    async def after_job_end(ctx: dict[str, Any]) -> None:
        structlog.contextvars.clear_contextvars()

    return {
        "functions": JOB_FUNCTIONS,
        "redis_settings": redis_settings(settings),
        "queue_name": settings.queue_name,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "on_job_start": on_job_start,
        "after_job_end": after_job_end,
        "max_jobs": 10,
        "job_timeout": 3600,
        "keep_result": 3600,
        "health_check_interval": 60,
    }


async def _beat_forever(redis: Any, settings: Settings, worker_id: str) -> None:
    """Beat until cancelled; a Redis outage is logged once per failure, never fatal."""
    while True:
        try:
            await heartbeat.beat(
                redis, settings.queue_name, worker_id, settings.worker_heartbeat_ttl
            )
        except Exception as exc:
            log.warning("heartbeat failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(settings.worker_heartbeat_seconds)


def create_worker(settings: Settings) -> Worker:
    """A worker bound to the current event loop; SIGINT/SIGTERM stop it cleanly."""
    return Worker(**worker_settings(settings))
