"""The cluster's guests, as `GET /cluster/resources?type=vm` lists them: parsed in one place.

The listing spans every node of the cluster (a VMID is unique cluster-wide) and holds only what
the token may see. Its status lags behind the guest (pvestatd's cache); read
`.../status/current` where that matters.
"""

from __future__ import annotations

import msgspec

from shared.adapters.proxmox.client import ProxmoxClient, typed


class ClusterGuest(msgspec.Struct, frozen=True):
    vmid: int
    node: str
    type: str  # lxc | qemu
    name: str | None = None
    status: str | None = None
    template: bool = False


class _Resource(msgspec.Struct):
    # `vmid` and `node` are optional in the schema (other resource types lack them)
    type: str
    vmid: int | None = None
    node: str | None = None
    name: str | None = None
    status: str | None = None
    template: bool = False


async def cluster_guests(client: ProxmoxClient) -> dict[int, ClusterGuest]:
    """Every guest of the cluster the token may see, by VMID. An answer of another shape is
    the node's error (`ProxmoxError`), never a silently shorter list."""
    listed = typed(await client.get("/cluster/resources", type="vm") or [], list[_Resource])
    guests = {}
    for item in listed:
        if item.vmid is None or item.node is None or item.type not in ("lxc", "qemu"):
            continue
        guests[item.vmid] = ClusterGuest(
            item.vmid, item.node, item.type, item.name, item.status, item.template
        )
    return guests
