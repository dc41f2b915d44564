from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.vmid_check import VmidCheck
from ...types import Response


def _get_kwargs(
    node_id: UUID,
    vmid: int,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/nodes/{node_id}/vmids/{vmid}".format(
            node_id=quote(str(node_id), safe=""),
            vmid=quote(str(vmid), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | VmidCheck | None:
    if response.status_code == 200:
        response_200 = VmidCheck.from_dict(response.json())

        return response_200

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

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | VmidCheck]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    node_id: UUID,
    vmid: int,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | VmidCheck]:
    """Is this VMID free on the node's cluster?

     From the cache only: `unknown` when it is not filled (call refresh). `taken` covers
    containers and VMs anywhere in the cluster, and ids our own containers reserve.

    Args:
        node_id (UUID):
        vmid (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VmidCheck]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
        vmid=vmid,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    node_id: UUID,
    vmid: int,
    *,
    client: AuthenticatedClient,
) -> Problem | VmidCheck | None:
    """Is this VMID free on the node's cluster?

     From the cache only: `unknown` when it is not filled (call refresh). `taken` covers
    containers and VMs anywhere in the cluster, and ids our own containers reserve.

    Args:
        node_id (UUID):
        vmid (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VmidCheck
    """

    return sync_detailed(
        node_id=node_id,
        vmid=vmid,
        client=client,
    ).parsed


async def asyncio_detailed(
    node_id: UUID,
    vmid: int,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | VmidCheck]:
    """Is this VMID free on the node's cluster?

     From the cache only: `unknown` when it is not filled (call refresh). `taken` covers
    containers and VMs anywhere in the cluster, and ids our own containers reserve.

    Args:
        node_id (UUID):
        vmid (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VmidCheck]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
        vmid=vmid,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    node_id: UUID,
    vmid: int,
    *,
    client: AuthenticatedClient,
) -> Problem | VmidCheck | None:
    """Is this VMID free on the node's cluster?

     From the cache only: `unknown` when it is not filled (call refresh). `taken` covers
    containers and VMs anywhere in the cluster, and ids our own containers reserve.

    Args:
        node_id (UUID):
        vmid (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VmidCheck
    """

    return (
        await asyncio_detailed(
            node_id=node_id,
            vmid=vmid,
            client=client,
        )
    ).parsed
