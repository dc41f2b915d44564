"""Liveness and readiness probes for operators and load balancers."""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from litestar import get
from litestar.datastructures import State
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.problems import (
    DependencyCheck,
    DependencyProblem,
    ProblemException,
    problem_responses,
)
from shared.adapters import heartbeat
from shared.core.logging import get_logger, redact_text
from shared.core.settings import Settings

log = get_logger(__name__)


class Health(msgspec.Struct):
    status: Literal["ok"]


class Readiness(msgspec.Struct):
    status: Literal["ready"]
    checks: list[DependencyCheck]


@get(
    "/health",
    operation_id="GetHealth",
    tags=["System"],
    summary="Process is alive",
    exclude_from_auth=True,
)
async def health() -> Health:
    """Answers as long as the process serves requests; checks no dependency."""
    return Health(status="ok")


@get(
    "/ready",
    operation_id="GetReadiness",
    tags=["System"],
    summary="Dependencies are usable",
    exclude_from_auth=True,
    responses=problem_responses(503, s503=DependencyProblem),
)
async def ready(state: State) -> Readiness:
    """200 when PostgreSQL, Redis and at least one worker are fine; 503 naming each failure."""
    settings: Settings = state.settings
    checks = await asyncio.gather(
        _check_postgres(state.db_engine, settings.ready_timeout_seconds),
        _check_redis_and_workers(state.redis, settings),
    )
    flat = [checks[0], *checks[1]]
    failing = [c for c in flat if not c.ok]
    if not failing:
        return Readiness(status="ready", checks=flat)
    log.warning("not ready", failing={c.name: c.detail for c in failing})
    raise ProblemException(
        DependencyProblem(
            title="Service Unavailable",
            status=503,
            detail="Unavailable: " + ", ".join(c.name for c in failing),
            checks=flat,
        )
    )


def _describe(exc: BaseException) -> str:
    text_ = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return redact_text(text_)[:300]


async def _check_postgres(engine: AsyncEngine, limit_seconds: float) -> DependencyCheck:
    try:
        async with asyncio.timeout(limit_seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready", never a 500
        return DependencyCheck(name="postgres", ok=False, detail=_describe(exc))
    return DependencyCheck(name="postgres", ok=True, detail="ok")


async def _check_redis_and_workers(redis: Redis, settings: Settings) -> list[DependencyCheck]:
    """One round trip answers both: is Redis up, and how many workers beat recently."""

    try:
        async with (
            asyncio.timeout(settings.ready_timeout_seconds),
            redis.pipeline(transaction=False) as pipe,
        ):
            pipe.ping()
            heartbeat.add_live_worker_count(
                pipe, settings.queue_name, settings.worker_heartbeat_ttl
            )
            _, alive = await pipe.execute()
    except Exception as exc:
        return [
            DependencyCheck(name="redis", ok=False, detail=_describe(exc)),
            DependencyCheck(name="worker", ok=False, detail="unknown: Redis is unavailable"),
        ]
    worker = (
        DependencyCheck(name="worker", ok=True, detail=f"{alive} alive")
        if alive
        else DependencyCheck(name="worker", ok=False, detail="no worker heartbeat")
    )
    return [DependencyCheck(name="redis", ok=True, detail="ok"), worker]
