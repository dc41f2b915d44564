from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.container_create import ContainerCreate
from ...models.create_accepted import CreateAccepted
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    *,
    body: ContainerCreate,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/containers",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreateAccepted | Problem | None:
    if response.status_code == 202:
        response_202 = CreateAccepted.from_dict(response.json())

        return response_202

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 502:
        response_502 = Problem.from_dict(response.json())

        return response_502

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if response.status_code == 504:
        response_504 = Problem.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CreateAccepted | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: ContainerCreate,
) -> Response[CreateAccepted | Problem]:
    """Build a container from a template (or a bare OS template)

     Checks the node (yours; the default one without `nodeId`), the template, the OS
    template on the node and the VMID (409 when taken; without `vmid` the next free one is
    allocated), stores the container as `creating` and queues its build. Follow the build
    at `eventsUrl` (SSE) or with `GET .../events`. Before anything is stored it makes the
    checks of `POST /api/nodes/{id}/preflight` (the token's privileges, root-only feature
    flags, the storage, the bridge): a build the node would refuse is a 422 whose
    `errors` name each field and why, with the preflight's messages.

    Args:
        body (ContainerCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateAccepted | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: ContainerCreate,
) -> CreateAccepted | Problem | None:
    """Build a container from a template (or a bare OS template)

     Checks the node (yours; the default one without `nodeId`), the template, the OS
    template on the node and the VMID (409 when taken; without `vmid` the next free one is
    allocated), stores the container as `creating` and queues its build. Follow the build
    at `eventsUrl` (SSE) or with `GET .../events`. Before anything is stored it makes the
    checks of `POST /api/nodes/{id}/preflight` (the token's privileges, root-only feature
    flags, the storage, the bridge): a build the node would refuse is a 422 whose
    `errors` name each field and why, with the preflight's messages.

    Args:
        body (ContainerCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateAccepted | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ContainerCreate,
) -> Response[CreateAccepted | Problem]:
    """Build a container from a template (or a bare OS template)

     Checks the node (yours; the default one without `nodeId`), the template, the OS
    template on the node and the VMID (409 when taken; without `vmid` the next free one is
    allocated), stores the container as `creating` and queues its build. Follow the build
    at `eventsUrl` (SSE) or with `GET .../events`. Before anything is stored it makes the
    checks of `POST /api/nodes/{id}/preflight` (the token's privileges, root-only feature
    flags, the storage, the bridge): a build the node would refuse is a 422 whose
    `errors` name each field and why, with the preflight's messages.

    Args:
        body (ContainerCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateAccepted | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: ContainerCreate,
) -> CreateAccepted | Problem | None:
    """Build a container from a template (or a bare OS template)

     Checks the node (yours; the default one without `nodeId`), the template, the OS
    template on the node and the VMID (409 when taken; without `vmid` the next free one is
    allocated), stores the container as `creating` and queues its build. Follow the build
    at `eventsUrl` (SSE) or with `GET .../events`. Before anything is stored it makes the
    checks of `POST /api/nodes/{id}/preflight` (the token's privileges, root-only feature
    flags, the storage, the bridge): a build the node would refuse is a 422 whose
    `errors` name each field and why, with the preflight's messages.

    Args:
        body (ContainerCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateAccepted | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
