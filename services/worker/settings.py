"""arq worker configuration built from `Settings`, plus the heartbeat `/ready` looks for."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from arq.connections import create_pool
from arq.worker import Worker

from services.worker.context import WorkerContext
from services.worker.jobs import cron_jobs, job_functions
from shared.adapters import heartbeat, queue
from shared.adapters.queue import deserialize, redis_settings, serialize
from shared.core import metrics
from shared.core.logging import get_logger
from shared.core.outages import REDIS_OUTAGE, OutageLog
from shared.core.settings import Settings

log = get_logger(__name__)


def worker_settings(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `arq.worker.Worker` (what arq calls `WorkerSettings`)."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    metrics.configure(settings)

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
    """Beat until cancelled; a Redis outage is logged once (and its end), never fatal."""
    outage = OutageLog("redis (heartbeat)")
    while True:
        try:
            await heartbeat.beat(
                redis, settings.queue_name, worker_id, settings.worker_heartbeat_ttl
            )
        except Exception as exc:
            outage.failed(exc)
        else:
            outage.recovered()
        await asyncio.sleep(settings.worker_heartbeat_seconds)


#: the longest wait between two polls while Redis is down
POLL_BACKOFF_MAX = 10.0


class ResilientWorker(Worker):
    """arq's worker, except that a Redis outage does not end it.

    arq's poll loop lets a `ConnectionError` escape, and the process exits. Here a failed poll
    waits (0.5 s, doubling up to `POLL_BACKOFF_MAX`), logs one line per outage and polls again;
    jobs already running go on. `start_jobs` gives back the slot it took when Redis fails
    between taking it and starting the job (arq would leak it: ten outages, no more jobs).
    """

    def __init__(self, *args: Any, claim_seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if claim_seconds is not None:
            # arq claims a job for its longest timeout (4 h for a build) before the job's own
            # lease (`jobs.leased`) takes over: a worker killed in between would block the job
            # for hours. Claimed for one lease instead; the running job renews it.
            self.in_progress_timeout_s = claim_seconds
        self.redis_outage = OutageLog("redis")
        self._poll_backoff = 0.5

    async def main(self) -> None:
        """A worker started while Redis is down waits for it (arq gives up after 5 tries)."""
        if self.redis_settings is None:  # always given by worker_settings
            raise RuntimeError("the worker has no Redis settings")
        while self._pool is None:
            try:
                self._pool = await create_pool(
                    # our loop retries, logging once; arq's would log every try and give up
                    dataclasses.replace(self.redis_settings, conn_retries=0),
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_OUTAGE as exc:
                self.redis_outage.failed(exc)
                await asyncio.sleep(self._poll_backoff)
                self._poll_backoff = min(self._poll_backoff * 2, POLL_BACKOFF_MAX)
        self.redis_outage.recovered()
        self._poll_backoff = 0.5
        await super().main()

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_OUTAGE as exc:
            self.redis_outage.failed(exc)
            await asyncio.sleep(self._poll_backoff)
            self._poll_backoff = min(self._poll_backoff * 2, POLL_BACKOFF_MAX)
            return
        if self.redis_outage.down:
            self.redis_outage.recovered()
            self._poll_backoff = 0.5

    async def start_jobs(self, job_ids: Sequence[bytes]) -> None:
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except REDIS_OUTAGE:
                # arq took a slot (semaphore and counter) before the pipeline failed
                self.job_counter -= 1
                self.sem.release()
                raise

    async def close(self) -> None:
        """arq's close, minus its Redis call that fails (and skips `on_shutdown`) in an
        outage: a worker stopped while Redis is down still stops cleanly."""
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_OUTAGE):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        with contextlib.suppress(*REDIS_OUTAGE):
            await self.pool.aclose(close_connection_pool=True)
        self._pool = None


def create_worker(settings: Settings) -> Worker:
    """A worker bound to the current event loop; SIGINT/SIGTERM stop it cleanly, and Redis
    outages only pause it."""
    return ResilientWorker(
        **worker_settings(settings),
        claim_seconds=queue.claim_seconds(settings.build_lease_seconds),
    )
