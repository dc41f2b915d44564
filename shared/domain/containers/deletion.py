"""Deleting a container: the API marks it, the worker destroys it on Proxmox and forgets it."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from shared.adapters.proxmox import (
    NodeFailure,
    ProxmoxError,
    ProxmoxNotFound,
    ProxmoxTimeout,
    ProxmoxUnavailable,
)
from shared.adapters.proxmox.client import segment
from shared.adapters.proxmox.tasks import TASK_LIMIT_SECONDS, run_task, wait_for_task
from shared.core.errors import Conflict
from shared.core.lifecycle import EventType, Lifecycle, transition
from shared.db.models import Container, Node
from shared.domain import audit, events
from shared.domain.containers.base import ContainerServiceBase, built_by_us


class DeletionMixin(ContainerServiceBase):
    async def request_delete(self, user_id: uuid.UUID, container_id: uuid.UUID) -> Container:
        """Mark the container `deleting`; the worker does the rest (idempotent)."""
        container, _ = await self.get(user_id, container_id)
        if container.lifecycle == Lifecycle.CREATING:
            raise Conflict("The container is still being created; try again when it is done.")
        running = await self.locks.holder(container.id)
        if running == "delete":
            return container  # already being deleted: asking again changes nothing
        if running is not None:
            raise Conflict(f"A {running!r} action is running on this container; try again after.")
        if container.lifecycle != Lifecycle.DELETING:
            container.lifecycle = transition(container.lifecycle, Lifecycle.DELETING).value
            audit.record(
                self.session,
                user_id=user_id,
                action="container.delete",
                target_type="container",
                target_id=container.id,
                outcome="success",
                phase="requested",
            )
            await self.session.commit()
        return container

    async def delete_now(self, container_id: uuid.UUID) -> str:
        """The worker's half of a delete: stop if running, destroy with purge, forget the row.

        Idempotent: a container already gone on the node (or already forgotten here) counts as
        deleted, and one no longer `deleting` is left alone. Holds the container's action lock
        (a busy container raises `Conflict`, and the job tries again later). Connection problems
        propagate so the job can be retried; a refusal by Proxmox leaves the row in `error` with
        an `error` event naming the cause.
        """
        async with self.locks.hold(container_id, "delete"):
            # Read under the lock: another job for this container (a retry, a re-enqueue by the
            # reconciler) may have deleted it, or given up and left it in `error`, meanwhile.
            row = (
                await self.session.execute(
                    select(Container, Node)
                    .join(Node, Container.node_id == Node.id)
                    .where(Container.id == container_id)
                )
            ).first()
            await self.session.commit()  # no connection held during the tasks
            if row is None:
                return "already deleted"
            container, node = row
            if container.lifecycle != Lifecycle.DELETING:
                return f"skipped: lifecycle is {container.lifecycle}"
            base = f"/nodes/{segment(node.name)}/lxc/{container.vmid}"
            foreign = False
            try:
                async with self.nodes.client(node) as client:
                    try:
                        current = await client.get(f"{base}/status/current")
                    except ProxmoxNotFound:
                        current = None
                    if current is not None:
                        # A container we built or adopted carries our marker; anything else at
                        # its VMID (a failed build's VMID, or a `missing` one's, taken by
                        # someone since) is not ours to destroy: the row goes, the guest stays.
                        config = await client.get(f"{base}/config")
                        if not built_by_us(config, container.id):
                            foreign, current = True, None
                    if current is not None:
                        if current.get("status") == "running":
                            await run_task(
                                client,
                                node.name,
                                f"{base}/status/stop",
                                limit_seconds=TASK_LIMIT_SECONDS,
                            )
                        upid = await client.delete(
                            base, purge=1, **{"destroy-unreferenced-disks": 1}
                        )
                        result = await wait_for_task(
                            client, node.name, upid, limit_seconds=TASK_LIMIT_SECONDS
                        )
                        if not result.ok and "does not exist" not in result.exitstatus:
                            raise ProxmoxError(result.exitstatus)
            except (ProxmoxUnavailable, ProxmoxTimeout):
                raise
            except NodeFailure as exc:
                await self.mark_delete_failed(container_id, exc.message)
                return f"failed: {exc.message}"
            doomed = await self.session.get(Container, container_id)
            if doomed is not None:
                await self.session.delete(doomed)  # its events go with it (ON DELETE CASCADE)
            audit.record(
                self.session,
                user_id=container.created_by,
                action="container.delete",
                target_type="container",
                target_id=container_id,
                outcome="success",
                vmid=container.vmid,
                node=node.name,
                already_gone=current is None and not foreign,
                left_foreign_guest=foreign,
            )
            await self.session.commit()
        await self.vmids.invalidate(node.id)
        return "deleted"

    async def mark_delete_failed(self, container_id: uuid.UUID, reason: str) -> None:
        """Leave the container in `error`, with an `error` event and an audit row saying why."""
        await self.session.rollback()
        container = await self.session.get(Container, container_id)
        if container is None or container.lifecycle != Lifecycle.DELETING:
            return  # forgotten, or another job for it has already said why it failed
        container.lifecycle = transition(container.lifecycle, Lifecycle.ERROR).value
        failure = await events.stage(
            self.session,
            container.id,
            [
                events.EventDraft(
                    type=EventType.ERROR,
                    message=f"delete failed: {reason}",
                    metadata={"action": "delete"},
                )
            ],
        )
        audit.record(
            self.session,
            user_id=container.created_by,
            action="container.delete",
            target_type="container",
            target_id=container.id,
            outcome="failure",
            reason=reason[:300],
        )
        await self.session.commit()
        await events.publish(self.redis, container.id, failure)
