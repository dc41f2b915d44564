"""The creation pipeline: five idempotent, checkpointed phases (ARCHITECTURE §7).

`run_build` resumes after the container's last completed phase, so a crashed worker's job, a
transient failure's retry and the `retry` route all continue where the build stopped.
Transient trouble (node unreachable, 5xx, lock timeout, SSH drop) is retried with backoff by
arq; anything else ends the build: lifecycle `error`, an `error` event naming the phase and the
cause, and the Proxmox container destroyed only when the request asked for `cleanupOnFailure`.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from arq import Retry
from sqlalchemy import select, update

from services.worker.context import WorkerContext
from services.worker.pipeline import creating, deploying, finalizing, starting, syncing
from services.worker.pipeline.build import (
    Build,
    BuildBusy,
    BuildCancelled,
    BuildFailed,
    BuildSuperseded,
)
from shared.adapters import node_time
from shared.adapters.locks import ContainerLocks
from shared.adapters.proxmox import (
    NodeFailure,
    ProxmoxError,
    ProxmoxLockTimeout,
    ProxmoxNotFound,
    ProxmoxTimeout,
    ProxmoxUnavailable,
)
from shared.adapters.proxmox.tasks import TASK_LIMIT_SECONDS, run_task, wait_for_task
from shared.core import metrics
from shared.core.errors import Conflict, DomainError
from shared.core.lifecycle import EventType, Lifecycle, Phase, transition
from shared.core.logging import get_logger
from shared.core.outages import is_database_outage
from shared.db.engine import rows_matched
from shared.db.models import Container, Node
from shared.domain import audit, events
from shared.domain.containers.base import built_by_us
from shared.domain.containers.creation import build_request_of

log = get_logger(__name__)

PHASES: dict[Phase, Callable[[Build], Awaitable[None]]] = {
    Phase.CREATING: creating.run,
    Phase.STARTING: starting.run,
    Phase.DEPLOYING: deploying.run,
    Phase.SYNCING: syncing.run,
    Phase.FINALIZING: finalizing.run,
}
# Transient failures are retried after 2, 4, 8, 16, 30, 30... seconds, this many times in all.
TRANSIENT_TRIES = 8
_TRANSIENT_STATUSES = (500, 502, 503, 504, 595, 596)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ProxmoxUnavailable | ProxmoxTimeout | ProxmoxLockTimeout):
        return True
    return type(exc) is ProxmoxError and exc.status in _TRANSIENT_STATUSES


async def run_build(app: WorkerContext, container_id: uuid.UUID, job_try: int) -> str:
    """Run the build's remaining phases; `BuildBusy` when another run of it holds the lock."""
    async with app.containers() as service:
        row = (
            await service.session.execute(
                select(Container, Node)
                .join(Node, Container.node_id == Node.id)
                .where(Container.id == container_id)
            )
        ).first()
        await service.session.commit()
        if row is None:
            return "gone"
        container, node = row
        if container.lifecycle != Lifecycle.CREATING:
            return f"nothing to do: the container is {container.lifecycle}"
        # One run per build at a time, across workers: a run whose lease lapsed while it still
        # worked must not be joined by a second one. The lock lives as long as the job lease.
        runs = ContainerLocks(app.redis, ttl_seconds=round(app.settings.build_lease_seconds * 3))
        async with contextlib.AsyncExitStack() as held:
            try:
                await held.enter_async_context(runs.hold(container.id, "build"))
            except Conflict as exc:
                raise BuildBusy(exc.message) from None
            log.info(
                "build started", node=node.name, vmid=container.vmid, job_try=job_try,
                resume_after=container.last_completed_phase,
            )  # fmt: skip
            async with service.nodes.client(node) as client:
                build = Build(service, container, node, build_request_of(container), client)
                build.writer = events.BatchWriter(app.db_sessions, app.redis, container.id)
                remaining = Phase.after(container.last_completed_phase)
                build.phase = remaining[0] if remaining else Phase.FINALIZING

                async def announce_wait() -> None:
                    await build.step(f"Waiting for a free build slot on {node.name}")

                try:
                    with node_time.measure() as build.timing:
                        async with app.build_slots.hold(
                            node.id, str(container.id), on_wait=announce_wait,
                            while_waiting=build.check_cancel,
                        ):  # fmt: skip
                            return await _run_phases(build, job_try)
                except BuildCancelled:  # while it waited for a slot
                    await _fail(build, "Build cancelled before it started", cancelled=True)
                    metrics.build_ended(build.phase.value, "cancelled")
                    return "cancelled"
                finally:
                    await build.writer.aclose()


async def _run_phases(build: Build, job_try: int) -> str:
    """The build's run, counted by the phase it ended in and how (`retry`: a transient
    failure, run again later; `interrupted`: PostgreSQL went away, the job runs again)."""
    outcome = "interrupted"
    try:
        outcome = await _phases(build, job_try)
        return outcome
    except Retry:
        outcome = "retry"
        raise
    finally:
        metrics.build_ended(build.phase.value, outcome)


@contextlib.asynccontextmanager
async def _timed(phase: Phase) -> AsyncIterator[None]:
    """One run of a phase, timed, by outcome: completed, failed, transient (retried later),
    cancelled or superseded."""
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "completed"
    except BuildCancelled:
        outcome = "cancelled"
        raise
    except BuildSuperseded:
        outcome = "superseded"
        raise
    except Exception as exc:
        outcome = "transient" if is_transient(exc) else "failed"
        raise
    finally:
        metrics.observe_phase(phase.value, outcome, time.perf_counter() - started)


async def _phases(build: Build, job_try: int) -> str:
    try:
        await build.check_cancel(durable=True)
        await build.resolve()
        async with build.service.nodes.ssh(build.node) as ssh:
            build.ssh = ssh
            for phase in Phase.after(build.container.last_completed_phase):
                build.phase = phase
                await build.check_cancel(durable=True)
                async with _timed(phase):
                    await PHASES[phase](build)
        return "ready"
    except BuildSuperseded:
        return "superseded"
    except BuildCancelled:
        await _fail(build, f"Build cancelled during {build.phase}", cancelled=True)
        return "cancelled"
    except Retry:
        raise
    except Exception as exc:
        await build.session.rollback()
        await _flush_quietly(build)
        if is_transient(exc) and job_try < TRANSIENT_TRIES:
            delay = min(2**job_try, 30)
            message = exc.message if isinstance(exc, DomainError | NodeFailure) else str(exc)
            await build.log(f"{build.phase}: {message}; trying again in {delay} s")
            raise Retry(defer=delay) from exc
        if is_database_outage(exc):
            raise  # the job is run again when PostgreSQL is back (services.worker.jobs)
        if isinstance(exc, BuildFailed | DomainError | NodeFailure):
            reason = exc.message
        else:
            log.exception("build failed unexpectedly", container_id=str(build.container.id))
            reason = f"unexpected error ({type(exc).__name__})"
        await _fail(build, f"{build.phase} failed: {reason}")
        return "failed"


async def _flush_quietly(build: Build) -> None:
    """Write what the build said before it ends; if those events cannot be written (the
    writer gave up on them), the build must still end, with its own `error` event."""
    try:
        await build.flush_events()
    except Exception as exc:
        if is_database_outage(exc):
            raise
        log.warning("build events lost", container_id=str(build.container.id), error=str(exc))


async def _fail(build: Build, message: str, *, cancelled: bool = False) -> None:
    """End the build: clean up when asked, then `error` with an event saying why."""
    await build.session.rollback()
    await _flush_quietly(build)  # what the build said so far comes before its end
    cleaned = None
    if build.container.cleanup_on_failure:
        cleaned = await _destroy_ours(build)
        message += f"; {cleaned}"
    elif build.container.last_completed_phase is not None or build.phase != Phase.CREATING:
        message += "; the Proxmox container is kept for inspection (retry resumes the build)"
    masked = build._masked(
        events.EventDraft(type=EventType.ERROR, step=build.phase, message=message)
    )
    changes: dict[str, object] = {
        "lifecycle": transition(build.container.lifecycle, Lifecycle.ERROR).value,
        "failed_phase": build.phase.value,
        "failure_reason": events.printable(masked.message)[:2000],
        "cancel_requested": False,
    }
    if cleaned == DESTROYED:
        changes["last_completed_phase"] = None
        changes["ip_address"] = None
    done = await build.session.execute(
        update(Container)
        .where(Container.id == build.container.id, Container.lifecycle == Lifecycle.CREATING)
        .values(**changes)
    )
    if rows_matched(done) == 0:  # another run ended the build meanwhile
        await build.session.rollback()
        return
    audit.record(
        build.session, user_id=build.container.created_by, action="container.build",
        target_type="container", target_id=build.container.id, outcome="failure",
        phase=build.phase.value, cancelled=cancelled,
    )  # fmt: skip
    staged = await events.stage(build.session, build.container.id, [masked])
    await build.session.commit()
    await events.publish(build.service.redis, build.container.id, staged)
    log.info("build ended in error", container_id=str(build.container.id), phase=build.phase)


DESTROYED = "the Proxmox container was destroyed (cleanupOnFailure)"


async def _destroy_ours(build: Build) -> str:
    """Stop and purge the PVE container if it is the one this build created; what happened."""
    try:
        config = await build.client.get(f"{build.lxc_path}/config")
        if not built_by_us(config, build.container.id):
            return "nothing of this build to clean up on Proxmox (the VMID holds another guest)"
        status = await build.client.get(f"{build.lxc_path}/status/current")
        if status.get("status") == "running":
            await run_task(build.client, build.node.name, f"{build.lxc_path}/status/stop")
        upid = await build.client.delete(
            build.lxc_path, purge=1, **{"destroy-unreferenced-disks": 1}
        )
        result = await wait_for_task(
            build.client, build.node.name, upid, limit_seconds=TASK_LIMIT_SECONDS
        )
        await build.vmids_changed()
        if not result.ok:
            return f"cleaning up failed: {result.exitstatus}; the Proxmox container is left"
        return DESTROYED
    except ProxmoxNotFound:
        return "nothing to clean up on Proxmox (no container was created)"
    except NodeFailure as exc:
        log.warning("cleanup after a failed build failed", error=exc.message)
        return f"cleaning up failed: {exc.message}; the Proxmox container may be left"
