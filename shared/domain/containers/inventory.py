"""VMIDs, the inventory across nodes, and one container's detail."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, or_, select

from shared.adapters.proxmox import NodeFailure, ProxmoxNotFound
from shared.adapters.proxmox.client import segment
from shared.adapters.proxmox.resources import cluster_guests
from shared.core.errors import Conflict
from shared.core.lifecycle import Lifecycle
from shared.core.logging import get_logger
from shared.db.models import Container, Node
from shared.domain.containers.base import ContainerServiceBase
from shared.domain.vmids import lowest_free

log = get_logger(__name__)


@dataclass
class GuestStatus:
    """The guest as its node reports it now (the API answers it as `LiveStatus`)."""

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
    live: GuestStatus
    status_unknown: bool


@dataclass
class UnreachableNode:
    """A node the inventory could not ask, and why (the API's `NodeError`)."""

    node_id: uuid.UUID
    node_name: str
    error: str


@dataclass
class Inventory:
    items: list[InventoryItem] = field(default_factory=list)
    node_errors: list[UnreachableNode] = field(default_factory=list)


@dataclass
class ContainerView:
    """One container: its row, its node, and what the node says of it now (the API's
    `ContainerDetail`)."""

    container: Container
    node: Node
    live: GuestStatus
    status_unknown: bool
    config: dict[str, Any] | None
    ip_address: str | None
    error: str | None


def _reported(value: Any, kind: type[int] | type[float]) -> Any:
    """A number a node reported, as `kind`; None for anything else (a string, NaN, a bool):
    one odd guest must never fail the list it is in."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if kind is int else number


def _live_from(item: dict[str, Any]) -> GuestStatus:
    return GuestStatus(
        status=str(item.get("status") or "unknown"),
        cpu=_reported(item.get("cpu"), float),
        mem=_reported(item.get("mem"), int),
        maxmem=_reported(item.get("maxmem"), int),
        disk=_reported(item.get("disk"), int),
        maxdisk=_reported(item.get("maxdisk"), int),
        uptime=_reported(item.get("uptime"), int),
    )


def _first_ipv4(interfaces: Sequence[dict[str, Any]]) -> str | None:
    for interface in interfaces:
        if interface.get("name") == "lo":
            continue
        address = interface.get("inet")
        if address:
            return str(address).split("/")[0]
    return None


class InventoryMixin(ContainerServiceBase):
    # -- VMIDs -----------------------------------------------------------------------------

    async def refresh_vmids(self, user_id: uuid.UUID, node_id: uuid.UUID) -> int:
        """Every guest id of the node's cluster (LXC and QEMU) plus the ids our rows reserve."""
        node = await self.nodes.get_and_end_transaction(user_id, node_id)
        async with self.nodes.interactive(node), self.nodes.client(node) as client:
            taken = set(await cluster_guests(client))
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
                # autoescape: `%` and `_` in the text match themselves, not any characters.
                query = query.where(
                    or_(
                        Container.hostname.icontains(text, autoescape=True),
                        cast(Container.vmid, String).contains(text, autoescape=True),
                    )
                )
            containers = list(await self.session.execute(query)) if nodes else []
            await self.session.commit()  # no connection held while the nodes answer
        finally:
            results = await asyncio.gather(*asking)
        live_by_node: dict[uuid.UUID, dict[int, GuestStatus] | None] = {}
        inventory = Inventory()
        for node, result in zip(nodes.values(), results, strict=True):
            if isinstance(result, str):
                live_by_node[node.id] = None
                inventory.node_errors.append(UnreachableNode(node.id, node.name, result))
            else:
                live_by_node[node.id] = result
        for container in sorted(containers, key=lambda c: (nodes[c.node_id].name, c.vmid)):
            node = nodes[container.node_id]
            live = live_by_node[node.id]
            if live is None:
                item = InventoryItem(container, node, GuestStatus(), status_unknown=True)
            else:
                status = live.get(container.vmid, GuestStatus(status="missing"))
                item = InventoryItem(container, node, status, status_unknown=False)
            inventory.items.append(item)
        return inventory

    async def _live_list(self, node: Node) -> dict[int, GuestStatus] | str:
        """The node's containers by VMID, or the reason it could not be asked."""
        try:
            async with asyncio.timeout(self.settings.inventory_node_timeout_seconds):
                async with self.nodes.client(node) as client:
                    data = await client.get(f"/nodes/{segment(node.name)}/lxc")
        except TimeoutError:
            return f"no answer within {self.settings.inventory_node_timeout_seconds:g} s"
        except (NodeFailure, Conflict) as exc:
            return exc.message
        except Exception as exc:  # one odd node must never fail the whole list
            log.exception("inventory: node failed unexpectedly", node=node.name)
            return f"unexpected error ({type(exc).__name__})"
        return {
            int(item["vmid"]): _live_from(item)
            for item in data or []
            if isinstance(item, dict) and str(item.get("vmid", "")).isdigit()
        }

    async def detail(self, user_id: uuid.UUID, container_id: uuid.UUID) -> ContainerView:
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
            return ContainerView(
                container,
                node,
                GuestStatus(status="missing"),
                False,
                None,
                container.ip_address,
                "The container does not exist on the node.",
            )
        except TimeoutError:
            error = f"no answer within {self.settings.inventory_node_timeout_seconds:g} s"
            return ContainerView(
                container, node, GuestStatus(), True, None, container.ip_address, error
            )
        except (NodeFailure, Conflict) as exc:
            return ContainerView(
                container, node, GuestStatus(), True, None, container.ip_address, exc.message
            )
        ip = _first_ipv4(interfaces or []) or container.ip_address
        return ContainerView(container, node, _live_from(current), False, config, ip, None)
