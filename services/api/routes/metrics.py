"""`GET /metrics`: Prometheus' text format, for a scraper (no authentication), only when
METRICS_ENABLED is set; 404 otherwise, as if the route did not exist. See shared/core/metrics.py."""

from __future__ import annotations

import asyncio
import time

from litestar import Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from redis.asyncio import Redis

from services.api.problems import problem_responses
from shared.core import metrics
from shared.core.logging import get_logger
from shared.core.settings import Settings

log = get_logger(__name__)


@get(
    "/metrics",
    operation_id="GetMetrics",
    tags=["System"],
    summary="Prometheus metrics",
    exclude_from_auth=True,
    media_type=metrics.CONTENT_TYPE,
    responses={
        200: ResponseSpec(
            str,
            media_type="text/plain",
            description="Prometheus text format (0.0.4): every API and worker process's metrics"
            " when PROMETHEUS_MULTIPROC_DIR is shared, else this process's",
            generate_examples=False,
        ),
        **problem_responses(404),
    },
)
async def scrape(state: State) -> Response[bytes]:
    """Request latency by route template and status, builds by phase and outcome, phase
    durations, queue depth, job retries, live SSE subscribers, Proxmox call latency and errors
    per node, lock contention. 404 unless METRICS_ENABLED is set."""
    settings: Settings = state.settings
    if not settings.metrics_enabled or not metrics.enabled():
        raise NotFoundException()
    queue = await _queue_depth(state.redis, settings)
    return Response(metrics.render(queue), media_type=metrics.CONTENT_TYPE)


async def _queue_depth(redis: Redis, settings: Settings) -> tuple[int, int] | None:
    """Jobs ready to run and jobs deferred (arq scores jobs by when they may run, in ms)."""
    now_ms = int(time.time() * 1000)
    try:
        async with asyncio.timeout(settings.ready_timeout_seconds):
            async with redis.pipeline(transaction=False) as pipe:
                pipe.zcount(settings.queue_name, "-inf", now_ms)
                pipe.zcount(settings.queue_name, f"({now_ms}", "+inf")
                ready, deferred = await pipe.execute()
    except Exception as exc:  # a scrape still answers while Redis is away
        log.warning("metrics: queue depth unavailable", error=str(exc)[:200])
        return None
    return int(ready), int(deferred)
