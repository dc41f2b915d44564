"""Node management: register Proxmox nodes, test them, and read what creation forms need."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import SECURITY, CurrentUser
from services.api.problems import NODE_CALL_STATUSES, problem_responses
from services.api.routes.containers import CONTAINER_DEPENDENCIES, create_input, detail_of
from services.api.schemas import from_row
from services.api.schemas.containers import BuildPreflight, ContainerDetail
from services.api.schemas.nodes import (
    AdoptRequest,
    Bridge,
    ConnectionTest,
    ContainerDrift,
    NodeCreate,
    NodeRead,
    NodeUpdate,
    OsTemplate,
    PreflightProblem,
    PreflightResult,
    ReconcileResult,
    Storage,
    UnmanagedGuestRead,
)
from shared.adapters import ssh
from shared.adapters.proxmox.client import typed
from shared.db.models import Node
from shared.domain.containers import ContainerService, Drift
from shared.domain.nodes import NodeInput, NodeService


def node_read(node: Node) -> NodeRead:
    """Secrets are never answered: only whether each one is set."""
    return from_row(
        node,
        NodeRead,
        has_token_secret=bool(node.token_secret_enc),
        has_ssh_password=node.ssh_password_enc is not None,
        has_ssh_private_key=node.ssh_private_key_enc is not None,
        ssh_host_key_fingerprint=(
            ssh.host_key_fingerprint(node.ssh_host_key) if node.ssh_host_key else None
        ),
    )


def provide_node_service(state: State, db_session: AsyncSession) -> NodeService:
    return NodeService(db_session, state.settings, state.secret_box, state.proxmox_clients)


class NodeController(Controller):
    path = "/api/nodes"
    tags = ["Nodes"]
    security = SECURITY
    dependencies = {"nodes": Provide(provide_node_service, sync_to_thread=False)}

    @get(operation_id="ListNodes", summary="Your nodes", responses=problem_responses(401))
    async def list_nodes(
        self, request: Request[CurrentUser, Any, Any], nodes: NamedDependency[NodeService]
    ) -> list[NodeRead]:
        return [node_read(node) for node in await nodes.list(request.user.id)]

    @post(
        operation_id="CreateNode",
        summary="Register a node",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 409, 422, 502, 503, 504),
    )
    async def create_node(
        self,
        request: Request[CurrentUser, Any, Any],
        data: JSONBody[NodeCreate],
        nodes: NamedDependency[NodeService],
    ) -> NodeRead:
        """Tests the connection first: `/version` with the token, the node name in `/nodes`,
        and with SSH credentials one login that pins the host key and runs `pct list`. The TLS
        certificate is pinned to `fingerprint`, or to the one presented now (see the response).
        The user's first node becomes the default. A check that fails because of what was sent
        (a host where no Proxmox VE answers, a rejected token, a wrong fingerprint or SSH
        password, a name the cluster lacks) is a 422 whose `errors` name the field."""
        fields = msgspec.structs.asdict(data)
        node = await nodes.create(request.user.id, NodeInput(**fields))
        return node_read(node)

    @get(
        "/{node_id:uuid}",
        operation_id="GetNode",
        summary="One node",
        responses=problem_responses(400, 401, 404),
    )
    async def get_node(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
    ) -> NodeRead:
        return node_read(await nodes.get(request.user.id, node_id))

    @patch(
        "/{node_id:uuid}",
        operation_id="UpdateNode",
        summary="Change a node",
        responses=problem_responses(400, 401, 403, 404, 409, 422, 502, 503, 504),
    )
    async def update_node(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        data: JSONBody[NodeUpdate],
        nodes: NamedDependency[NodeService],
    ) -> NodeRead:
        """Only the fields sent change, and the result is tested before it is saved.
        `tokenSecret` may be omitted (the stored one is used). `sshPassword` and
        `sshPrivateKey`: a value sets, `""` clears, absent keeps. A failed check that the
        fields sent explain is a 422 naming the field; a node that fails on its own (the fields
        sent do not touch the connection) answers 502/503/504."""
        node = await nodes.update(request.user.id, node_id, data.changes())
        return node_read(node)

    @delete(
        "/{node_id:uuid}",
        operation_id="DeleteNode",
        summary="Remove a node",
        status_code=HTTP_204_NO_CONTENT,
        responses={
            HTTP_204_NO_CONTENT: ResponseSpec(None, description="Removed."),
            **problem_responses(400, 401, 404, 409),
        },
    )
    async def delete_node(
        self,
        request: Request[CurrentUser, Any, Any],
        state: State,
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
    ) -> None:
        """Refused (409) while containers exist on it. Removing the default node makes the
        oldest remaining node the default."""
        await nodes.delete(request.user.id, node_id)
        await state.vmids.invalidate(node_id)

    @post(
        "/{node_id:uuid}/default",
        operation_id="SetDefaultNode",
        summary="Make this node the default",
        status_code=200,
        responses=problem_responses(400, 401, 404),
    )
    async def set_default(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
    ) -> NodeRead:
        return node_read(await nodes.set_default(request.user.id, node_id))

    @post(
        "/{node_id:uuid}/test",
        operation_id="TestNodeConnection",
        summary="Check the node answers",
        status_code=200,
        responses=problem_responses(400, 401, 404, 409),
    )
    async def test_connection(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
    ) -> ConnectionTest:
        """`ok: false` with the reason when the node cannot be reached or refuses the token."""
        return from_row(await nodes.test(request.user.id, node_id), ConnectionTest)

    @get(
        "/{node_id:uuid}/storages",
        operation_id="ListNodeStorages",
        summary="Storages of the node",
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def storages(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
    ) -> list[Storage]:
        items = await nodes.storages(request.user.id, node_id)
        return typed(items, list[Storage])

    @get(
        "/{node_id:uuid}/bridges",
        operation_id="ListNodeBridges",
        summary="Network bridges of the node",
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def bridges(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
    ) -> list[Bridge]:
        items = await nodes.bridges(request.user.id, node_id)
        return typed(items, list[Bridge])

    @get(
        "/{node_id:uuid}/os-templates",
        operation_id="ListNodeOsTemplates",
        summary="Container OS templates on the node",
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def os_templates(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
    ) -> list[OsTemplate]:
        items = await nodes.os_templates(request.user.id, node_id)
        return typed(items, list[OsTemplate])

    @post(
        "/{node_id:uuid}/reconcile",
        operation_id="ReconcileNode",
        summary="Compare your containers with the node's guests",
        status_code=HTTP_200_OK,
        dependencies=CONTAINER_DEPENDENCIES,
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def reconcile(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        nodes: NamedDependency[NodeService],
        containers: NamedDependency[ContainerService],
    ) -> ReconcileResult:
        """A `ready` (or failed but created) container whose VMID no longer exists on the node,
        or now holds another guest, becomes `missing`; a `missing` one whose guest is back
        gets back the lifecycle it had (`ready`, or `error`). A guest migrated to another node
        of the cluster is not missing: the record moves to your registration of that node (or
        an event says why it stays). Each change gets an event and an audit row. Containers
        being built or deleted are left alone. The worker does the same for every node on a schedule
        (NODE_RECONCILE_SECONDS)."""
        node = await nodes.get_and_end_transaction(request.user.id, node_id)
        report = await containers.reconcile_node(node, actor=request.user.id)
        return ReconcileResult(
            node_id=report.node_id,
            checked=report.checked,
            missing=[_drift(d) for d in report.missing],
            restored=[_drift(d) for d in report.restored],
            migrated=[_drift(d) for d in report.migrated],
        )

    @get(
        "/{node_id:uuid}/unmanaged",
        operation_id="ListUnmanagedGuests",
        summary="Guests on the node that Infrahaus does not manage",
        dependencies=CONTAINER_DEPENDENCIES,
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def unmanaged(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> list[UnmanagedGuestRead]:
        """LXC containers and QEMU VMs on this node whose VMID no container record stands for
        (anyone's registration of the same node counts), and that carry no build marker of a
        record. `adoptable: false` with a `reason` for a VM, a container template or a locked
        guest. Only guests the node's token may see (VM.Audit) are listed."""
        guests = await containers.unmanaged(request.user.id, node_id)
        return [from_row(guest, UnmanagedGuestRead) for guest in guests]

    @post(
        "/{node_id:uuid}/adopt",
        operation_id="AdoptGuest",
        summary="Adopt an unmanaged LXC guest as a container",
        status_code=HTTP_201_CREATED,
        dependencies=CONTAINER_DEPENDENCIES,
        responses=problem_responses(*NODE_CALL_STATUSES, 422),
        response_headers=[
            ResponseHeader(
                name="Location", description="The adopted container", documentation_only=True
            )
        ],
    )
    async def adopt(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        data: JSONBody[AdoptRequest],
        containers: NamedDependency[ContainerService],
    ) -> Response[ContainerDetail]:
        """Makes a container record (`ready`, no template, no build to retry) for the
        unmanaged LXC guest `vmid`, named after its hostname, and writes Infrahaus' marker
        into its description (what was there is kept) so reconciliation and delete know it
        as this record's. Lifecycle actions and delete then work as on a built container;
        delete destroys the guest. 404: not your node. 409: the VMID is managed already, is
        a VM or a container template, or is locked. 422 (`errors` name `vmid`): the node
        has no such guest, or its token may not see it. 403: the token may not change the
        guest's description (VM.Config.Options)."""
        container = await containers.adopt(request.user.id, node_id, data.vmid)
        detail = await containers.detail(request.user.id, container.id)
        return Response(
            detail_of(detail),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/containers/{container.id}"},
        )

    @post(
        "/{node_id:uuid}/preflight",
        operation_id="PreflightBuild",
        summary="What a build on this node would fail on, and why",
        status_code=HTTP_200_OK,
        dependencies=CONTAINER_DEPENDENCIES,
        responses=problem_responses(*NODE_CALL_STATUSES, 422),
    )
    async def preflight(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        data: JSONBody[BuildPreflight],
        containers: NamedDependency[ContainerService],
    ) -> PreflightResult:
        """The body is a build request as `POST /api/containers` takes it (`hostname` may be
        left out; `{"templateId": ...}` is enough). Nothing is created. The answer lists
        each problem: a privilege the node's token lacks on an ACL path (asked of the node,
        `GET /access/permissions`), a feature flag only root@pam may set (keyctl, fuse, or
        any on a privileged container), a storage that is missing or holds no `rootdir`, a
        bridge that is missing or the token may not use (SDN.Use), a missing OS template, a
        taken VMID. `POST /api/containers` makes the same checks and refuses with a 422
        whose `errors` carry the same messages. Input that is wrong whatever the node holds
        is refused as there (404 unknown template or bucket, 422 bad ip, gateway, keys or
        script names, or a `nodeId` that is not this node)."""
        wanted = create_input(data, hostname=data.hostname or "preflight")
        vmid, findings = await containers.preflight(request.user.id, node_id, wanted)
        return PreflightResult(
            ok=not findings,
            vmid=vmid,
            problems=[from_row(finding, PreflightProblem) for finding in findings],
        )


def _drift(drift: Drift) -> ContainerDrift:
    return from_row(drift, ContainerDrift)
