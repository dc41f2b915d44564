"""Containers: VMIDs, the inventory across nodes, and lifecycle actions under locks.

Every method is scoped to the owner; someone else's container or node is "not found".
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import stamina
from redis.asyncio import Redis
from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit, events
from shared.crypto import SecretBox
from shared.db.models import Container, Node
from shared.errors import Conflict, NotFound
from shared.locks import ContainerLocks
from shared.logging import get_logger
from shared.nodes import NodeService
from shared.proxmox import (
    ProxmoxClient,
    ProxmoxError,
    ProxmoxNotFound,
    ProxmoxTimeout,
    ProxmoxUnavailable,
)
from shared.proxmox.client import TaskResult, segment
from shared.proxmox.pool import ProxmoxClientPool
from shared.proxmox.tasks import wait_for_task
from shared.settings import Settings
from shared.vmids import VmidCache, lowest_free

log = get_logger(__name__)

Action = Literal["start", "stop", "shutdown", "reboot"]
Lifecycle = Literal["creating", "ready", "error", "deleting"]

# PVE answers these with a plain 500; for our callers they are conflicts with the state.
_STATE_CONFLICTS = ("already running", "not running", "is locked")
TASK_LIMIT_SECONDS = 600.0


@dataclass
class LiveStatus:
    status: str | None = None  # running | stopped | missing (not on the node) | None (unknown)
    cpu: float | None = None
    mem: int | None = None
    maxmem: int | None = None
    disk: int | None = None
    maxdisk: int | None = None
    uptime: int | None = None


@dataclass
class InventoryItem:
    container: Any  # a `containers` row: the ORM's attribute names, without the ORM's cost
    node: Node
    live: LiveStatus
    status_unknown: bool


@dataclass
class NodeError:
    node_id: uuid.UUID
    node_name: str
    error: str


@dataclass
class Inventory:
    items: list[InventoryItem] = field(default_factory=list)
    node_errors: list[NodeError] = field(default_factory=list)


@dataclass
class ContainerDetail:
    container: Container
    node: Node
    live: LiveStatus
    status_unknown: bool
    config: dict[str, Any] | None
    ip_address: str | None
    error: str | None


@dataclass
class ActionOutcome:
    action: Action
    upid: str
    exit_status: str
    forced: bool = False
    message: str = ""


class TaskLockTimeout(ProxmoxError):
    """A PVE task ended with `can't lock file ... got timeout`: safe to run again."""

    http_status = 409


def _live_from(item: dict[str, Any]) -> LiveStatus:
    return LiveStatus(
        status=str(item.get("status") or "unknown"),
        cpu=item.get("cpu"),
        mem=item.get("mem"),
        maxmem=item.get("maxmem"),
        disk=item.get("disk"),
        maxdisk=item.get("maxdisk"),
        uptime=item.get("uptime"),
    )


def _first_ipv4(interfaces: Sequence[dict[str, Any]]) -> str | None:
    for interface in interfaces:
        if interface.get("name") == "lo":
            continue
        address = interface.get("inet")
        if address:
            return str(address).split("/")[0]
    return None


class ContainerService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        box: SecretBox,
        redis: Redis,
        clients: ProxmoxClientPool | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.redis = redis
        self.nodes = NodeService(session, settings, box, clients)
        self.vmids = VmidCache(redis)
        self.locks = ContainerLocks(redis)

    # -- VMIDs -----------------------------------------------------------------------------

    async def refresh_vmids(self, user_id: uuid.UUID, node_id: uuid.UUID) -> int:
        """Every guest id of the node's cluster (LXC and QEMU) plus the ids our rows reserve."""
        node = await self.nodes.get_then_release(user_id, node_id)
        async with self.nodes.client(node) as client:
            resources = await client.get("/cluster/resources", type="vm")
        taken = {
            int(r["vmid"])
            for r in resources or []
            if isinstance(r, dict) and str(r.get("vmid", "")).isdigit()
        }
        ours = await self.session.scalars(
            select(Container.vmid).where(Container.node_id == node.id)
        )
        taken.update(ours)
        await self.vmids.replace(node.id, user_id, taken)
        return len(taken)

    async def next_vmid(self, user_id: uuid.UUID, node_id: uuid.UUID, start: int) -> int:
        members = await self.vmids.members(node_id)
        if members is None or await self.vmids.check(node_id, user_id, start) is None:
            await self.refresh_vmids(user_id, node_id)
            members = await self.vmids.members(node_id) or set()
        free = lowest_free(members, start)
        if free is None:
            raise Conflict(f"No free VMID at or above {start}.")
        return free

    # -- inventory -------------------------------------------------------------------------

    async def inventory(
        self,
        user_id: uuid.UUID,
        *,
        node_id: uuid.UUID | None = None,
        lifecycle: Lifecycle | None = None,
        text: str | None = None,
    ) -> Inventory:
        """Rows from PostgreSQL merged with each node's live list, nodes asked in parallel.

        A node that fails or exceeds the per-node timeout costs only its own containers'
        live data: they come back `status_unknown`, and `node_errors` says why.
        """
        nodes_query = select(Node).where(Node.user_id == user_id).order_by(Node.name)
        if node_id is not None:
            nodes_query = nodes_query.where(Node.id == node_id)
        nodes = {node.id: node for node in await self.session.scalars(nodes_query)}
        # Ask every node now, and read our rows while they answer.
        asking = [asyncio.create_task(self._live_list(node)) for node in nodes.values()]
        try:
            # Plain rows, not ORM objects: thousands of them must not cost an identity map.
            query = select(*Container.__table__.c).where(Container.node_id.in_(list(nodes)))
            if lifecycle is not None:
                query = query.where(Container.lifecycle == lifecycle)
            if text:
                escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                pattern = f"%{escaped}%"
                query = query.where(
                    or_(
                        Container.hostname.ilike(pattern, escape="\\"),
                        cast(Container.vmid, String).like(pattern, escape="\\"),
                    )
                )
            containers = list(await self.session.execute(query)) if nodes else []
            await self.session.commit()  # no connection held while the nodes answer
        finally:
            results = await asyncio.gather(*asking)
        live_by_node: dict[uuid.UUID, dict[int, LiveStatus] | None] = {}
        inventory = Inventory()
        for node, result in zip(nodes.values(), results, strict=True):
            if isinstance(result, str):
                live_by_node[node.id] = None
                inventory.node_errors.append(NodeError(node.id, node.name, result))
            else:
                live_by_node[node.id] = result
        for container in sorted(containers, key=lambda c: (nodes[c.node_id].name, c.vmid)):
            node = nodes[container.node_id]
            live = live_by_node[node.id]
            if live is None:
                item = InventoryItem(container, node, LiveStatus(), status_unknown=True)
            else:
                status = live.get(container.vmid, LiveStatus(status="missing"))
                item = InventoryItem(container, node, status, status_unknown=False)
            inventory.items.append(item)
        return inventory

    async def _live_list(self, node: Node) -> dict[int, LiveStatus] | str:
        """The node's containers by VMID, or the reason it could not be asked."""
        try:
            async with asyncio.timeout(self.settings.inventory_node_timeout_seconds):
                async with self.nodes.client(node) as client:
                    data = await client.get(f"/nodes/{segment(node.name)}/lxc")
        except TimeoutError:
            return f"no answer within {self.settings.inventory_node_timeout_seconds:g} s"
        except (ProxmoxError, Conflict) as exc:
            return exc.message
        except Exception as exc:  # one odd node must never fail the whole list
            log.exception("inventory: node failed unexpectedly", node=node.name)
            return f"unexpected error ({type(exc).__name__})"
        return {
            int(item["vmid"]): _live_from(item)
            for item in data or []
            if isinstance(item, dict) and str(item.get("vmid", "")).isdigit()
        }

    async def get(self, user_id: uuid.UUID, container_id: uuid.UUID) -> tuple[Container, Node]:
        row = (
            await self.session.execute(
                select(Container, Node)
                .join(Node, Container.node_id == Node.id)
                .where(Container.id == container_id, Node.user_id == user_id)
            )
        ).first()
        if row is None:
            raise NotFound("No such container.")
        return row[0], row[1]

    async def detail(self, user_id: uuid.UUID, container_id: uuid.UUID) -> ContainerDetail:
        container, node = await self.get(user_id, container_id)
        await self.session.commit()  # no connection held while the node answers
        base = f"/nodes/{segment(node.name)}/lxc/{container.vmid}"
        try:
            async with asyncio.timeout(self.settings.inventory_node_timeout_seconds):
                async with self.nodes.client(node) as client:
                    current = await client.get(f"{base}/status/current")
                    config = await client.get(f"{base}/config")
                    interfaces = (
                        await client.get(f"{base}/interfaces")
                        if current.get("status") == "running"
                        else []
                    )
        except ProxmoxNotFound:
            return ContainerDetail(
                container, node, LiveStatus(status="missing"), False, None,
                container.ip_address, "The container does not exist on the node.",
            )  # fmt: skip
        except TimeoutError:
            error = f"no answer within {self.settings.inventory_node_timeout_seconds:g} s"
            return ContainerDetail(
                container, node, LiveStatus(), True, None, container.ip_address, error
            )
        except (ProxmoxError, Conflict) as exc:
            return ContainerDetail(
                container, node, LiveStatus(), True, None, container.ip_address, exc.message
            )
        ip = _first_ipv4(interfaces or []) or container.ip_address
        return ContainerDetail(container, node, _live_from(current), False, config, ip, None)

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
        if container.lifecycle in ("creating", "deleting"):
            raise Conflict(f"The container is {container.lifecycle}; try again when it is done.")
        async with self.locks.hold(container.id, action):
            # A delete may have been accepted between the check above and taking the lock.
            current = await self.session.scalar(
                select(Container.lifecycle).where(Container.id == container.id)
            )
            await self.session.commit()
            if current in ("creating", "deleting", None):
                raise Conflict(f"The container is {current or 'gone'}; the {action} was not run.")
            try:
                async with self.nodes.client(node) as client:
                    outcome = await self._perform(client, node, container, action, shutdown_timeout)
            except ProxmoxError as exc:
                await self._record(user_id, container, action, "failure", exc.message)
                if any(text in exc.message for text in _STATE_CONFLICTS):
                    raise Conflict(exc.message) from None
                raise
            await self._record(user_id, container, action, "success", outcome.message)
        return outcome

    async def _perform(
        self, client: ProxmoxClient, node: Node, container: Container, action: Action,
        shutdown_timeout: int,
    ) -> ActionOutcome:  # fmt: skip
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
            action, forced.upid, forced.exitstatus, forced=True,
            message=f"graceful shutdown failed ({reason}); stopped instead",
        )  # fmt: skip

    async def _run_task(
        self, client: ProxmoxClient, node: Node, path: str, params: dict[str, Any] | None = None
    ) -> TaskResult:
        """POST a task and await it; a task that lost the race for PVE's config lock is run
        again with backoff, any other failure is raised with PVE's exit status."""
        async for attempt in stamina.retry_context(
            on=TaskLockTimeout, attempts=3, wait_initial=0.5, wait_max=5.0
        ):
            with attempt:
                upid = await client.post(path, **(params or {}))
                result = await wait_for_task(
                    client, node.name, upid, limit_seconds=TASK_LIMIT_SECONDS
                )
                if result.ok:
                    return result
                if "can't lock file" in result.exitstatus:
                    raise TaskLockTimeout(result.exitstatus)
                raise ProxmoxError(result.exitstatus)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _record(
        self, user_id: uuid.UUID, container: Container, action: str, outcome: str, message: str
    ) -> None:
        row = await events.append(
            self.session, container.id, "log", f"{action}: {message}", action=action,
            outcome=outcome,
        )  # fmt: skip
        audit.record(
            self.session, user_id=user_id, action=f"container.{action}", target_type="container",
            target_id=container.id, outcome=outcome,  # type: ignore[arg-type]
        )  # fmt: skip
        await self.session.commit()
        await events.publish(self.redis, container.id, [row])

    async def request_delete(self, user_id: uuid.UUID, container_id: uuid.UUID) -> Container:
        """Mark the container `deleting`; the worker does the rest (idempotent)."""
        container, _ = await self.get(user_id, container_id)
        if container.lifecycle == "creating":
            raise Conflict("The container is still being created; try again when it is done.")
        running = await self.locks.holder(container.id)
        if running == "delete":
            return container  # already being deleted: asking again changes nothing
        if running is not None:
            raise Conflict(f"A {running!r} action is running on this container; try again after.")
        if container.lifecycle != "deleting":
            container.lifecycle = "deleting"
            audit.record(
                self.session, user_id=user_id, action="container.delete", target_type="container",
                target_id=container.id, outcome="success", phase="requested",
            )  # fmt: skip
            await self.session.commit()
        return container

    async def delete_now(self, container_id: uuid.UUID) -> str:
        """The worker's half of a delete: stop if running, destroy with purge, forget the row.

        Idempotent: a container already gone on the node (or already forgotten here) counts as
        deleted. Holds the container's action lock (a busy container raises `Conflict`, and the
        job tries again later). Connection problems propagate so the job can be retried; a
        refusal by Proxmox leaves the row in `error` with an `error` event naming the cause.
        """
        row = (
            await self.session.execute(
                select(Container, Node)
                .join(Node, Container.node_id == Node.id)
                .where(Container.id == container_id)
            )
        ).first()
        if row is None:
            return "already deleted"
        container, node = row
        await self.session.commit()  # no connection held during the tasks
        base = f"/nodes/{segment(node.name)}/lxc/{container.vmid}"
        async with self.locks.hold(container_id, "delete"):
            try:
                async with self.nodes.client(node) as client:
                    try:
                        current = await client.get(f"{base}/status/current")
                    except ProxmoxNotFound:
                        current = None
                    if current is not None:
                        if current.get("status") == "running":
                            await self._run_task(client, node, f"{base}/status/stop")
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
            except ProxmoxError as exc:
                await self.mark_delete_failed(container_id, exc.message)
                return f"failed: {exc.message}"
            doomed = await self.session.get(Container, container_id)
            if doomed is not None:
                await self.session.delete(doomed)  # its events go with it (ON DELETE CASCADE)
            audit.record(
                self.session, user_id=container.created_by, action="container.delete",
                target_type="container", target_id=container_id, outcome="success",
                vmid=container.vmid, node=node.name, already_gone=current is None,
            )  # fmt: skip
            await self.session.commit()
        await self.vmids.invalidate(node.id)
        return "deleted"

    async def mark_delete_failed(self, container_id: uuid.UUID, reason: str) -> None:
        """Leave the container in `error`, with an `error` event and an audit row saying why."""
        await self.session.rollback()
        container = await self.session.get(Container, container_id)
        if container is None:
            return
        container.lifecycle = "error"
        failure = await events.append(
            self.session, container.id, "error", f"delete failed: {reason}", action="delete"
        )
        audit.record(
            self.session, user_id=container.created_by, action="container.delete",
            target_type="container", target_id=container.id, outcome="failure",
            reason=reason[:300],
        )  # fmt: skip
        await self.session.commit()
        await events.publish(self.redis, container.id, [failure])
