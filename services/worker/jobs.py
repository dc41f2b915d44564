"""Job functions the worker runs. Arguments are plain data (ids, not objects or secrets)."""

from __future__ import annotations

from typing import Any


async def ping(ctx: dict[str, Any], payload: str) -> dict[str, Any]:
    """Round-trip check for operators and tests: proves a worker consumes the queue."""
    return {"pong": payload, "worker": ctx["worker_id"], "try": ctx["job_try"]}


JOB_FUNCTIONS = [ping]
