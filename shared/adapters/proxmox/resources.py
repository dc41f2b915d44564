"""The cluster's guests, as `GET /cluster/resources?type=vm` lists them: parsed in one place.

The listing spans every node of the cluster (a VMID is unique cluster-wide) and holds only what
the token may see. Its status lags behind the guest (pvestatd's cache); read
`.../status/current` where that matters.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.adapters.proxmox.client import ProxmoxClient
from shared.adapters.proxmox.errors import ProxmoxError
from shared.core.logging import get_logger

log = get_logger(__name__)


class ClusterGuest(msgspec.Struct, frozen=True):
    vmid: int
    node: str
    type: str  # lxc | qemu
    name: str | None = None
    status: str | None = None
    template: bool = False


class _Identity(msgspec.Struct):
    # what a guest is known by; `vmid` and `node` are optional in the schema (other resource
    # types lack them). The descriptive fields are read leniently below: PVE's JSON encoder
    # sends an all-digit name as a number.
    type: str
    vmid: int | None = None
    node: str | None = None


def guests_from(listing: Any) -> dict[int, ClusterGuest]:
    """The LXC and QEMU guests of a `/cluster/resources` answer, by VMID. An answer that is
    not a list is the node's error; an entry without a usable VMID, node and type is left
    out (and logged), not the whole answer."""
    if not isinstance(listing, list):
        raise ProxmoxError("the node sent an answer of an unexpected shape: /cluster/resources")
    guests = {}
    for raw in listing:
        try:
            found = msgspec.convert(raw, _Identity, strict=False)
        except msgspec.ValidationError as exc:
            log.warning("a /cluster/resources entry was left out", error=str(exc)[:200])
            continue
        if found.vmid is None or not found.node or found.type not in ("lxc", "qemu"):
            continue
        name, status = raw.get("name"), raw.get("status")
        guests[found.vmid] = ClusterGuest(
            found.vmid, found.node, found.type,
            name=str(name) if name not in (None, "") else None,
            status=str(status) if status not in (None, "") else None,
            template=raw.get("template") in (1, True, "1"),
        )  # fmt: skip
    return guests


async def cluster_guests(client: ProxmoxClient) -> dict[int, ClusterGuest]:
    """Every guest of the cluster the token may see, by VMID (`guests_from`)."""
    return guests_from(await client.get("/cluster/resources", type="vm"))
