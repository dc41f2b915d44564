"""Job functions the worker runs. Payloads are `shared.adapters.queue.ContainerJob` (ids, never
objects or secrets); the request id that asked for a job is bound into its logs."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

import structlog
from arq import Retry, func
from arq.cron import cron
from arq.typing import WorkerCoroutine
from sqlalchemy import select

from services.worker.context import context_of
from services.worker.pipeline import run_build
from services.worker.pipeline.build import BuildBusy
from shared.adapters import queue
from shared.adapters.proxmox import ProxmoxError, ProxmoxTimeout, ProxmoxUnavailable
from shared.core import metrics
from shared.core.errors import Conflict, DomainError
from shared.core.lifecycle import Lifecycle
from shared.core.logging import get_logger, request_id_var
from shared.core.outages import OutageLog, is_database_outage, unless_database_down
from shared.core.settings import Settings
from shared.db.models import Container, Node
from shared.domain.retention import Pruned
from shared.domain.retention import prune as prune_retained

log = get_logger(__name__)

# Delete: transient trouble is retried after 5 s, 10 s, 15 s, ... (about 2.5 minutes in all).
RETRY_STEP_SECONDS = 5
MAX_TRIES = 10
# Create: arq counts every pick-up as a try (transient retries and crashed workers alike);
# the pipeline gives up on transient failures earlier than this.
CREATE_MAX_TRIES = 20
# A build's own limit; a crashed worker's build is picked up much sooner (`queue.job_lease`).
CREATE_TIMEOUT_SECONDS = 4 * 3600
# A build whose lock another run holds is looked at again after this long.
BUILD_BUSY_RETRY_SECONDS = 5
# Rows older than this without a job are re-enqueued (younger ones may be mid-enqueue).
RECONCILE_GRACE_SECONDS = 10
# A job that met a PostgreSQL outage runs again after 5 s, 10 s, ... at most this long.
OUTAGE_RETRY_MAX_SECONDS = 60


def _retry_after_outage(ctx: dict[str, Any], exc: BaseException) -> Retry:
    """PostgreSQL went away under a job: run it again later (builds resume from their last
    checkpoint, deletes are idempotent) instead of failing it."""
    defer = min(ctx["job_try"] * RETRY_STEP_SECONDS, OUTAGE_RETRY_MAX_SECONDS)
    log.warning(
        "database unavailable; the job will run again",
        error=f"{type(exc).__name__}: {str(exc)[:200]}",
        retry_in_seconds=defer,
    )
    return Retry(defer=defer)


@contextlib.contextmanager
def _request_context(job: queue.ContainerJob) -> Iterator[None]:
    """The job's logs and audit rows carry the id of the request that asked for it."""
    token = request_id_var.set(job.request_id)
    try:
        with structlog.contextvars.bound_contextvars(
            request_id=job.request_id, container_id=str(job.container_id)
        ):
            yield
    finally:
        request_id_var.reset(token)


def _count_retry(ctx: dict[str, Any], job: str) -> None:
    if ctx["job_try"] > 1:
        metrics.job_retried(job)


def leased(function: Callable[..., Awaitable[Any]]) -> WorkerCoroutine:
    """Every job holds its claim on a short lease, renewed while it runs
    (`queue.job_lease`): a worker killed at any moment, even between arq claiming the job
    and the job's first step, leaves the job to another worker within seconds
    (`ResilientWorker` claims for as long as one lease)."""

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any) -> Any:
        app = context_of(ctx)
        async with queue.job_lease(app.redis, ctx["job_id"], app.settings.build_lease_seconds):
            return await function(ctx, *args)

    return cast(WorkerCoroutine, run)


async def ping(ctx: dict[str, Any], payload: str) -> dict[str, Any]:
    """Round-trip check for operators and tests: proves a worker consumes the queue."""
    return {"pong": payload, "worker": context_of(ctx).worker_id, "try": ctx["job_try"]}


async def create_container(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """Run (or resume) a container's build; see `services.worker.pipeline`."""
    job = queue.job_of(payload)
    app = context_of(ctx)
    _count_retry(ctx, queue.CREATE_JOB)
    with _request_context(job):
        try:
            outcome = await run_build(app, job.container_id, ctx["job_try"])
        except BuildBusy as exc:  # another run of this build still holds it
            log.info("build is running elsewhere; will look again", reason=exc.message)
            raise Retry(defer=BUILD_BUSY_RETRY_SECONDS) from exc
        except Exception as exc:
            if is_database_outage(exc) and ctx["job_try"] < CREATE_MAX_TRIES:
                raise _retry_after_outage(ctx, exc) from exc
            raise
        log.info("build finished", outcome=outcome)
    return outcome


async def delete_container(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """Stop (if running) and destroy a container on Proxmox, then forget it.

    Transient trouble (node unreachable, container busy with an action) is retried with growing
    delays; when the tries run out, or anything unexpected happens, the container is left in
    `error` with an event saying why, never stuck in `deleting`.
    """
    job = queue.job_of(payload)
    target = job.container_id
    app = context_of(ctx)
    _count_retry(ctx, queue.DELETE_JOB)
    with _request_context(job):
        async with app.containers() as service:
            try:
                outcome = await service.delete_now(target)
            except (ProxmoxUnavailable, ProxmoxTimeout, Conflict) as exc:
                if ctx["job_try"] < MAX_TRIES:
                    log.warning("delete must wait; will retry", error=exc.message)
                    raise Retry(defer=ctx["job_try"] * RETRY_STEP_SECONDS) from exc
                await service.mark_delete_failed(
                    target, f"gave up after {MAX_TRIES} tries: {exc.message}"
                )
                return "failed"
            except Exception as exc:
                if is_database_outage(exc) and ctx["job_try"] < MAX_TRIES:
                    raise _retry_after_outage(ctx, exc) from exc
                log.exception("delete failed unexpectedly")
                await service.mark_delete_failed(target, f"unexpected error ({type(exc).__name__})")
                return "failed"
        log.info("delete finished", outcome=outcome)
    return outcome


_reconcile_outage = OutageLog("database")


async def reconcile(ctx: dict[str, Any]) -> int:
    """Re-enqueue builds and deletes whose job was lost (an enqueue that failed after the
    commit, a queue flushed by an operator): a row never stays `creating`/`deleting` forever."""
    app = context_of(ctx)
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=RECONCILE_GRACE_SECONDS)

    async def unfinished() -> list[tuple[uuid.UUID, str]]:
        async with app.db_sessions() as session:
            found = await session.execute(
                select(Container.id, Container.lifecycle).where(
                    Container.lifecycle.in_([Lifecycle.CREATING, Lifecycle.DELETING]),
                    Container.updated_at < cutoff,
                )
            )
            return [(row.id, row.lifecycle) for row in found]

    rows = await unless_database_down(_reconcile_outage, unfinished)
    if rows is None:
        return 0
    revived = 0
    for container_id, lifecycle in rows:
        creating = lifecycle == Lifecycle.CREATING
        job_id = (
            queue.create_job_id(container_id) if creating else queue.delete_job_id(container_id)
        )
        if await queue.job_alive(app.redis, job_id):
            continue
        enqueue = queue.enqueue_create if creating else queue.enqueue_delete
        if await enqueue(ctx["redis"], container_id):
            revived += 1
            log.warning(
                "re-enqueued a job that was lost", container_id=str(container_id), job_id=job_id
            )
    return revived


def job_functions() -> list[Any]:
    return [
        func(leased(ping), name="ping"),
        # keep_result=0: a finished job leaves nothing behind that would refuse the next
        # enqueue of the same id (a retry, a reconciled row).
        func(
            leased(create_container),
            name=queue.CREATE_JOB,
            max_tries=CREATE_MAX_TRIES,
            timeout=CREATE_TIMEOUT_SECONDS,
            keep_result=0,
        ),
        func(leased(delete_container), name=queue.DELETE_JOB, max_tries=MAX_TRIES, keep_result=0),
    ]


_retention_outage = OutageLog("database (retention)")


async def retention(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete container events and audit rows past their retention (shared/domain/retention.py)."""
    app = context_of(ctx)

    async def prune() -> Pruned:
        async with app.db_sessions() as session:
            return await prune_retained(session, app.settings, dt.datetime.now(dt.UTC))

    pruned = await unless_database_down(_retention_outage, prune)
    if pruned is None:
        return {"events": 0, "auditRows": 0}
    if pruned.events or pruned.audit_rows:
        log.info("retention pruned", events=pruned.events, audit_rows=pruned.audit_rows)
    return {"events": pruned.events, "auditRows": pruned.audit_rows}


_node_sweep_outage = OutageLog("database (node reconciliation)")


async def reconcile_nodes(ctx: dict[str, Any]) -> dict[str, int]:
    """Reconcile every node with its guests (shared/domain/containers/reality.py), one at a time;
    a node that does not answer is skipped (logged) until the next run."""
    app = context_of(ctx)
    totals = {"nodes": 0, "missing": 0, "restored": 0, "migrated": 0, "failed": 0}

    async def registered() -> list[Node]:
        async with app.db_sessions() as session:
            return list(await session.scalars(select(Node).order_by(Node.created_at)))

    nodes = await unless_database_down(_node_sweep_outage, registered)
    if nodes is None:
        return totals
    for node in nodes:
        try:
            async with app.containers() as service:
                report = await service.reconcile_node(
                    node, budget_seconds=app.settings.pve_read_timeout_seconds
                )
        except Exception as exc:
            if is_database_outage(exc):
                _node_sweep_outage.failed(exc)
                return totals
            totals["failed"] += 1
            message = exc.message if isinstance(exc, DomainError | ProxmoxError) else repr(exc)
            log.warning("node reconciliation failed", node_id=str(node.id), error=message[:300])
            continue
        totals["nodes"] += 1
        totals["missing"] += len(report.missing)
        totals["restored"] += len(report.restored)
        totals["migrated"] += len(report.migrated)
    return totals


def _every(period: int) -> dict[str, Any]:
    """arq cron fields for "every `period` seconds" (minute steps from a minute on)."""
    if period < 60:
        return {"second": set(range(0, 60, period))}
    if period < 3600:
        return {"second": {0}, "minute": set(range(0, 60, max(1, period // 60)))}
    return {"second": {0}, "minute": {0}, "hour": set(range(0, 24, max(1, period // 3600)))}


#: the retention cron runs once an hour at this minute (arq runs each cron run on one worker)
RETENTION_MINUTE = 17


def cron_jobs(settings: Settings) -> list[Any]:
    jobs: list[Any] = []
    if settings.events_retention_days or settings.audit_retention_days:
        jobs.append(
            cron(
                leased(retention),
                name="retention",
                minute={RETENTION_MINUTE},
                second={0},
                timeout=600,
            )
        )
    if settings.node_reconcile_seconds:
        jobs.append(
            cron(
                leased(reconcile_nodes), name="reconcile_nodes", timeout=1800,
                **_every(settings.node_reconcile_seconds),
            )
        )  # fmt: skip
    if settings.reconcile_seconds:
        jobs.append(
            cron(
                leased(reconcile),
                name="reconcile",
                run_at_startup=True,
                **_every(settings.reconcile_seconds),
            )
        )
    return jobs
