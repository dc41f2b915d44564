"""Bodies of the VMID and container routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from services.api.schemas import CamelStruct
from services.api.schemas.templates import (
    BridgeName,
    Cores,
    DiskGb,
    MemoryMb,
    PackageInput,
    SafeFileName,
    StorageId,
    SwapMb,
    Tags,
)
from shared.core.lifecycle import Lifecycle, Phase
from shared.domain.vmids import VMID_MAX, VMID_MIN


class VmidCheck(CamelStruct):
    vmid: int
    status: Literal["available", "taken", "unknown"]
    checked_at: dt.datetime


class VmidRefresh(CamelStruct):
    count: int
    refreshed_at: dt.datetime


class NextVmid(CamelStruct):
    vmid: int


class LiveStatus(CamelStruct):
    status: str | None = None
    cpu: float | None = None
    mem: int | None = None
    maxmem: int | None = None
    disk: int | None = None
    maxdisk: int | None = None
    uptime: int | None = None


class ContainerSummary(CamelStruct):
    id: uuid.UUID
    node_id: uuid.UUID
    node_name: str
    vmid: int
    hostname: str
    lifecycle: Lifecycle
    template_id: uuid.UUID | None
    template_revision: int | None
    ip_address: str | None
    status_unknown: bool
    live: LiveStatus
    created_at: dt.datetime


class NodeError(CamelStruct):
    node_id: uuid.UUID
    node_name: str
    error: str


class ContainerList(CamelStruct):
    items: list[ContainerSummary]
    node_errors: list[NodeError]


class ContainerDetail(ContainerSummary):
    last_completed_phase: Phase | None
    failed_phase: Phase | None
    failure_reason: str | None
    cleanup_on_failure: bool
    config: dict[str, Any] | None
    error: str | None


class ActionResult(CamelStruct):
    action: Literal["start", "stop", "shutdown", "reboot"]
    upid: str
    exit_status: str
    forced: bool
    message: str


class DeleteAccepted(CamelStruct):
    id: uuid.UUID
    lifecycle: Literal["deleting"]


# RFC 1123 label: letters, digits and inner hyphens, at most 63 characters.
Hostname = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$(?!\n)", examples=["web-01"]
    ),
]
Vmid = Annotated[int, msgspec.Meta(ge=VMID_MIN, le=VMID_MAX)]
OsTemplateRef = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}(:vztmpl/[A-Za-z0-9][A-Za-z0-9._+-]{0,200})?$(?!\n)",
        description="A volume id (`local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`) or"
        " the start of a template file name on the node (`debian-12-standard`).",
        examples=["debian-12-standard"],
    ),
]
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"({_OCTET}\.){{3}}{_OCTET}"
IpConfig = Annotated[
    str,
    msgspec.Meta(
        pattern=rf"^(dhcp|{_IPV4}/(8|9|[12][0-9]|3[0-2]))$(?!\n)",
        description="`dhcp`, or a static IPv4 address with its prefix (`192.0.2.10/24`).",
        examples=["dhcp"],
    ),
]
Ipv4 = Annotated[str, msgspec.Meta(pattern=rf"^{_IPV4}$(?!\n)", examples=["192.0.2.1"])]
Nameserver = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9A-Fa-f.:]{2,45}$(?!\n)", examples=["192.0.2.53"])
]
_KEY_TYPE = (
    r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)"
    r"|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
)
# An authorized_keys line: optional options first (`from="..." ssh-ed25519 AAAA... comment`).
SshPublicKey = Annotated[
    str,
    msgspec.Meta(
        pattern=rf"^([^\x00-\x1f\x7f]* )?{_KEY_TYPE} [A-Za-z0-9+/=]+( [^\x00-\x1f\x7f]*)?$(?!\n)",
        max_length=16384,
    ),
]


class ContainerCreate(CamelStruct):
    """A build request. Values left out come from the template, or from defaults without one
    (1 core, 512 MB, 512 MB swap, 8 GB on `local-lvm`, `vmbr0`, unprivileged, no features)."""

    hostname: Hostname
    node_id: uuid.UUID | None = None
    template_id: uuid.UUID | None = None
    os_template: OsTemplateRef | None = None
    vmid: Vmid | None = None
    cores: Cores | None = None
    memory: MemoryMb | None = None
    swap: SwapMb | None = None
    disk_size: DiskGb | None = None
    storage: StorageId | None = None
    bridge: BridgeName | None = None
    ip: IpConfig = "dhcp"
    gateway: Ipv4 | None = None
    nameserver: Nameserver | None = None
    ssh_public_keys: Annotated[list[SshPublicKey], msgspec.Meta(max_length=32)] = msgspec.field(
        default_factory=list
    )
    tags: Tags = msgspec.field(default_factory=list)
    bucket_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    packages: Annotated[list[PackageInput], msgspec.Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )
    scripts: (
        Annotated[
            list[SafeFileName],
            msgspec.Meta(
                max_length=200,
                description="Names of the template's scripts to run; all enabled ones if left out.",
            ),
        ]
        | None
    ) = None
    cleanup_on_failure: Annotated[
        bool,
        msgspec.Meta(description="Destroy the Proxmox container when the build fails."),
    ] = False


class CreateAccepted(CamelStruct):
    id: uuid.UUID
    vmid: int
    lifecycle: Lifecycle
    events_url: str


class BuildState(CamelStruct):
    id: uuid.UUID
    lifecycle: Lifecycle
    last_completed_phase: Phase | None
    cancel_requested: bool


class BuildPreflight(ContainerCreate):
    """A build request to check, as `POST /api/containers` takes it; `hostname` may be left out
    (`{"templateId": ...}` alone is enough), and `nodeId`, if given, must be the path's node."""

    hostname: Hostname | None = None  # type: ignore[assignment]
