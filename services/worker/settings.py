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

from services.worker.context import WorkerContext
from services.worker.jobs import cron_jobs, job_functions
from shared import heartbeat
from shared.logging import get_logger
from shared.queue import deserialize, redis_settings, serialize
from shared.settings import Settings

log = get_logger(__name__)


def worker_settings(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `arq.worker.Worker` (what arq calls `WorkerSettings`)."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def on_startup(ctx: dict[str, Any]) -> None:
        # arq's own pool stays in ctx["redis"] (it enqueues); ours is the typed context
        app = ctx["app"] = WorkerContext.build(settings, worker_id)
        ctx["heartbeat"] = asyncio.create_task(_beat_forever(app.redis, settings, worker_id))
        log.info("worker started", worker_id=worker_id, queue=settings.queue_name)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        task: asyncio.Task[None] | None = ctx.get("heartbeat")
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app: WorkerContext | None = ctx.get("app")
        if app is not None:
            with contextlib.suppress(Exception):  # Redis may be the reason we stop
                await heartbeat.leave(app.redis, settings.queue_name, worker_id)
            await app.aclose()
        log.info("worker stopped", worker_id=worker_id)

    async def on_job_start(ctx: dict[str, Any]) -> None:
        structlog.contextvars.bind_contextvars(job_id=ctx["job_id"], job_try=ctx["job_try"])

    async def after_job_end(ctx: dict[str, Any]) -> None:
        structlog.contextvars.clear_contextvars()

    return {
        "functions": job_functions(),
        "cron_jobs": cron_jobs(settings),
        "redis_settings": redis_settings(settings),
        "queue_name": settings.queue_name,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "on_job_start": on_job_start,
        "after_job_end": after_job_end,
        "max_jobs": 10,
        "job_timeout": 3600,  # the create job sets its own (builds can be long)
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
