"""VMIDs of a node's cluster: is one free, the next free one, and refreshing the cache."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter

from services.api.auth import SECURITY, VMID_PREFETCH, CurrentUser
from services.api.problems import NODE_CALL_STATUSES, problem_responses
from services.api.routes.containers import CONTAINER_DEPENDENCIES
from services.api.schemas.containers import NextVmid, VmidCheck, VmidRefresh
from shared.domain.containers import ContainerService
from shared.domain.nodes import NodeService
from shared.domain.vmids import VMID_MAX, VMID_MIN, VmidCache, VmidPrefetch


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class VmidController(Controller):
    path = "/api/nodes/{node_id:uuid}/vmids"
    tags = ["VMID"]
    security = SECURITY
    dependencies = CONTAINER_DEPENDENCIES

    @get(
        "/{vmid:int}",
        operation_id="CheckVmid",
        summary="Is this VMID free on the node's cluster?",
        responses=problem_responses(400, 401, 404),
        opt={VMID_PREFETCH: True},  # the auth middleware reads the set with the session
    )
    async def check(
        self,
        request: Request[CurrentUser, Any, Any],
        state: State,
        node_id: uuid.UUID,
        vmid: Annotated[int, Parameter(ge=VMID_MIN, le=VMID_MAX)],
    ) -> VmidCheck:
        """From the cache only: `unknown` when it is not filled (call refresh). `taken` covers
        containers and VMs anywhere in the cluster, and ids our own containers reserve."""
        # The hot path: read by the auth middleware with the session (one Redis round trip,
        # none from the process's read cache); no database session unless the set is cold.
        prefetched: VmidPrefetch | None = request.scope["state"].get(VMID_PREFETCH)
        if prefetched is not None and prefetched[:2] == (node_id, vmid):
            status = prefetched.status
        else:  # (another credential than the session, e.g. none: not reached today)
            vmids: VmidCache = state.vmids
            status = await vmids.check(node_id, request.user.id, vmid)
        if status is None:  # not cached: the database tells "someone else's" (404) from unknown
            async with state.db_sessions() as session:
                await NodeService(session, state.settings, state.secret_box).get(
                    request.user.id, node_id
                )
            status = "unknown"
        return VmidCheck(vmid=vmid, status=status, checked_at=_now())

    @post(
        "/refresh",
        operation_id="RefreshVmids",
        summary="Reload the node's cluster guest ids",
        status_code=200,
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def refresh(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> VmidRefresh:
        count = await containers.refresh_vmids(request.user.id, node_id)
        return VmidRefresh(count=count, refreshed_at=_now())

    @get(
        "/next",
        operation_id="NextFreeVmid",
        summary="The lowest free VMID at or above `from`",
        responses=problem_responses(*NODE_CALL_STATUSES),
    )
    async def next_free(
        self,
        request: Request[CurrentUser, Any, Any],
        node_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
        start: Annotated[int, QueryParameter(name="from", ge=VMID_MIN, le=VMID_MAX)] = VMID_MIN,
    ) -> NextVmid:
        """Refreshes the cache first when it is not filled."""
        return NextVmid(vmid=await containers.next_vmid(request.user.id, node_id, start))
