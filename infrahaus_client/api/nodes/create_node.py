from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.node_create import NodeCreate
from ...models.node_read import NodeRead
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    *,
    body: NodeCreate,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/nodes",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> NodeRead | Problem | None:
    if response.status_code == 201:
        response_201 = NodeRead.from_dict(response.json())

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
) -> Response[NodeRead | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: NodeCreate,
) -> Response[NodeRead | Problem]:
    """Register a node

     Tests the connection first: `/version` with the token, the node name in `/nodes`,
    and with SSH credentials one login that pins the host key and runs `pct list`. The TLS
    certificate is pinned to `fingerprint`, or to the one presented now (see the response).
    The user's first node becomes the default. A check that fails because of what was sent
    (a host where no Proxmox VE answers, a rejected token, a wrong fingerprint or SSH
    password, a name the cluster lacks) is a 422 whose `errors` name the field.

    Args:
        body (NodeCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NodeRead | Problem]
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
    body: NodeCreate,
) -> NodeRead | Problem | None:
    """Register a node

     Tests the connection first: `/version` with the token, the node name in `/nodes`,
    and with SSH credentials one login that pins the host key and runs `pct list`. The TLS
    certificate is pinned to `fingerprint`, or to the one presented now (see the response).
    The user's first node becomes the default. A check that fails because of what was sent
    (a host where no Proxmox VE answers, a rejected token, a wrong fingerprint or SSH
    password, a name the cluster lacks) is a 422 whose `errors` name the field.

    Args:
        body (NodeCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NodeRead | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: NodeCreate,
) -> Response[NodeRead | Problem]:
    """Register a node

     Tests the connection first: `/version` with the token, the node name in `/nodes`,
    and with SSH credentials one login that pins the host key and runs `pct list`. The TLS
    certificate is pinned to `fingerprint`, or to the one presented now (see the response).
    The user's first node becomes the default. A check that fails because of what was sent
    (a host where no Proxmox VE answers, a rejected token, a wrong fingerprint or SSH
    password, a name the cluster lacks) is a 422 whose `errors` name the field.

    Args:
        body (NodeCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NodeRead | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: NodeCreate,
) -> NodeRead | Problem | None:
    """Register a node

     Tests the connection first: `/version` with the token, the node name in `/nodes`,
    and with SSH credentials one login that pins the host key and runs `pct list`. The TLS
    certificate is pinned to `fingerprint`, or to the one presented now (see the response).
    The user's first node becomes the default. A check that fails because of what was sent
    (a host where no Proxmox VE answers, a rejected token, a wrong fingerprint or SSH
    password, a name the cluster lacks) is a 422 whose `errors` name the field.

    Args:
        body (NodeCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NodeRead | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
