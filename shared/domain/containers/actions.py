"""Lifecycle actions (start, stop, shutdown, reboot) under the container's lock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from shared.adapters.proxmox import NodeFailure, ProxmoxClient, ProxmoxTimeout
from shared.adapters.proxmox.client import TaskResult, segment
from shared.adapters.proxmox.tasks import TASK_LIMIT_SECONDS, run_task, wait_for_task
from shared.core.errors import Conflict
from shared.core.lifecycle import Lifecycle
from shared.db.models import Container, Node
from shared.domain import audit, events
from shared.domain.containers.base import ContainerServiceBase

Action = Literal["start", "stop", "shutdown", "reboot"]

# PVE answers these with a plain 500; for our callers they are conflicts with the state.
_STATE_CONFLICTS = ("already running", "not running", "is locked")
# A build or a delete owns the container until it ends.
_BUSY = (Lifecycle.CREATING, Lifecycle.DELETING)
# A build that just marked the container ready still holds its lock while it finishes up
# (events flushed, build slot given back): an action waits that long instead of a 409.
BUILD_FINISH_WAIT_SECONDS = 10.0


@dataclass
class ActionOutcome:
    action: Action
    upid: str
    exit_status: str
    forced: bool = False
    message: str = ""


class ActionsMixin(ContainerServiceBase):
    # -- lifecycle -------------------------------------------------------------------------

    async def act(
        self,
        user_id: uuid.UUID,
        container_id: uuid.UUID,
        action: Action,
        *,
        shutdown_timeout: int = 30,
    ) -> ActionOutcome:
        """Run one action while holding the container's lock; the PVE task is awaited."""
        container, node = await self.get(user_id, container_id)
        await self.session.commit()  # no connection held during the task
        if container.lifecycle in _BUSY:
            raise Conflict(f"The container is {container.lifecycle}; try again when it is done.")
        if container.lifecycle == Lifecycle.MISSING:
            raise Conflict(
                "The container is missing on its node (deleted or replaced outside"
                " Infrahaus); delete its record, or reconcile the node once it is back."
            )
        async with self.locks.hold(container.id, action, wait_for_build=BUILD_FINISH_WAIT_SECONDS):
            # A delete may have been accepted between the check above and taking the lock.
            current = await self.session.scalar(
                select(Container.lifecycle).where(Container.id == container.id)
            )
            await self.session.commit()
            if current is None or current in _BUSY:
                raise Conflict(f"The container is {current or 'gone'}; the {action} was not run.")
            try:
                async with self.nodes.client(node) as client:
                    outcome = await self._perform(client, node, container, action, shutdown_timeout)
            except NodeFailure as exc:
                await self._record(user_id, container, action, "failure", exc.message)
                if any(text in exc.message for text in _STATE_CONFLICTS):
                    raise Conflict(exc.message) from None
                raise
            await self._record(user_id, container, action, "success", outcome.message)
        return outcome

    async def _perform(
        self,
        client: ProxmoxClient,
        node: Node,
        container: Container,
        action: Action,
        shutdown_timeout: int,
    ) -> ActionOutcome:
        base = f"/nodes/{segment(node.name)}/lxc/{container.vmid}/status"
        if action != "shutdown":
            result = await self._run_task(client, node, f"{base}/{action}")
            return ActionOutcome(action, result.upid, result.exitstatus, message=f"{action}: OK")
        # Graceful first; if the guest does not stop in time, stop it, and say so.
        upid = await client.post(f"{base}/shutdown", timeout=shutdown_timeout)
        try:
            graceful = await wait_for_task(
                client, node.name, upid, limit_seconds=shutdown_timeout + 15
            )
            if graceful.ok:
                return ActionOutcome(action, upid, graceful.exitstatus, message="shut down")
            reason = graceful.exitstatus
        except ProxmoxTimeout:
            reason = f"no shutdown within {shutdown_timeout} s"
        forced = await self._run_task(client, node, f"{base}/stop", {"overrule-shutdown": 1})
        return ActionOutcome(
            action,
            forced.upid,
            forced.exitstatus,
            forced=True,
            message=f"graceful shutdown failed ({reason}); stopped instead",
        )

    async def _run_task(
        self, client: ProxmoxClient, node: Node, path: str, params: dict[str, object] | None = None
    ) -> TaskResult:
        return await run_task(client, node.name, path, params, limit_seconds=TASK_LIMIT_SECONDS)

    async def _record(
        self,
        user_id: uuid.UUID,
        container: Container,
        action: str,
        outcome: Literal["success", "failure"],
        message: str,
    ) -> None:
        staged = await events.stage(
            self.session,
            container.id,
            [events.log_line(f"{action}: {message}", action=action, outcome=outcome)],
        )
        audit.record(
            self.session,
            user_id=user_id,
            action=f"container.{action}",
            target_type="container",
            target_id=container.id,
            outcome=outcome,
        )
        await self.session.commit()
        await events.publish(self.redis, container.id, staged)
