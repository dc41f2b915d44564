"""Services inside a container: what runs, on which ports and URLs, its credentials and logs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter

from services.api.auth import SECURITY, CurrentUser
from services.api.problems import problem_responses
from services.api.routes.containers import CONTAINER_DEPENDENCIES
from services.api.schemas.services import (
    ServiceCredentials,
    ServiceList,
    ServiceListener,
    ServiceLogs,
    ServiceRead,
)
from shared.db.models import DiscoveredService
from shared.domain.containers import ContainerService, DiscoveryReport
from shared.domain.containers.services import LOG_LINES, UNIT_NAME

ServiceName = Annotated[str, Parameter(pattern=UNIT_NAME, max_length=255)]


def _service(row: DiscoveredService) -> ServiceRead:
    listeners = [
        ServiceListener(address=str(item["address"]), port=int(str(item["port"])))
        for item in row.listeners
    ]
    return ServiceRead(
        name=row.name,
        unit=row.unit,
        status="running" if row.status == "running" else "stopped",
        is_system=row.is_system,
        main_pid=row.main_pid,
        listeners=listeners,
        ports=sorted({listener.port for listener in listeners}),
        web_url=row.web_url,
        has_credentials=row.credentials_enc is not None,
        credential_keys=list(row.credential_keys),
        discovered_at=row.discovered_at,
    )


def _listing(report: DiscoveryReport) -> ServiceList:
    return ServiceList(
        items=[_service(row) for row in report.services],
        discovered_at=report.discovered_at,
        error=report.error,
    )


class ServiceController(Controller):
    path = "/api/containers/{container_id:uuid}/services"
    tags = ["Services"]
    security = SECURITY
    dependencies = CONTAINER_DEPENDENCIES

    @get(
        operation_id="ListContainerServices",
        summary="What runs in the container (from the last discovery), without secret values",
        responses=problem_responses(400, 401, 404),
    )
    async def list_services(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> ServiceList:
        """Running units with their listeners and `webUrl`, and services that only have
        credentials (`status: stopped`). `hasCredentials` and `credentialKeys` say what can be
        revealed; `error` is why the last discovery failed, if it did."""
        return _listing(await containers.list_services(request.user.id, container_id))

    @post(
        "/refresh",
        operation_id="RefreshContainerServices",
        summary="Discover the services again (the container must be running)",
        status_code=200,
        responses=problem_responses(400, 401, 404, 409, 502, 503, 504),
    )
    async def refresh_services(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        containers: NamedDependency[ContainerService],
    ) -> ServiceList:
        """One SSH round trip into the container. A discovery that fails answers 200 with
        `error` set and the previous results kept; 409 when the container is not running."""
        return _listing(await containers.refresh_services(request.user.id, container_id))

    @get(
        "/{name:str}/credentials",
        operation_id="RevealServiceCredentials",
        summary="The saved credential values of one service (audited)",
        responses=problem_responses(400, 401, 404, 409),
        response_headers=[
            ResponseHeader(name="Cache-Control", value="no-store", documentation_only=True)
        ],
    )
    async def reveal_credentials(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        name: ServiceName,
        containers: NamedDependency[ContainerService],
    ) -> Response[ServiceCredentials]:
        """Every reveal writes an audit row. Never cached."""
        values = await containers.reveal_credentials(request.user.id, container_id, name)
        return Response(
            ServiceCredentials(name=name, values=values), headers={"Cache-Control": "no-store"}
        )

    @get(
        "/{name:str}/logs",
        operation_id="GetServiceLogs",
        summary="The unit's last journal lines",
        responses=problem_responses(400, 401, 404, 409, 502, 503, 504),
    )
    async def service_logs(
        self,
        request: Request[CurrentUser, Any, Any],
        container_id: uuid.UUID,
        name: ServiceName,
        containers: NamedDependency[ContainerService],
        lines: Annotated[
            int, QueryParameter(ge=LOG_LINES[0], le=LOG_LINES[1], description="1-500")
        ] = 50,
    ) -> ServiceLogs:
        """`journalctl -u <name> -n <lines>` in the container, lines with syslog-style
        timestamps; 409 when it is not running."""
        found = await containers.service_logs(request.user.id, container_id, name, lines)
        return ServiceLogs(name=name, lines=found)
