"""Job functions the worker runs. Arguments are plain data (ids, not objects or secrets)."""

from __future__ import annotations

import uuid
from typing import Any

from arq import Retry, func

from shared.containers import ContainerService
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
    """Stop (if running) and destroy a container on Proxmox, then forget it."""
    async with ctx["db_sessions"]() as session:
        service = ContainerService(
            session, ctx["settings"], ctx["secret_box"], ctx["redis"], ctx["proxmox_clients"]
        )
        try:
            outcome = await service.delete_now(uuid.UUID(container_id))
        except (ProxmoxUnavailable, ProxmoxTimeout) as exc:
            log.warning(
                "node unavailable; will retry", container_id=container_id, error=exc.message
            )
            raise Retry(defer=ctx["job_try"] * RETRY_STEP_SECONDS) from exc
    log.info("delete finished", container_id=container_id, outcome=outcome)
    return outcome


JOB_FUNCTIONS = [ping, func(delete_container, max_tries=MAX_TRIES)]
