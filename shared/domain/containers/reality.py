"""Reconciliation with Proxmox reality: containers whose VMID no longer holds them.

A container deleted outside Infrahaus (or whose VMID now holds another guest: ours carry a
build marker in their description) is marked `missing`, with an event and an audit row, not
silently kept as `ready`; one that comes back (the same guest, marker and all) is `ready`
again. Containers being built or deleted are left alone (they are in flux), and so is a
failed build that never made a Proxmox container (nothing to miss; it can still be retried).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select, update

from shared.adapters.proxmox import (
    ProxmoxClient,
    ProxmoxNotFound,
    ProxmoxPermissionError,
    ProxmoxTimeout,
)
from shared.adapters.proxmox.client import segment
from shared.core.lifecycle import EventType, Lifecycle, transition
from shared.core.logging import get_logger
from shared.db.engine import rows_matched
from shared.db.models import Container, Node
from shared.domain import audit, events
from shared.domain.containers.base import ContainerServiceBase, built_by_us

log = get_logger(__name__)

_WATCHED = (Lifecycle.READY, Lifecycle.ERROR, Lifecycle.MISSING)


@dataclass
class Drift:
    container_id: uuid.UUID
    vmid: int
    hostname: str
    reason: str


@dataclass
class ReconcileReport:
    node_id: uuid.UUID
    checked: int = 0
    missing: list[Drift] = field(default_factory=list)
    restored: list[Drift] = field(default_factory=list)


class RealityMixin(ContainerServiceBase):
    async def reconcile_node(
        self, node: Node, *, actor: uuid.UUID | None = None, budget_seconds: float | None = None
    ) -> ReconcileReport:
        """Compare the node's guests with our records and mark the drift (see the module).

        `actor`: who asked (the audit rows' user); None for the cron (the containers'
        creators). Proxmox errors propagate: nothing is marked from a node that did not
        answer."""
        rows = list(
            await self.session.scalars(
                select(Container)
                .where(Container.node_id == node.id, Container.lifecycle.in_(_WATCHED))
                .order_by(Container.vmid)
            )
        )
        await self.session.commit()  # no transaction held while the node is asked
        report = ReconcileReport(node_id=node.id, checked=len(rows))
        if not rows:
            return report
        budget = budget_seconds or self.settings.pve_interactive_timeout_seconds
        try:
            async with asyncio.timeout(budget), self.nodes.client(node) as client:
                verdicts = await self._verdicts(client, node, rows)
        except TimeoutError:
            raise ProxmoxTimeout(f"node {node.name!r} did not answer within {budget:g} s") from None
        for container, reason in verdicts:
            observed = Lifecycle(container.lifecycle)
            if reason is None and observed == Lifecycle.MISSING:
                wanted, message = Lifecycle.READY, "its guest is back on the node"
            elif reason is not None and observed != Lifecycle.MISSING:
                if observed == Lifecycle.ERROR and container.last_completed_phase is None:
                    continue  # a failed build that made no Proxmox container
                wanted, message = Lifecycle.MISSING, reason
            else:
                continue
            if await self._mark(container, observed, wanted, message, node, actor):
                drift = Drift(container.id, container.vmid, container.hostname, message)
                (report.restored if wanted == Lifecycle.READY else report.missing).append(drift)
        return report

    async def _verdicts(
        self, client: ProxmoxClient, node: Node, rows: list[Container]
    ) -> list[tuple[Container, str | None]]:
        """Each container with why it is not on the node (None: it is, and it is ours).
        Containers the node's token may not read are left out: unknown is not missing."""
        resources = await client.get("/cluster/resources", type="vm")
        guests: dict[int, dict[str, object]] = {}
        for item in resources or []:
            if isinstance(item, dict) and isinstance(item.get("vmid"), int):
                guests[item["vmid"]] = item
        found: list[tuple[Container, str | None]] = []
        for container in rows:
            guest = guests.get(container.vmid)
            where = f"VMID {container.vmid} on {node.name}"
            if guest is not None and (guest.get("type") != "lxc" or guest.get("node") != node.name):
                found.append(
                    (container, f"VMID {container.vmid} now holds another guest"
                     f" ({guest.get('type')} on {guest.get('node')})")
                )  # fmt: skip
                continue
            # also when the listing lacks it: the listing only shows what the token may see
            path = f"/nodes/{segment(node.name)}/lxc/{container.vmid}/config"
            try:
                config = await client.get(path)
            except ProxmoxNotFound:
                found.append((container, f"{where} no longer exists (deleted outside Infrahaus)"))
                continue
            except ProxmoxPermissionError:
                log.warning(
                    "reconciliation cannot see a container; left as it is",
                    container_id=str(container.id), vmid=container.vmid, node=node.name,
                )  # fmt: skip
                continue
            if not built_by_us(config if isinstance(config, dict) else None, container.id):
                found.append((container, f"{where} holds another container (VMID reused)"))
                continue
            found.append((container, None))
        return found

    async def _mark(
        self, container: Container, observed: Lifecycle, wanted: Lifecycle, message: str,
        node: Node, actor: uuid.UUID | None,
    ) -> bool:  # fmt: skip
        """Move the row from `observed` to `wanted` unless something else moved it since."""
        done = await self.session.execute(
            update(Container)
            .where(Container.id == container.id, Container.lifecycle == observed.value)
            .values(lifecycle=transition(observed, wanted).value)
        )
        if rows_matched(done) == 0:
            await self.session.rollback()
            return False
        audit.record(
            self.session, user_id=actor or container.created_by, action="container.reconcile",
            target_type="container", target_id=container.id, outcome="success",
            previous=observed.value, lifecycle=wanted.value, reason=message, node=node.name,
            vmid=container.vmid,
        )  # fmt: skip
        draft = events.EventDraft(
            type=EventType.LOG,
            message=f"Reconciliation: {message}; now {wanted.value}",
            metadata={"action": "reconcile", "lifecycle": wanted.value},
        )
        staged = await events.stage(self.session, container.id, [draft])
        await self.session.commit()
        await events.publish(self.redis, container.id, staged)
        log.info(
            "reconciled a container", container_id=str(container.id), vmid=container.vmid,
            node=node.name, previous=observed.value, lifecycle=wanted.value, reason=message,
        )  # fmt: skip
        return True
