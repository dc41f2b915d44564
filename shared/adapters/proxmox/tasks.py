"""Awaiting Proxmox tasks (UPIDs) with bounded polling."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import stamina

from shared.adapters.node_time import on_node
from shared.adapters.proxmox.client import ProxmoxClient, TaskResult, is_lock_timeout
from shared.adapters.proxmox.errors import (
    ProxmoxError,
    ProxmoxLockTimeout,
    ProxmoxTimeout,
    remote_text,
)

# The longest we await one PVE task (a create that extracts a large template, a slow destroy).
TASK_LIMIT_SECONDS = 900.0


async def wait_for_task(
    client: ProxmoxClient,
    node: str,
    upid: str,
    *,
    limit_seconds: float = 300.0,
    first_poll: float = 0.05,
    max_poll: float = 2.0,
) -> TaskResult:
    """Poll until the task stops; the result says `OK` or PVE's `exitstatus` error text.

    Polls start fast (most tasks are short, and a build waits on several) and back off to
    `max_poll`, so a long task costs a few requests a minute. Past `limit_seconds` it raises
    `ProxmoxTimeout`; the task itself keeps running on the node.
    """
    with on_node():  # the task runs on the node: its whole duration is the node's time
        return await _poll(client, node, upid, limit_seconds, first_poll, max_poll)


async def _poll(
    client: ProxmoxClient,
    node: str,
    upid: str,
    limit_seconds: float,
    first_poll: float,
    max_poll: float,
) -> TaskResult:
    deadline = time.monotonic() + limit_seconds
    delay = first_poll
    while True:
        status = await client.task_status(node, upid)
        if status.status == "stopped":
            tail = await client.task_log_tail(node, upid)
            exitstatus = remote_text(status.exitstatus or "") or "unknown"
            return TaskResult(upid=upid, exitstatus=exitstatus, log_tail=tail)
        if time.monotonic() + delay > deadline:
            raise ProxmoxTimeout(f"task {upid} still running after {limit_seconds:g} s")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, max_poll)


async def run_task(
    client: ProxmoxClient,
    node: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    limit_seconds: float = TASK_LIMIT_SECONDS,
    attempts: int = 3,
) -> TaskResult:
    """POST a task and await it. A task that lost the race for PVE's config lock is run again
    with backoff; any other failure raises `ProxmoxError` with PVE's exit status."""
    async for attempt in stamina.retry_context(
        on=ProxmoxLockTimeout, attempts=attempts, wait_initial=0.5, wait_max=5.0
    ):
        with attempt:
            upid = await client.post(path, **(params or {}))
            result = await wait_for_task(client, node, upid, limit_seconds=limit_seconds)
            if result.ok:
                return result
            if is_lock_timeout(result.exitstatus):
                raise ProxmoxLockTimeout(result.exitstatus)
            raise ProxmoxError(result.exitstatus)
    raise AssertionError("unreachable")  # pragma: no cover
