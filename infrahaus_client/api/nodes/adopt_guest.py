from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.adopt_request import AdoptRequest
from ...models.container_detail import ContainerDetail
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    node_id: UUID,
    *,
    body: AdoptRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/nodes/{node_id}/adopt".format(
            node_id=quote(str(node_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ContainerDetail | Problem | None:
    if response.status_code == 201:
        response_201 = ContainerDetail.from_dict(response.json())

        return response_201

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
) -> Response[ContainerDetail | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AdoptRequest,
) -> Response[ContainerDetail | Problem]:
    """Adopt an unmanaged LXC guest as a container

     Makes a container record (`ready`, no template, no build to retry) for the
    unmanaged LXC guest `vmid`, named after its hostname, and writes Infrahaus' marker
    into its description (what was there is kept) so reconciliation and delete know it
    as this record's. Lifecycle actions and delete then work as on a built container;
    delete destroys the guest. 404: not your node. 409: the VMID is managed already, is
    a VM or a container template, or is locked. 422 (`errors` name `vmid`): the node
    has no such guest, or its token may not see it. 403: the token may not change the
    guest's description (VM.Config.Options).

    Args:
        node_id (UUID):
        body (AdoptRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContainerDetail | Problem]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AdoptRequest,
) -> ContainerDetail | Problem | None:
    """Adopt an unmanaged LXC guest as a container

     Makes a container record (`ready`, no template, no build to retry) for the
    unmanaged LXC guest `vmid`, named after its hostname, and writes Infrahaus' marker
    into its description (what was there is kept) so reconciliation and delete know it
    as this record's. Lifecycle actions and delete then work as on a built container;
    delete destroys the guest. 404: not your node. 409: the VMID is managed already, is
    a VM or a container template, or is locked. 422 (`errors` name `vmid`): the node
    has no such guest, or its token may not see it. 403: the token may not change the
    guest's description (VM.Config.Options).

    Args:
        node_id (UUID):
        body (AdoptRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContainerDetail | Problem
    """

    return sync_detailed(
        node_id=node_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AdoptRequest,
) -> Response[ContainerDetail | Problem]:
    """Adopt an unmanaged LXC guest as a container

     Makes a container record (`ready`, no template, no build to retry) for the
    unmanaged LXC guest `vmid`, named after its hostname, and writes Infrahaus' marker
    into its description (what was there is kept) so reconciliation and delete know it
    as this record's. Lifecycle actions and delete then work as on a built container;
    delete destroys the guest. 404: not your node. 409: the VMID is managed already, is
    a VM or a container template, or is locked. 422 (`errors` name `vmid`): the node
    has no such guest, or its token may not see it. 403: the token may not change the
    guest's description (VM.Config.Options).

    Args:
        node_id (UUID):
        body (AdoptRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContainerDetail | Problem]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AdoptRequest,
) -> ContainerDetail | Problem | None:
    """Adopt an unmanaged LXC guest as a container

     Makes a container record (`ready`, no template, no build to retry) for the
    unmanaged LXC guest `vmid`, named after its hostname, and writes Infrahaus' marker
    into its description (what was there is kept) so reconciliation and delete know it
    as this record's. Lifecycle actions and delete then work as on a built container;
    delete destroys the guest. 404: not your node. 409: the VMID is managed already, is
    a VM or a container template, or is locked. 422 (`errors` name `vmid`): the node
    has no such guest, or its token may not see it. 403: the token may not change the
    guest's description (VM.Config.Options).

    Args:
        node_id (UUID):
        body (AdoptRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContainerDetail | Problem
    """

    return (
        await asyncio_detailed(
            node_id=node_id,
            client=client,
            body=body,
        )
    ).parsed
