"""Permission preflight: what a build on a node would fail on, and why, before it is queued.

The checks are those `pct create` (pve-container's `create_vm` and
`check_ct_modify_config_perm`) makes for the parameters our pipeline sends
(`services/worker/pipeline/creating.py: create_parameters`), plus what the build needs after
the create (start it, read its status). Privileges come from the node's own answer,
`GET /access/permissions?path=...` for each ACL path the build touches, so pools, propagation
and privilege separation are the node's to compute, not ours. The node's storages, bridges and
OS templates are read as the creation forms read them.

`POST /api/nodes/{id}/preflight` answers the findings; `POST /api/containers` refuses with a
422 whose `errors` are the same findings (`PreflightFailed`), before anything is stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.adapters.proxmox import ProxmoxClient, ProxmoxPermissionError
from shared.adapters.proxmox.client import segment
from shared.core.errors import Unprocessable
from shared.db.models import Node, Template
from shared.domain.containers.base import ContainerServiceBase
from shared.domain.containers.creation import (
    BuildOptions,
    CreateInput,
)
from shared.domain.templates.specs import settings_of
from shared.domain.vmids import VMID_MIN

# What a token can never set, whatever its ACLs: PVE checks `$authuser eq 'root@pam'`.
ROOT_ONLY_FEATURES = ("keyctl", "fuse")


@dataclass(frozen=True)
class Finding:
    """One reason the build would fail. `field` is the camelCase request field that leads to
    it (`templateId` for what only the template sets), `path`/`privilege` for a missing
    privilege (`A|B`: any one of them)."""

    code: str
    field: str | None
    message: str
    path: str | None = None
    privilege: str | None = None


class PreflightFailed(Unprocessable):
    """POST /api/containers' refusal: a 422 whose `errors` are the findings."""

    def __init__(self, findings: list[Finding]) -> None:
        more = f" (and {len(findings) - 1} more; see errors)" if len(findings) > 1 else ""
        super().__init__(
            f"The node would refuse this build: {findings[0].message}{more}",
            field=findings[0].field,
        )
        self.findings = findings

    def field_errors(self) -> list[tuple[str | None, str]]:
        return [(f.field, f.message) for f in self.findings]


@dataclass
class Planned:
    """The values the build sends: the request's, else the template's, else the default."""

    cores: int
    memory: int
    swap: int
    disk_size: int
    storage: str
    bridge: str
    unprivileged: bool
    features: list[str]
    tags: list[str] = field(default_factory=list)


def planned(settings: Mapping[str, Any] | None, data: BuildOptions) -> Planned:
    """`settings`: the template's (`TemplateSpec.settings`, column names), None without one.
    The one place the defaults live; the worker's `Build.resolve` uses it too."""

    def setting(name: str, default: Any) -> Any:
        return settings.get(name, default) if settings is not None else default

    def pick(name: str, default: Any) -> Any:
        asked = getattr(data, name)
        return asked if asked is not None else setting(name, default)

    return Planned(
        cores=pick("cores", 1),
        memory=pick("memory", 512),
        swap=pick("swap", 512),
        disk_size=data.disk_size or setting("disk", 8),
        storage=pick("storage", "local-lvm"),
        bridge=pick("bridge", "vmbr0"),
        unprivileged=setting("unprivileged", True),
        features=[name for name in ("nesting", "keyctl", "fuse") if setting(name, False)],
        tags=list(dict.fromkeys([*setting("tags", ()), *data.tags])),
    )


@dataclass(frozen=True)
class _Need:
    field: str | None
    path: str
    privileges: tuple[str, ...]  # any one of them
    why: str
    code: str = "privilege_missing"


def _needs(plan: Planned, data: CreateInput, vmid: int, os_volume: str | None) -> list[_Need]:
    """The privileges `create_vm` checks for our parameters, in its order, then the build's."""
    vm = f"/vms/{vmid}"
    needs = []
    if not plan.unprivileged:
        needs.append(_Need("templateId", "/", ("Sys.Modify",), "a privileged container"))
    needs += [
        _Need("vmid", vm, ("VM.Allocate",), "creating a container"),
        _Need("hostname", vm, ("VM.Config.Network",), "setting its hostname"),
        _Need("cores", vm, ("VM.Config.CPU",), "setting its CPU cores"),
        _Need("memory", vm, ("VM.Config.Memory",), "setting its memory and swap"),
        _Need("diskSize", vm, ("VM.Config.Disk",), "creating its root disk"),
        _Need(
            "storage", f"/storage/{plan.storage}", ("Datastore.AllocateSpace",),
            f"allocating its root disk on storage {plan.storage!r}",
        ),
        _Need("bridge", vm, ("VM.Config.Network",), "configuring its network interface"),
        _Need(
            "bridge", f"/sdn/zones/localnetwork/{plan.bridge}", ("SDN.Use",),
            f"attaching it to bridge {plan.bridge!r}", "bridge_not_permitted",
        ),
        _Need(None, vm, ("VM.Config.Options",), "setting start-at-boot and its description"),
    ]  # fmt: skip
    if plan.tags:
        needs.append(_Need("tags", vm, ("VM.Config.Options",), "setting its tags"))
    if data.nameserver:
        needs.append(_Need("nameserver", vm, ("VM.Config.Network",), "setting its nameserver"))
    if os_volume is not None:
        storage = os_volume.partition(":")[0]
        needs.append(
            _Need(
                "osTemplate", f"/storage/{storage}",
                ("Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit"),
                f"reading the OS template on storage {storage!r}",
            )
        )  # fmt: skip
    needs += [
        _Need(None, vm, ("VM.PowerMgmt",), "starting it after the create"),
        _Need(None, vm, ("VM.Audit",), "reading its status and config during the build"),
    ]
    unique: dict[tuple[str, tuple[str, ...]], _Need] = {}
    for need in needs:
        unique.setdefault((need.path, need.privileges), need)
    return list(unique.values())


def feature_findings(plan: Planned, token_id: str) -> list[Finding]:
    """`check_ct_modify_config_perm` on `features`: root@pam only, except nesting on an
    unprivileged container (which needs VM.Allocate, checked anyway). An API token is never
    root@pam, whatever its user."""
    if not plan.features:
        return []
    flags = "/".join(plan.features)
    advice = (
        " Either change the template, or create the container as root on the node"
        " (`pct create ... --features ...`) and adopt it (POST /api/nodes/{id}/adopt)."
    )
    if not plan.unprivileged:
        return [
            Finding(
                "root_only_feature", "templateId",
                f"Proxmox lets only root@pam set feature flags ({flags}) on a privileged"
                f" container; the node's token {token_id} cannot.{advice}",
            )
        ]  # fmt: skip
    root_only = [name for name in plan.features if name in ROOT_ONLY_FEATURES]
    if not root_only:
        return []
    return [
        Finding(
            "root_only_feature", "templateId",
            f"Proxmox lets only root@pam set {'/'.join(root_only)} (every feature flag except"
            f" nesting); the node's token {token_id} cannot.{advice}",
        )
    ]  # fmt: skip


class PreflightMixin(ContainerServiceBase):
    if TYPE_CHECKING:  # defined by CreationMixin and InventoryMixin, its siblings

        async def next_vmid(self, user_id: uuid.UUID, node_id: uuid.UUID, start: int) -> int: ...
        async def refresh_vmids(self, user_id: uuid.UUID, node_id: uuid.UUID) -> int: ...
        async def _resolve_os_template(
            self, user_id: uuid.UUID, node: Node, wanted: str
        ) -> str: ...
        async def checked_request(self, data: CreateInput) -> tuple[Template | None, str]: ...

    async def preflight(
        self, user_id: uuid.UUID, node_id: uuid.UUID, data: CreateInput
    ) -> tuple[int, list[Finding]]:
        """The VMID checked (the next free one when `data` has none) and every finding for
        building `data` on the node (empty: nothing the node would refuse). Input that is
        wrong whatever the node says is refused as POST /api/containers refuses it
        (`checked_request`)."""
        node = await self.nodes.get(user_id, node_id)
        if data.node_id is not None and data.node_id != node.id:
            raise Unprocessable("nodeId must be this node (or be left out).", field="nodeId")
        template, wanted_os = await self.checked_request(data)
        findings: list[Finding] = []
        os_volume = None
        try:
            os_volume = await self._resolve_os_template(user_id, node, wanted_os)
        except Unprocessable as exc:
            findings.append(Finding("os_template_missing", "osTemplate", exc.message))
        if data.vmid is not None:
            status = await self.vmids.check(node.id, user_id, data.vmid)
            if status is None:
                await self.refresh_vmids(user_id, node.id)
                status = await self.vmids.check(node.id, user_id, data.vmid)
            if status == "taken":
                findings.append(
                    Finding(
                        "vmid_taken", "vmid",
                        f"VMID {data.vmid} is already taken on {node.name}'s cluster.",
                    )
                )  # fmt: skip
        vmid = data.vmid or await self.next_vmid(user_id, node.id, VMID_MIN)
        findings += await self.node_findings(node, template, data, os_volume, vmid)
        return vmid, findings

    async def refuse_unbuildable(
        self, user_id: uuid.UUID, node: Node, template: Template | None, data: CreateInput,
        os_volume: str,
    ) -> None:  # fmt: skip
        """POST /api/containers' preflight (its OS template and VMID are checked already)."""
        vmid = data.vmid or await self.next_vmid(user_id, node.id, VMID_MIN)
        findings = await self.node_findings(node, template, data, os_volume, vmid)
        if findings:
            raise PreflightFailed(findings)

    async def node_findings(
        self, node: Node, template: Template | None, data: CreateInput,
        os_volume: str | None, vmid: int,
    ) -> list[Finding]:  # fmt: skip
        plan = planned(_settings_of(template), data)
        needs = _needs(plan, data, vmid, os_volume)
        paths = sorted({need.path for need in needs})
        async with self.nodes.interactive(node), self.nodes.client(node) as client:
            granted, storages, bridges = await asyncio.gather(
                asyncio.gather(*(_privileges(client, path) for path in paths)),
                _listing(client, f"/nodes/{segment(node.name)}/storage", enabled=1),
                _listing(client, f"/nodes/{segment(node.name)}/network", type="any_bridge"),
            )
        held = dict(zip(paths, granted, strict=True))
        findings = feature_findings(plan, node.token_id)
        findings += _storage_findings(plan, node, storages)
        if bridges is not None and plan.bridge not in {b.get("iface") for b in bridges}:
            findings.append(
                Finding(
                    "bridge_unknown", "bridge",
                    f"Node {node.name!r} has no bridge {plan.bridge!r} (it has:"
                    f" {', '.join(sorted(str(b.get('iface')) for b in bridges)) or 'none'}).",
                )
            )  # fmt: skip
        for need in needs:
            if any(p in held[need.path] for p in need.privileges):
                continue
            privilege = "|".join(need.privileges)
            findings.append(
                Finding(
                    need.code, need.field,
                    f"The node's token {node.token_id} lacks {privilege} on {need.path},"
                    f" needed for {need.why}.",
                    path=need.path, privilege=privilege,
                )
            )  # fmt: skip
        return findings


def _settings_of(template: Template | None) -> dict[str, Any] | None:
    return None if template is None else settings_of(template)


def _storage_findings(
    plan: Planned, node: Node, storages: list[dict[str, Any]] | None
) -> list[Finding]:
    if storages is None:  # the token may not list them: the privilege findings say more
        return []
    found = {str(s.get("storage")): s for s in storages}
    storage = found.get(plan.storage)
    if storage is None:
        return [
            Finding(
                "storage_unknown", "storage",
                f"Node {node.name!r} has no enabled storage {plan.storage!r} the token can see"
                f" (it has: {', '.join(sorted(found)) or 'none'}).",
            )
        ]  # fmt: skip
    if "rootdir" not in str(storage.get("content") or "").split(","):
        return [
            Finding(
                "storage_no_rootdir", "storage",
                f"storage {plan.storage!r} does not support container directories (its content"
                f" is {storage.get('content') or 'empty'}; it needs `rootdir`).",
            )
        ]  # fmt: skip
    return []


async def _privileges(client: ProxmoxClient, path: str) -> set[str]:
    """The token's privileges on `path`, as the node computes them."""
    tree = await client.request("GET", "/access/permissions", params={"path": path})
    held = (tree or {}).get(path) if isinstance(tree, dict) else None
    return set(held) if isinstance(held, dict) else set()


async def _listing(client: ProxmoxClient, path: str, **params: Any) -> list[dict[str, Any]] | None:
    try:
        data = await client.get(path, **params)
    except ProxmoxPermissionError:
        return None
    return [item for item in data or [] if isinstance(item, dict)]
