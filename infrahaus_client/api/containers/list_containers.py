from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.container_list import ContainerList
from ...models.lifecycle import Lifecycle
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    node: UUID | Unset = UNSET,
    lifecycle: Lifecycle | Unset = UNSET,
    q: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_node: str | Unset = UNSET
    if not isinstance(node, Unset):
        json_node = str(node)
    params["node"] = json_node

    json_lifecycle: str | Unset = UNSET
    if not isinstance(lifecycle, Unset):
        json_lifecycle = lifecycle.value

    params["lifecycle"] = json_lifecycle

    params["q"] = q

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/containers",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ContainerList | Problem | None:
    if response.status_code == 200:
        response_200 = ContainerList.from_dict(response.json())

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

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ContainerList | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    node: UUID | Unset = UNSET,
    lifecycle: Lifecycle | Unset = UNSET,
    q: str | Unset = UNSET,
) -> Response[ContainerList | Problem]:
    """Your containers on all your nodes, with live status

     Nodes are asked in parallel; one that fails or is slow never fails the list. Its
    containers come back with `statusUnknown: true`, and `nodeErrors` says why.

    Args:
        node (UUID | Unset): Only this node's
        lifecycle (Lifecycle | Unset):
        q (str | Unset): Hostname or VMID part

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContainerList | Problem]
    """

    kwargs = _get_kwargs(
        node=node,
        lifecycle=lifecycle,
        q=q,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    node: UUID | Unset = UNSET,
    lifecycle: Lifecycle | Unset = UNSET,
    q: str | Unset = UNSET,
) -> ContainerList | Problem | None:
    """Your containers on all your nodes, with live status

     Nodes are asked in parallel; one that fails or is slow never fails the list. Its
    containers come back with `statusUnknown: true`, and `nodeErrors` says why.

    Args:
        node (UUID | Unset): Only this node's
        lifecycle (Lifecycle | Unset):
        q (str | Unset): Hostname or VMID part

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContainerList | Problem
    """

    return sync_detailed(
        client=client,
        node=node,
        lifecycle=lifecycle,
        q=q,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    node: UUID | Unset = UNSET,
    lifecycle: Lifecycle | Unset = UNSET,
    q: str | Unset = UNSET,
) -> Response[ContainerList | Problem]:
    """Your containers on all your nodes, with live status

     Nodes are asked in parallel; one that fails or is slow never fails the list. Its
    containers come back with `statusUnknown: true`, and `nodeErrors` says why.

    Args:
        node (UUID | Unset): Only this node's
        lifecycle (Lifecycle | Unset):
        q (str | Unset): Hostname or VMID part

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContainerList | Problem]
    """

    kwargs = _get_kwargs(
        node=node,
        lifecycle=lifecycle,
        q=q,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    node: UUID | Unset = UNSET,
    lifecycle: Lifecycle | Unset = UNSET,
    q: str | Unset = UNSET,
) -> ContainerList | Problem | None:
    """Your containers on all your nodes, with live status

     Nodes are asked in parallel; one that fails or is slow never fails the list. Its
    containers come back with `statusUnknown: true`, and `nodeErrors` says why.

    Args:
        node (UUID | Unset): Only this node's
        lifecycle (Lifecycle | Unset):
        q (str | Unset): Hostname or VMID part

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContainerList | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            node=node,
            lifecycle=lifecycle,
            q=q,
        )
    ).parsed
