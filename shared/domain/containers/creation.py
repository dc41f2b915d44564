"""Creating a container: the API's half (checks, the row, the job), retry and cancel.

The worker's half, the five phases, lives in `services/worker/pipeline`. What a build was asked
to do is stored on the row (`build_request`), so a retry or a resumed job runs the same request;
the template itself is read again at every run, so fixing a template and retrying works.
"""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from typing import TYPE_CHECKING, Any

import asyncssh
import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shared.core.errors import Conflict, NotFound, Unprocessable
from shared.core.lifecycle import EventType, Lifecycle, Phase, transition
from shared.db.models import Container, Node, Template, TemplateScript
from shared.domain import audit, events
from shared.domain.containers.base import ContainerServiceBase
from shared.domain.templates.service import bucket_packages
from shared.domain.templates.specs import PackageSpec
from shared.domain.vmids import VMID_MIN

# How often a create whose auto-allocated VMID was taken meanwhile tries the next one.
_ALLOCATION_TRIES = 5
_CANCEL_FLAG_SECONDS = 86400


def cancel_key(container_id: uuid.UUID) -> str:
    return f"cancel:container:{container_id}"


class PackageWanted(msgspec.Struct, frozen=True):
    manager: str
    name: str
    version: str | None = None

    def spec(self) -> PackageSpec:
        return PackageSpec(name=self.name, manager=self.manager, version=self.version)


class BuildOptions(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a build may be asked for beyond its identity. `None` means "the template's value"
    (or the default without a template): the worker resolves them at run time, from the
    template as it is then. Defined once: the create input and the stored request share it."""

    cores: int | None = None
    memory: int | None = None
    swap: int | None = None
    disk_size: int | None = None
    storage: str | None = None
    bridge: str | None = None
    ip: str = "dhcp"
    gateway: str | None = None
    nameserver: str | None = None
    ssh_public_keys: list[str] = msgspec.field(default_factory=list)
    tags: list[str] = msgspec.field(default_factory=list)
    bucket_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    packages: list[PackageWanted] = msgspec.field(default_factory=list)
    # Names of the template's scripts to run; None runs every enabled one.
    scripts: list[str] | None = None


class BuildRequest(BuildOptions, kw_only=True, omit_defaults=True):
    """The request as stored on the row (`build_request`): what `retry` runs again."""

    os_template: str  # a volume id, resolved on the node when the request was made
    template_id: uuid.UUID | None = None
    vmid_auto: bool = False


class CreateInput(BuildOptions, kw_only=True):
    """The API's create body, already shape-checked at the edge (see the route's schema)."""

    hostname: str
    node_id: uuid.UUID | None = None
    template_id: uuid.UUID | None = None
    os_template: str | None = None
    vmid: int | None = None
    cleanup_on_failure: bool = False

    def options(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in BuildOptions.__struct_fields__}


def build_request_of(container: Container) -> BuildRequest:
    if container.build_request is None:
        raise Conflict("This container was not built by Infrahaus; there is no build to run.")
    return msgspec.convert(container.build_request, BuildRequest)


def check_network(ip: str, gateway: str | None) -> None:
    """`dhcp`, or an IPv4 interface with a prefix of 8-32 and a gateway inside it."""
    if ip == "dhcp":
        if gateway is not None:
            raise Unprocessable("A gateway needs a static ip, not dhcp.", field="gateway")
        return
    try:
        interface = ipaddress.IPv4Interface(ip)
    except ValueError:
        raise Unprocessable(f"{ip!r} is not an IPv4 address with a prefix.", field="ip") from None
    if not 8 <= interface.network.prefixlen <= 32:
        raise Unprocessable("The prefix length must be between 8 and 32.", field="ip")
    if gateway is not None:
        try:
            inside = ipaddress.IPv4Address(gateway) in interface.network
        except ValueError:
            raise Unprocessable(f"{gateway!r} is not an IPv4 address.", field="gateway") from None
        if not inside:
            raise Unprocessable("The gateway is outside the ip's network.", field="gateway")


def check_ssh_public_keys(keys: list[str]) -> None:
    """Each key must be a readable authorized_keys line, as PVE checks it (`ssh-keygen -l`):
    the edge's pattern only checks the shape, and a key PVE refuses would fail the build."""
    for index, key in enumerate(keys):
        try:
            readable = bool(asyncssh.import_authorized_keys(key))
        except (asyncssh.KeyImportError, ValueError):
            readable = False
        if not readable:
            raise Unprocessable(
                f"SSH public key {index + 1} is not a readable public key.",
                field=f"sshPublicKeys[{index}]",
            )


class CreationMixin(ContainerServiceBase):
    if TYPE_CHECKING:  # defined by InventoryMixin, its sibling in ContainerService

        async def next_vmid(self, user_id: uuid.UUID, node_id: uuid.UUID, start: int) -> int: ...

        # PreflightMixin's: the node's permissions, storages, bridges (a 422 naming each)
        async def refuse_unbuildable(
            self, user_id: uuid.UUID, node: Node, template: Template | None,
            data: CreateInput, os_volume: str,
        ) -> None: ...  # fmt: skip

    async def request_create(
        self, user_id: uuid.UUID, data: CreateInput, request_id: str | None = None
    ) -> Container:
        """Check what only the server can check, then store the row as `creating`.

        The caller enqueues the build after this returns
        (`shared.adapters.queue.enqueue_create`); the reconciler enqueues it if that enqueue is
        lost."""
        node = await self._target_node(user_id, data.node_id)
        node_id, node_name = node.id, node.name  # a rollback below expires the ORM objects
        template, wanted_os = await self.checked_request(data)
        os_volume = await self._resolve_os_template(user_id, node, wanted_os)
        await self.refuse_unbuildable(user_id, node, template, data, os_volume)
        request = BuildRequest(
            os_template=os_volume,
            template_id=data.template_id,
            vmid_auto=data.vmid is None,
            **data.options(),
        )
        if data.vmid is not None:
            taken = Conflict(f"VMID {data.vmid} is already taken on {node_name}'s cluster.")
            if await self.vmids.check(node_id, user_id, data.vmid) == "taken":
                raise taken
            container = await self._insert(user_id, node, data, request, data.vmid, template)
            if container is None:  # another create holds it (a row of ours, any replica)
                raise taken
        else:
            container = await self._insert_next_free(user_id, node, data, request, template)
        await self.vmids.invalidate(node_id)
        return container

    async def checked_request(self, data: CreateInput) -> tuple[Template | None, str]:
        """What is wrong with `data` whatever the node says (a create and a preflight refuse
        it alike: 404 unknown template or bucket, 422 bad network, keys, scripts, no OS
        template): its template and the OS template it asks for. Ends the transaction, so
        none is held while the node answers."""
        check_network(data.ip, data.gateway)
        check_ssh_public_keys(data.ssh_public_keys)
        template = None
        if data.template_id is not None:
            template = await self.session.get(Template, data.template_id)
            if template is None:
                raise NotFound("No such template.")
        if data.bucket_ids:
            await bucket_packages(self.session, data.bucket_ids)  # 404 when one is gone
        if data.scripts is not None:
            await self._check_script_names(data.template_id, data.scripts)
        wanted_os = data.os_template or (template.os_template if template else None)
        if wanted_os is None:
            raise Unprocessable("Give a templateId or an osTemplate.", field="osTemplate")
        await self.session.commit()
        return template, wanted_os

    async def _check_script_names(self, template_id: uuid.UUID | None, names: list[str]) -> None:
        known = set()
        if template_id is not None:
            known = set(
                await self.session.scalars(
                    select(TemplateScript.name).where(TemplateScript.template_id == template_id)
                )
            )
        unknown = sorted(set(names) - known)
        if unknown:
            raise Unprocessable(
                f"The template has no script named {', '.join(unknown)}.", field="scripts"
            )

    async def _target_node(self, user_id: uuid.UUID, node_id: uuid.UUID | None) -> Node:
        if node_id is not None:
            return await self.nodes.get(user_id, node_id)
        node = await self.session.scalar(
            select(Node).where(Node.user_id == user_id, Node.is_default)
        )
        if node is None:
            raise Conflict("You have no default node: give a nodeId, or make a node the default.")
        return node

    async def _resolve_os_template(self, user_id: uuid.UUID, node: Node, wanted: str) -> str:
        """A volume id as given, or the newest `vztmpl` volume whose file name starts with
        `wanted` (`debian-12-standard` → `local:vztmpl/debian-12-standard_12.7-1_amd64...`)."""
        volumes = await self.nodes.os_templates(user_id, node.id)
        names = sorted(str(v.get("volid")) for v in volumes if v.get("volid"))
        if ":" in wanted:
            if wanted in names:
                return wanted
        else:
            matching = [n for n in names if n.split("/", 1)[-1].startswith(wanted)]
            if matching:
                return matching[-1]
        offered = ", ".join(n.split("/", 1)[-1] for n in names[:10]) or "none"
        raise Unprocessable(
            f"OS template {wanted!r} is not on node {node.name!r} (it has: {offered}); download"
            " it with `pveam download` first.",
            field="osTemplate",
        )

    async def _insert(
        self, user_id: uuid.UUID, node: Node, data: CreateInput, request: BuildRequest,
        vmid: int, template: Template | None,
    ) -> Container | None:  # fmt: skip
        """The row, or None when the VMID is already one of our rows on this node."""
        node_id, node_name = node.id, node.name  # a rollback below expires the ORM objects
        container = Container(
            node_id=node_id, created_by=user_id, vmid=vmid, hostname=data.hostname,
            template_id=template.id if template else None,
            template_revision=template.revision if template else None,
            lifecycle=Lifecycle.CREATING.value, build_request=msgspec.to_builtins(request),
            cleanup_on_failure=data.cleanup_on_failure,
        )  # fmt: skip
        self.session.add(container)
        try:
            await self.session.flush()
        except IntegrityError:
            await self.session.rollback()
            return None
        audit.record(
            self.session, user_id=user_id, action="container.create", target_type="container",
            target_id=container.id, outcome="success", vmid=vmid, node=node_name,
        )  # fmt: skip
        await events.stage(
            self.session, container.id,
            [events.step(
                Phase.CREATING, f"Build of {data.hostname} (VMID {vmid}) queued",
                **events.BUILD_START,
            )],
        )  # fmt: skip
        await self.session.commit()
        return container

    async def _insert_next_free(
        self, user_id: uuid.UUID, node: Node, data: CreateInput, request: BuildRequest,
        template: Template | None,
    ) -> Container:  # fmt: skip
        start, node_id = VMID_MIN, node.id
        for _ in range(_ALLOCATION_TRIES):
            vmid = await self.next_vmid(user_id, node_id, start)
            container = await self._insert(user_id, node, data, request, vmid, template)
            if container is not None:
                return container
            start = vmid + 1  # a racing create took it: the next one
        raise Conflict("Could not allocate a VMID: too many concurrent creates; try again.")

    async def retry(self, user_id: uuid.UUID, container_id: uuid.UUID) -> Container:
        """A failed build runs again from after its last completed phase."""
        container, _ = await self.get(user_id, container_id)
        await self.session.refresh(container, with_for_update=True)
        if container.lifecycle != Lifecycle.ERROR or container.failed_phase is None:
            raise Conflict(
                f"Only a failed build can be retried; this container is {container.lifecycle}."
            )
        build_request_of(container)  # a container we did not build has nothing to retry
        container.lifecycle = transition(container.lifecycle, Lifecycle.CREATING).value
        resume = Phase.after(container.last_completed_phase)
        container.failed_phase = None
        container.failure_reason = None
        container.cancel_requested = False
        await self.redis.delete(cancel_key(container.id))
        audit.record(
            self.session, user_id=user_id, action="container.retry", target_type="container",
            target_id=container.id, outcome="success",
        )  # fmt: skip
        staged = await events.stage(
            self.session, container.id,
            [events.step(
                resume[0], f"Retry requested: resuming at {resume[0]}", **events.BUILD_START
            )],
        )  # fmt: skip
        await self.session.commit()
        await events.publish(self.redis, container.id, staged)
        return container

    async def cancel(self, user_id: uuid.UUID, container_id: uuid.UUID) -> Container:
        """Ask a running build to stop at its next step; the worker applies the cleanup
        policy and ends it with an `error` event."""
        container, _ = await self.get(user_id, container_id)
        await self.session.refresh(container, with_for_update=True)
        if container.lifecycle != Lifecycle.CREATING:
            raise Conflict(f"No build is running; the container is {container.lifecycle}.")
        if not container.cancel_requested:
            container.cancel_requested = True
            audit.record(
                self.session, user_id=user_id, action="container.cancel",
                target_type="container", target_id=container.id, outcome="success",
            )  # fmt: skip
            staged = await events.stage(
                self.session, container.id,
                [events.EventDraft(type=EventType.LOG, message="Cancel requested")],
            )  # fmt: skip
            await self.session.commit()
            await events.publish(self.redis, container.id, staged)
        else:
            await self.session.commit()
        # The build looks here between steps (cheap); the column above is the record it
        # reads at phase boundaries, so a failed write here only delays the stop.
        with contextlib.suppress(Exception):
            await self.redis.set(cancel_key(container.id), 1, ex=_CANCEL_FLAG_SECONDS)
        return container
