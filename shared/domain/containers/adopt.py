"""Guests Infrahaus did not build: listing them, and adopting an LXC one as a container record.

"Managed" has one definition, shared with reconciliation and the pipeline: a guest is ours when
its VMID has a container record on this Proxmox node (any user's registration of the same node:
same name, and the same pinned certificate or host:port), or when its description carries
the build marker (`shared.domain.containers.base.build_marker`) of an existing record.
Anything else on the node is unmanaged. Other users' records are never shown: a guest is
only "managed" or listed.

Adoption writes our marker into the guest's description (keeping what was there), so that
reconciliation, retry and delete recognise the guest as this record's from then on.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from shared.adapters.proxmox import (
    ProxmoxClient,
    ProxmoxError,
    ProxmoxNotFound,
    ProxmoxPermissionError,
)
from shared.adapters.proxmox.client import segment
from shared.adapters.proxmox.resources import ClusterGuest, cluster_guests
from shared.core.errors import Conflict, Unprocessable
from shared.core.lifecycle import EventType, Lifecycle
from shared.core.logging import get_logger
from shared.db.models import Container, Node
from shared.domain import audit, events
from shared.domain.containers.base import (
    MARKER_PREFIX,
    ContainerServiceBase,
    build_marker,
    markers_in,
)

log = get_logger(__name__)

# Guests whose config the listing reads at once (two calls each): a node with hundreds of
# unmanaged guests is not asked for all of them in one burst.
_PARALLEL_READS = 8
_MARKERS_PER_QUERY = 1000
# PVE's limit on a guest's description (`description` in the LXC config schema)
_DESCRIPTION_MAX = 8192
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


@dataclass
class UnmanagedGuest:
    vmid: int
    type: str  # lxc | qemu
    name: str | None
    status: str | None
    template: bool
    # why it cannot be adopted as it is (a VM, a template, a lock), None when it can
    adoptable: bool
    reason: str | None


def _same_node(node: Node) -> Any:
    """Registrations of the same Proxmox node by anyone: its name, and its certificate or
    its address."""
    same_host = and_(Node.host == node.host, Node.port == node.port)
    if node.tls_fingerprint:
        same_host = or_(same_host, Node.tls_fingerprint == node.tls_fingerprint)
    return and_(Node.name == node.name, same_host)


def _marked(description: str, container_id: uuid.UUID) -> str:
    """The description with our marker for `container_id` appended, the user's text kept as
    it is; a stale marker line (of a record that no longer exists) is dropped first."""
    if MARKER_PREFIX in description:
        description = "\n".join(
            line for line in description.splitlines() if not line.strip().startswith(MARKER_PREFIX)
        )
    if not description.strip():
        return build_marker(container_id)
    separator = "" if description.endswith("\n") else "\n"
    return f"{description}{separator}{build_marker(container_id)}"


class AdoptionMixin(ContainerServiceBase):
    async def _managed_vmids(self, node: Node) -> set[int]:
        rows = await self.session.scalars(
            select(Container.vmid).join(Node, Container.node_id == Node.id).where(_same_node(node))
        )
        return set(rows)

    async def _is_managed(self, node: Node, vmid: int) -> bool:
        """Whether any registration of this Proxmox node has a record of `vmid`."""
        found = await self.session.scalar(
            select(Container.id)
            .join(Node, Container.node_id == Node.id)
            .where(_same_node(node), Container.vmid == vmid)
            .limit(1)
        )
        return found is not None

    async def _records_exist(self, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Which of `ids` (markers read off guests' descriptions: any number, repeated) are
        records; asked in slices, within the database driver's parameter limit."""
        unique, found = list(dict.fromkeys(ids)), set[uuid.UUID]()
        for start in range(0, len(unique), _MARKERS_PER_QUERY):
            part = unique[start : start + _MARKERS_PER_QUERY]
            found.update(
                await self.session.scalars(select(Container.id).where(Container.id.in_(part)))
            )
        return found

    async def _guests_on(self, client: ProxmoxClient, node: Node) -> dict[int, ClusterGuest]:
        guests = await cluster_guests(client)
        return {vmid: guest for vmid, guest in sorted(guests.items()) if guest.node == node.name}

    async def _lxc_config(self, client: ProxmoxClient, node: Node, vmid: int) -> dict[str, Any]:
        """The guest's config, with its live status under `status` (the listing's status
        lags behind, like pvestatd's cache)."""
        base = f"/nodes/{segment(node.name)}/lxc/{vmid}"
        config, current = await asyncio.gather(
            client.get(f"{base}/config"), client.get(f"{base}/status/current")
        )
        config = dict(config) if isinstance(config, dict) else {}
        if isinstance(current, dict) and current.get("status"):
            config["status"] = current["status"]
        return config

    async def _lxc_config_or_none(
        self, client: ProxmoxClient, node: Node, vmid: int, bound: asyncio.Semaphore
    ) -> dict[str, Any] | None:
        try:
            async with bound:
                return await self._lxc_config(client, node, vmid)
        except (ProxmoxNotFound, ProxmoxPermissionError):
            return None  # gone since the listing, or not readable: not adoptable

    async def unmanaged(self, user_id: uuid.UUID, node_id: uuid.UUID) -> list[UnmanagedGuest]:
        """The node's guests (LXC and QEMU) that no container record stands for, by VMID."""
        node = await self.nodes.get(user_id, node_id)
        managed = await self._managed_vmids(node)
        await self.session.commit()  # no transaction held while the node answers
        async with self.nodes.interactive(node), self.nodes.client(node) as client:
            items = [
                item
                for vmid, item in (await self._guests_on(client, node)).items()
                if vmid not in managed
            ]
            containers = [item.vmid for item in items if item.type == "lxc"]
            bound = asyncio.Semaphore(_PARALLEL_READS)
            configs = await asyncio.gather(
                *(self._lxc_config_or_none(client, node, vmid, bound) for vmid in containers)
            )
        by_vmid = dict(zip(containers, configs, strict=True))
        found = [
            (item, by_vmid.get(item.vmid))
            for item in items
            if item.type != "lxc" or by_vmid.get(item.vmid) is not None
        ]
        ours = await self._records_exist([m for _, c in found for m in markers_in(c)])
        await self.session.commit()
        guests = []
        for item, config in found:
            if config is not None and ours.intersection(markers_in(config)):
                continue  # built by Infrahaus for a record on another registration
            guests.append(self._describe(item, config))
        return guests

    @staticmethod
    def _describe(item: ClusterGuest, config: dict[str, Any] | None) -> UnmanagedGuest:
        kind = item.type
        template = item.template or bool((config or {}).get("template"))
        reason = None
        if kind != "lxc":
            reason = "a QEMU virtual machine: only LXC containers can be adopted"
        elif template:
            reason = "a container template: it cannot be run, so it is not adopted"
        elif (config or {}).get("lock"):
            reason = f"locked ({(config or {}).get('lock')}): try again when its task has ended"
        name = (config or {}).get("hostname") or item.name
        status = (config or {}).get("status") or item.status
        return UnmanagedGuest(
            vmid=item.vmid, type=kind, name=str(name) if name else None,
            status=str(status) if status else None, template=template,
            adoptable=reason is None, reason=reason,
        )  # fmt: skip

    async def adopt(self, user_id: uuid.UUID, node_id: uuid.UUID, vmid: int) -> Container:
        """A container record (`ready`, no template, no build request) for the node's unmanaged
        LXC guest `vmid`; its description gets our marker. 422 (field `vmid`) when the node
        has no such guest, 409 when it is managed already, a VM, a template or locked."""
        node = await self.nodes.get(user_id, node_id)
        node_id, node_name = node.id, node.name
        await self.session.commit()
        # The node is asked first: whether a VMID is managed is said only of a guest the
        # caller's token can see, so the answer never lists other tenants' VMIDs.
        async with self.nodes.interactive(node), self.nodes.client(node) as client:
            item = (await self._guests_on(client, node)).get(vmid)
            config: dict[str, Any] | None = None
            if item is not None and item.type == "lxc":
                try:
                    config = await self._lxc_config(client, node, vmid)
                except ProxmoxNotFound:
                    item = None
            if item is None:
                raise Unprocessable(
                    f"Node {node_name!r} has no guest with VMID {vmid} (or the node's token"
                    " may not see it).",
                    field="vmid",
                )
            guest = self._describe(item, config)
            if await self._is_managed(node, vmid) or await self._records_exist(markers_in(config)):
                raise Conflict(f"VMID {vmid} on {node_name} is already managed by Infrahaus.")
            if not guest.adoptable:
                raise Conflict(f"VMID {vmid} cannot be adopted: it is {guest.reason}.")
            hostname = _hostname(config or {}, vmid)
            container_id = uuid.uuid4()
            description = _marked(str((config or {}).get("description") or ""), container_id)
            if len(description) > _DESCRIPTION_MAX:
                raise Conflict(
                    f"VMID {vmid}'s notes are too long to take Infrahaus' marker (PVE keeps at"
                    f" most {_DESCRIPTION_MAX} characters); shorten them and try again."
                )
            container = Container(
                id=container_id, node_id=node_id, created_by=user_id, vmid=vmid,
                hostname=hostname, template_id=None, template_revision=None,
                lifecycle=Lifecycle.READY.value, build_request=None,
            )  # fmt: skip
            self.session.add(container)
            try:
                await self.session.flush()
            except IntegrityError:  # a concurrent adoption (or create) took the VMID
                await self.session.rollback()
                raise Conflict(
                    f"VMID {vmid} on {node_name} is already managed by Infrahaus."
                ) from None
            await self.session.commit()
            path = f"/nodes/{segment(node_name)}/lxc/{vmid}/config"
            try:
                # `digest`: refused if the config changed since it was read (a concurrent
                # adoption through another registration of this node, a notes edit)
                changes: dict[str, Any] = {"description": description}
                if (config or {}).get("digest"):
                    changes["digest"] = str((config or {})["digest"])
                try:
                    await client.put(path, **changes)
                except ProxmoxError as exc:
                    if "modified configuration" in exc.message:
                        raise Conflict(
                            f"VMID {vmid}'s config changed while it was being adopted; try again."
                        ) from None
                    raise
                # what the guest now says must name this record alone
                if markers_in(await client.get(path)) != [container.id]:
                    raise Conflict(
                        f"VMID {vmid} on {node_name} was taken over by another adoption."
                    )
            except BaseException:
                await self._forget(container.id)
                raise
        audit.record(
            self.session, user_id=user_id, action="container.adopt", target_type="container",
            target_id=container.id, outcome="success", vmid=vmid, node=node_name,
            hostname=hostname, status=guest.status,
        )  # fmt: skip
        staged = await events.stage(
            self.session, container.id,
            [events.EventDraft(
                type=EventType.LOG,
                message=f"Adopted {hostname} (VMID {vmid}, {guest.status or 'status unknown'})"
                f" from {node_name}; it was not built by Infrahaus",
                metadata={"action": "adopt", "lifecycle": Lifecycle.READY.value},
            )],
        )  # fmt: skip
        await self.session.commit()
        await events.publish(self.redis, container.id, staged)
        await self.vmids.invalidate(node_id)
        log.info("adopted a guest", container_id=str(container.id), vmid=vmid, node=node_name)
        return container

    async def _forget(self, container_id: uuid.UUID) -> None:
        """Undo the record of an adoption whose marker could not be written."""
        try:
            await self.session.rollback()
            doomed = await self.session.get(Container, container_id)
            if doomed is not None:
                await self.session.delete(doomed)
            await self.session.commit()
        except Exception:
            log.exception("could not remove a half-done adoption", container_id=str(container_id))


def _hostname(config: dict[str, Any], vmid: int) -> str:
    """The guest's hostname as the record can hold it: its first DNS label, or PVE's own
    default (`CT<vmid>`) when it is unset or not a DNS label (the node's text is not trusted)."""
    label = str(config.get("hostname") or "").split(".", 1)[0]
    return label if _DNS_LABEL.match(label) else f"CT{vmid}"
