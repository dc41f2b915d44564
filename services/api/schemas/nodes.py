"""Bodies of the node routes. Secrets are write-only: responses only say whether one is set."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from services.api.schemas import CamelStruct
from services.api.schemas.common import Fingerprint, Hostname, Port
from shared.domain.vmids import VMID_MAX, VMID_MIN

NodeName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$(?!\n)",
        description="The PVE node name, as in `/nodes/{node}` on the host.",
        examples=["pve"],
    ),
]
TokenId = Annotated[
    str,
    msgspec.Meta(
        max_length=200,
        pattern=r"^[^\x00-\x20\x7f-\x9f@:!/]{1,64}@[A-Za-z][A-Za-z0-9._-]{0,31}![A-Za-z][A-Za-z0-9._-]{0,63}$(?!\n)",
        description="API token id `user@realm!name`.",
        examples=["root@pam!infrahaus"],
    ),
]
TokenSecret = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[\x21-\x7e]{1,256}$(?!\n)",
        description="The API token's secret (write-only).",
        extra_json_schema={"writeOnly": True},
    ),
]
SshUser = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z_][a-z0-9_.-]{0,31}$(?!\n)", examples=["root"])
]
SshPassword = Annotated[
    str,
    msgspec.Meta(
        max_length=1024,
        pattern=r"^[^\x00]*$(?!\n)",
        description='Write-only. On update: omit to keep, `""` to clear.',
        extra_json_schema={"writeOnly": True},
    ),
]
SshPrivateKey = Annotated[
    str,
    msgspec.Meta(
        max_length=16384,
        pattern=r"^[^\x00]*$(?!\n)",
        description='OpenSSH or PEM private key (write-only). On update: omit to keep, `""`'
        " to clear.",
        extra_json_schema={"writeOnly": True},
    ),
]


class NodeCreate(CamelStruct):
    name: NodeName
    host: Hostname
    token_id: TokenId
    token_secret: TokenSecret
    port: Port = 8006
    fingerprint: Fingerprint | None = None
    ssh_user: SshUser | None = None
    ssh_port: Port = 22
    ssh_password: SshPassword | None = None
    ssh_private_key: SshPrivateKey | None = None


class NodeUpdate(CamelStruct):
    """PATCH: only the fields sent change. `tokenSecret` absent keeps the stored one."""

    name: NodeName | msgspec.UnsetType = msgspec.UNSET
    host: Hostname | msgspec.UnsetType = msgspec.UNSET
    port: Port | msgspec.UnsetType = msgspec.UNSET
    token_id: TokenId | msgspec.UnsetType = msgspec.UNSET
    token_secret: TokenSecret | msgspec.UnsetType = msgspec.UNSET
    fingerprint: Fingerprint | msgspec.UnsetType = msgspec.UNSET
    ssh_user: SshUser | msgspec.UnsetType | None = msgspec.UNSET
    ssh_port: Port | msgspec.UnsetType = msgspec.UNSET
    ssh_password: SshPassword | msgspec.UnsetType = msgspec.UNSET
    ssh_private_key: SshPrivateKey | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, object]:
        """Snake-case field names and values of what was sent."""
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not msgspec.UNSET
        }


class NodeRead(CamelStruct):
    id: uuid.UUID
    name: str
    host: str
    port: int
    token_id: str
    has_token_secret: bool
    tls_fingerprint: str | None
    ssh_user: str | None
    ssh_port: int
    has_ssh_password: bool
    has_ssh_private_key: bool
    ssh_host_key_fingerprint: str | None
    is_default: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ConnectionTest(CamelStruct):
    ok: bool
    pve_version: str | None = None
    latency_ms: float | None = None
    error: str | None = None


class Storage(CamelStruct, forbid_unknown_fields=False):
    storage: str
    type: str = ""
    content: str = ""
    active: bool | None = None
    total: int | None = None
    used: int | None = None
    avail: int | None = None


class Bridge(CamelStruct, forbid_unknown_fields=False):
    iface: str
    type: str = ""
    active: bool | None = None
    cidr: str | None = None
    comments: str | None = None


class OsTemplate(CamelStruct, forbid_unknown_fields=False):
    volid: str
    size: int | None = None
    format: str | None = None


class ContainerDrift(CamelStruct):
    """A container whose record and the node disagreed, and why."""

    container_id: uuid.UUID
    vmid: int
    hostname: str
    reason: str


class ReconcileResult(CamelStruct):
    """What a reconciliation of the node found and changed."""

    node_id: uuid.UUID
    # containers compared (ready, error and missing ones: builds and deletes are in flux)
    checked: int
    # now `missing`: their VMID is gone from the node, or holds another guest
    missing: list[ContainerDrift]
    # `missing` before, back to what they were (`ready`, or `error`): their guest is back
    restored: list[ContainerDrift]
    # their guest is on another node of the cluster (migrated): never `missing`; the record
    # moved to your registration of that node, or the reason says why it stayed
    migrated: list[ContainerDrift]


class UnmanagedGuestRead(CamelStruct):
    """A guest on the node that no container record stands for."""

    vmid: int
    type: Literal["lxc", "qemu"]
    name: str | None
    status: str | None
    template: bool
    # false with `reason` for a VM, a container template or a locked guest
    adoptable: bool
    reason: str | None


class AdoptRequest(CamelStruct):
    vmid: Annotated[int, msgspec.Meta(ge=VMID_MIN, le=VMID_MAX)]


class PreflightProblem(CamelStruct):
    """One reason the build would fail: `field` is the request field that leads to it
    (`templateId` for what only the template sets); `path` and `privilege` name a missing
    Proxmox privilege (`A|B`: any one of them would do)."""

    code: Literal[
        "privilege_missing",
        "bridge_not_permitted",
        "bridge_unknown",
        "root_only_feature",
        "storage_unknown",
        "storage_no_rootdir",
        "os_template_missing",
        "vmid_taken",
    ]
    field: str | None
    message: str
    path: str | None = None
    privilege: str | None = None


class PreflightResult(CamelStruct):
    ok: bool
    vmid: int | None  # the VMID the checks were made for (the next free one when not given)
    problems: list[PreflightProblem]
