"""Phase 1: create the container on Proxmox (`POST /nodes/{node}/lxc`) and await the task.

Idempotent: the create call carries a marker in the container's description. When a re-run
(a crashed worker, a retry) finds the VMID taken by a container with our marker, that is our
own container from the earlier run: nothing is created twice.
"""

from __future__ import annotations

import secrets

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from services.worker.pipeline.build import Build, BuildFailed
from shared.adapters.proxmox import NodeFailure, ProxmoxNotFound, ProxmoxPermissionError
from shared.adapters.proxmox.client import segment
from shared.adapters.proxmox.resources import cluster_guests
from shared.adapters.proxmox.tasks import TASK_LIMIT_SECONDS, wait_for_task
from shared.core.lifecycle import Phase
from shared.db.models import Container
from shared.domain.containers.base import built_by_us

# How often a create whose VMID was taken meanwhile (automatic allocation) moves on.
_TAKEN_VMID_TRIES = 5


def create_parameters(build: Build) -> dict[str, object]:
    plan = build.plan
    assert plan is not None
    request = build.request
    net0 = f"name=eth0,bridge={plan.bridge},ip={request.ip}"
    if request.gateway:
        net0 += f",gw={request.gateway}"
    features = [name for name in ("nesting", "keyctl", "fuse") if getattr(plan, name)]
    params: dict[str, object] = {
        "vmid": build.container.vmid,
        "ostemplate": plan.os_template,
        "hostname": plan.hostname,
        "cores": plan.cores,
        "memory": plan.memory,
        "swap": plan.swap,
        "rootfs": f"{plan.storage}:{plan.disk_size}",
        "net0": net0,
        "unprivileged": int(plan.unprivileged),
        "onboot": 1,
        "description": build.marker,
        # Required by PVE, never stored or shown: access goes through `pct exec` as root.
        "password": secrets.token_urlsafe(24),
    }
    if features:
        params["features"] = ",".join(f"{name}=1" for name in features)
    if plan.tags:
        params["tags"] = ";".join(plan.tags)
    if request.nameserver:
        params["nameserver"] = request.nameserver
    if request.ssh_public_keys:
        params["ssh-public-keys"] = "\n".join(request.ssh_public_keys) + "\n"
    return params


def feature_advice(build: Build, refusal: str) -> str:
    plan = build.plan
    assert plan is not None
    flags = [name for name in ("keyctl", "fuse") if getattr(plan, name)]
    if "privileged" in refusal:
        what = "a privileged container with feature flags"
        change = "make the template unprivileged, or drop its feature flags"
    else:
        what = "/".join(flags) or "feature flags other than nesting"
        change = f"drop {what} from the template"
    return (
        f"Proxmox lets only root@pam set {what}; an API token never can ({refusal}). Either"
        f" {change} and retry, or create the container as root on the node (`pct create ..."
        " --features ...`) and adopt it."
    )


async def run(build: Build) -> None:
    await build.step(f"Creating container {build.container.vmid} on {build.node.name}")
    for _ in range(_TAKEN_VMID_TRIES):
        if await _owned_container_exists(build):
            await build.log(
                "The container already exists from an earlier run; not creating it again"
            )
            break
        try:
            upid = await build.client.post(
                f"/nodes/{segment(build.node.name)}/lxc", **create_parameters(build)
            )
        except ProxmoxPermissionError as exc:
            if "feature flags" in exc.message:
                raise BuildFailed(feature_advice(build, exc.message)) from None
            raise BuildFailed(f"Proxmox refused the create: {exc.message}") from None
        except NodeFailure as exc:
            if "already exists" not in exc.message:
                raise
            await _take_another_vmid(build, exc.message)
            continue
        await build.step("Waiting for the create task", 0.3, upid=upid)
        result = await wait_for_task(
            build.client, build.node.name, upid, limit_seconds=TASK_LIMIT_SECONDS
        )
        if not result.ok:
            tail = " | ".join(result.log_tail[-3:])
            raise BuildFailed(
                f"the create task failed: {result.exitstatus}" + (f" ({tail})" if tail else "")
            )
        break
    else:
        raise BuildFailed("could not find a free VMID: every candidate was taken meanwhile")
    await build.vmids_changed()
    await build.checkpoint(Phase.CREATING, "Container created")


async def _owned_container_exists(build: Build) -> bool:
    """True when the VMID holds the container an earlier run of this build created.

    While a create task runs, PVE's config holds only `lock: create` (no description yet), so
    a re-run first waits for that task to end, then looks for our marker."""
    path = f"{build.lxc_path}/config"
    try:
        config = await build.client.get(path)
        if config.get("lock") == "create":
            await build.wait_unlocked()
            config = await build.client.get(path)
    except ProxmoxNotFound:  # none there, or the earlier create failed and removed it
        return False
    return built_by_us(config, build.container.id)


async def _take_another_vmid(build: Build, refusal: str) -> None:
    """The VMID is someone else's guest: with automatic allocation take the next free one,
    otherwise the build cannot go on."""
    if not build.request.vmid_auto:
        raise BuildFailed(f"VMID {build.container.vmid} is taken on the cluster ({refusal})")
    await build.log(f"VMID {build.container.vmid} was taken meanwhile; taking the next free one")
    taken = set(await cluster_guests(build.client))
    candidate = build.container.vmid + 1
    while candidate in taken:
        candidate += 1
    try:
        await build.session.execute(
            update(Container).where(Container.id == build.container.id).values(vmid=candidate)
        )
        await build.session.commit()
    except IntegrityError:
        await build.session.rollback()
        raise BuildFailed(f"VMID {candidate} is reserved by another of our containers") from None
    build.container.vmid = candidate
