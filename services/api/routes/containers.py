"""The container inventory, creation, deletion and lifecycle actions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import Parameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import SECURITY, CurrentUser
from services.api.problems import NODE_CALL_STATUSES, problem_responses
from services.api.schemas import from_row
from services.api.schemas.containers import (
    ActionResult,
    BuildState,
    ContainerCreate,
    ContainerDetail,
    ContainerList,
    ContainerSummary,
    CreateAccepted,
    DeleteAccepted,
    NodeError,
)
from shared.adapters import queue
from shared.core.lifecycle import Lifecycle
from shared.core.logging import get_logger, request_id_var
from shared.domain.containers import Action, ContainerService, ContainerView, InventoryItem
from shared.domain.containers.creation import CreateInput, PackageWanted

log = get_logger(__name__)


def provide_container_service(state: State, db_session: AsyncSession) -> ContainerService:
    return ContainerService(
        db_session,
        state.settings,
        state.secret_box,
        state.redis,
        state.proxmox_clients,
        read_cache=state.read_cache,
    )


def _request_id() -> str | None:
    return request_id_var.get()


async def _queue_job(enqueuing: Awaitable[bool], container_id: uuid.UUID) -> None:
    """The row is committed: if Redis cannot take the job now, the reconciler queues it
    later, so the request has still succeeded."""
    try:
        if not await enqueuing:
            log.info("a job of this container is already queued", container_id=str(container_id))
    except Exception as exc:
        log.warning(
            "enqueue failed; the reconciler will queue the job",
            container_id=str(container_id), error=f"{type(exc).__name__}: {exc}",
        )  # fmt: skip


CONTAINER_DEPENDENCIES = {"containers": Provide(provide_container_service, sync_to_thread=False)}


def reject_null_text(request: Request[Any, Any, Any], *names: str) -> None:
    """Litestar reads the text `null` as None for an `X | None` query parameter; the spec says
    `node` is a uuid (and `lifecycle` one of its values), so `?node=null` is a 400."""
    for name in names:
        if "null" in request.query_params.getall(name, []):
            raise ValidationException(
                detail=f"Validation failed for {request.method} {request.url.path}",
                extra=[{"message": "`null` is not a valid value", "key": name, "source": "query"}],
            )


def _summary(item: InventoryItem | ContainerView) -> dict[str, Any]:
    """The values of a container answer that are not the row's own attributes."""
    return {
        "node_id": item.node.id,
        "node_name": item.node.name,
        "status_unknown": item.status_unknown,
        "live": item.live,
    }


def detail_of(detail: ContainerView) -> ContainerDetail:
    return from_row(
        detail.container,
        ContainerDetail,
        **_summary(detail),
        ip_address=detail.ip_address,  # the live one, not the stored one
        config=detail.config,
        error=detail.error,
    )


def create_input(data: ContainerCreate, **overrides: Any) -> CreateInput:
    """The create body (or a preflight's, the same schema) as the service takes it."""
    fields = {**msgspec.structs.asdict(data), **overrides}
    fields["packages"] = [
        msgspec.convert(msgspec.to_builtins(p), PackageWanted) for p in data.packages
    ]
    return CreateInput(**fields)


class ContainerController(Controller):
    path = "/api/containers"
    tags = ["Containers"]
    security = SECURITY
    dependencies = CONTAINER_DEPENDENCIES

    @get(
        operation_id="ListContainers",
        summary="Your containers on all your nodes, with live status",
        responses=problem_responses(400, 401),
    )
    async def list_containers(
        self,
        request: Request[CurrentUser, Any, Any],
        containers: NamedDependency[ContainerService],
        node: Annotated[uuid.UUID | None, Parameter(description="Only this node's")] = None,
        lifecycle: Lifecycle | None = None,
        q: Annotated[
            str | None,
            Parameter(max_length=100, pattern=r"^[^\x00]*$", description="Hostname or VMID part"),
        ] = None,
    ) -> ContainerList:
        """Nodes are asked in parallel; one that fails or is slow never fails the list. Its
        containers come back with `statusUnknown: true`, and `nodeErrors` says why."""
        reject_null_text(request, "node", "lifecycle")
        inventory = await containers.inventory(
            request.user.id, node_id=node, lifecycle=lifecycle, text=q
        )
        return ContainerList(
            items=[
                from_row(item.container, ContainerSummary, **_summary(item))
                for item in inventory.items
            ],
            node_errors=[from_row(e, NodeError) for e in inventory.node_errors],
        )

    @get(
        "/{container_id:uuid}",
        operation_id="GetContainer",
        summary="One container: record, live status, config, IP",
        responses=problem_responses(400, 401, 404),
    )
    async def get_container(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> ContainerDetail:
        return detail_of(await containers.detail(request.user.id, container_id))

    @post(
        "/{container_id:uuid}/start",
        operation_id="StartContainer",
        summary="Start",
        status_code=200,
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def start(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> ActionResult:
        """Waits for the Proxmox task. 409 while another action runs on the container, or when
        its state forbids the action (e.g. starting a running container)."""
        return await _act(request, container_id, containers, "start")

    @post(
        "/{container_id:uuid}/stop",
        operation_id="StopContainer",
        summary="Stop (hard)",
        status_code=200,
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def stop(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> ActionResult:
        """Waits for the Proxmox task. 409 while another action runs on the container, or when
        its state forbids the action (e.g. starting a running container)."""
        return await _act(request, container_id, containers, "stop")

    @post(
        "/{container_id:uuid}/reboot",
        operation_id="RebootContainer",
        summary="Reboot",
        status_code=200,
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def reboot(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> ActionResult:
        """Waits for the Proxmox task. 409 while another action runs on the container, or when
        its state forbids the action (e.g. starting a running container)."""
        return await _act(request, container_id, containers, "reboot")

    @post(
        "/{container_id:uuid}/shutdown",
        operation_id="ShutdownContainer",
        summary="Shut down gracefully, stop if it takes too long",
        status_code=200,
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def shutdown(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
        grace_seconds: Annotated[
            int, QueryParameter(name="timeout", ge=1, le=3600, description="Seconds")
        ] = 30,
    ) -> ActionResult:
        """`forced: true` in the answer when the graceful shutdown did not finish in `timeout`
        seconds and the container was stopped instead."""
        return await _act(request, container_id, containers, "shutdown", grace_seconds)

    @delete(
        "/{container_id:uuid}",
        operation_id="DeleteContainer",
        summary="Delete on Proxmox (purge) and forget it",
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 404, 409),
    )
    async def delete_container(
        self,
        request: Request[CurrentUser, Any, Any],
        state: State,
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> DeleteAccepted:
        """Accepted at once (`lifecycle: deleting`); the worker stops it if running, destroys
        it with purge and unreferenced disks, then removes the record and its events. A
        container already gone on Proxmox is still removed here."""
        container = await containers.request_delete(request.user.id, container_id)
        # One job id per container: while a delete is queued or running, asking again is a
        # no-op; the reconciler re-enqueues one whose enqueue was lost.
        await _queue_job(
            queue.enqueue_delete(state.queue, container.id, _request_id()), container.id
        )
        return DeleteAccepted(id=container.id, lifecycle="deleting")

    @post(
        operation_id="CreateContainer",
        summary="Build a container from a template (or a bare OS template)",
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 404, 409, 422, 502, 504),
        response_headers=[
            ResponseHeader(
                name="Location", description="The new container", documentation_only=True
            )
        ],
    )
    async def create_container(
        self,
        request: Request[CurrentUser, Any, Any],
        state: State,
        data: ContainerCreate,
        containers: NamedDependency[ContainerService],
    ) -> Response[CreateAccepted]:
        """Checks the node (yours; the default one without `nodeId`), the template, the OS
        template on the node and the VMID (409 when taken; without `vmid` the next free one is
        allocated), stores the container as `creating` and queues its build. Follow the build
        at `eventsUrl` (SSE) or with `GET .../events`. Before anything is stored it makes the
        checks of `POST /api/nodes/{id}/preflight` (the token's privileges, root-only feature
        flags, the storage, the bridge): a build the node would refuse is a 422 whose
        `errors` name each field and why, with the preflight's messages."""
        wanted = create_input(data)
        container = await containers.request_create(request.user.id, wanted, _request_id())
        await _queue_job(
            queue.enqueue_create(state.queue, container.id, _request_id()), container.id
        )
        location = f"/api/containers/{container.id}"
        return Response(
            CreateAccepted(
                id=container.id,
                vmid=container.vmid,
                lifecycle=Lifecycle.CREATING,
                events_url=f"{location}/events/stream",
            ),
            status_code=HTTP_202_ACCEPTED,
            headers={"Location": location},
        )

    @post(
        "/{container_id:uuid}/retry",
        operation_id="RetryContainerBuild",
        summary="Resume a failed build after its last completed phase",
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 404, 409),
    )
    async def retry_build(
        self,
        request: Request[CurrentUser, Any, Any],
        state: State,
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> BuildState:
        """409 unless the container's build failed (`lifecycle: error` after a build). The
        template is read again, so a fixed template is what the retry runs."""
        container = await containers.retry(request.user.id, container_id)
        # the failed run's job may still be ending: wait for it briefly rather than lose this
        await _queue_job(
            queue.enqueue_create(state.queue, container.id, _request_id(), wait_seconds=10),
            container.id,
        )
        return from_row(container, BuildState)

    @post(
        "/{container_id:uuid}/cancel",
        operation_id="CancelContainerBuild",
        summary="Stop a running build at its next step",
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 404, 409),
    )
    async def cancel_build(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> BuildState:
        """The build stops between steps: lifecycle `error`, an `error` event saying it was
        cancelled, and the Proxmox container destroyed if the build asked for
        `cleanupOnFailure`. 409 when no build is running."""
        return from_row(await containers.cancel(request.user.id, container_id), BuildState)


async def _act(
    request: Request[CurrentUser, Any, Any],
    container_id: uuid.UUID,
    containers: ContainerService,
    action: Action,
    shutdown_timeout: int = 30,
) -> ActionResult:
    outcome = await containers.act(
        request.user.id, container_id, action, shutdown_timeout=shutdown_timeout
    )
    return from_row(outcome, ActionResult)
