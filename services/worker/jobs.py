"""Job functions the worker runs. Arguments are plain data (ids, not objects or secrets)."""

from __future__ import annotations

import uuid
from typing import Any

from arq import Retry, func

from shared.containers import ContainerService
from shared.errors import Conflict
from shared.logging import get_logger
from shared.proxmox import ProxmoxTimeout, ProxmoxUnavailable

log = get_logger(__name__)

# Transient trouble is retried: after 5 s, 10 s, 15 s, ... (about 2.5 minutes in all).
RETRY_STEP_SECONDS = 5
MAX_TRIES = 10


async def ping(ctx: dict[str, Any], payload: str) -> dict[str, Any]:
    """Round-trip check for operators and tests: proves a worker consumes the queue."""
    return {"pong": payload, "worker": ctx["worker_id"], "try": ctx["job_try"]}


async def delete_container(ctx: dict[str, Any], container_id: str) -> str:
    """Stop (if running) and destroy a container on Proxmox, then forget it.

    Transient trouble (node unreachable, container busy with an action) is retried with growing
    delays; when the tries run out, or anything unexpected happens, the container is left in
    `error` with an event saying why, never stuck in `deleting`.
    """
    target = uuid.UUID(container_id)
    async with ctx["db_sessions"]() as session:
        service = ContainerService(
            session, ctx["settings"], ctx["secret_box"], ctx["redis"], ctx["proxmox_clients"]
        )
        try:
            outcome = await service.delete_now(target)
        except (ProxmoxUnavailable, ProxmoxTimeout, Conflict) as exc:
            if ctx["job_try"] < MAX_TRIES:
                log.warning(
                    "delete must wait; will retry", container_id=container_id, error=exc.message
                )
                raise Retry(defer=ctx["job_try"] * RETRY_STEP_SECONDS) from exc
            await service.mark_delete_failed(
                target, f"gave up after {MAX_TRIES} tries: {exc.message}"
            )
            return "failed"
        except Exception as exc:
            log.exception("delete failed unexpectedly", container_id=container_id)
            await service.mark_delete_failed(target, f"unexpected error ({type(exc).__name__})")
            return "failed"
    log.info("delete finished", container_id=container_id, outcome=outcome)
    return outcome


JOB_FUNCTIONS = [ping, func(delete_container, max_tries=MAX_TRIES)]
