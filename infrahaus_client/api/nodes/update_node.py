from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.node_read import NodeRead
from ...models.node_update import NodeUpdate
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    node_id: UUID,
    *,
    body: NodeUpdate,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/api/nodes/{node_id}".format(
            node_id=quote(str(node_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> NodeRead | Problem | None:
    if response.status_code == 200:
        response_200 = NodeRead.from_dict(response.json())

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
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    body: NodeUpdate,
) -> Response[NodeRead | Problem]:
    """Change a node

     Only the fields sent change, and the result is tested before it is saved.
    `tokenSecret` may be omitted (the stored one is used). `sshPassword` and
    `sshPrivateKey`: a value sets, `""` clears, absent keeps. A failed check that the
    fields sent explain is a 422 naming the field; a node that fails on its own (the fields
    sent do not touch the connection) answers 502/503/504.

    Args:
        node_id (UUID):
        body (NodeUpdate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NodeRead | Problem]
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
    body: NodeUpdate,
) -> NodeRead | Problem | None:
    """Change a node

     Only the fields sent change, and the result is tested before it is saved.
    `tokenSecret` may be omitted (the stored one is used). `sshPassword` and
    `sshPrivateKey`: a value sets, `""` clears, absent keeps. A failed check that the
    fields sent explain is a 422 naming the field; a node that fails on its own (the fields
    sent do not touch the connection) answers 502/503/504.

    Args:
        node_id (UUID):
        body (NodeUpdate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NodeRead | Problem
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
    body: NodeUpdate,
) -> Response[NodeRead | Problem]:
    """Change a node

     Only the fields sent change, and the result is tested before it is saved.
    `tokenSecret` may be omitted (the stored one is used). `sshPassword` and
    `sshPrivateKey`: a value sets, `""` clears, absent keeps. A failed check that the
    fields sent explain is a 422 naming the field; a node that fails on its own (the fields
    sent do not touch the connection) answers 502/503/504.

    Args:
        node_id (UUID):
        body (NodeUpdate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NodeRead | Problem]
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
    body: NodeUpdate,
) -> NodeRead | Problem | None:
    """Change a node

     Only the fields sent change, and the result is tested before it is saved.
    `tokenSecret` may be omitted (the stored one is used). `sshPassword` and
    `sshPrivateKey`: a value sets, `""` clears, absent keeps. A failed check that the
    fields sent explain is a 422 naming the field; a node that fails on its own (the fields
    sent do not touch the connection) answers 502/503/504.

    Args:
        node_id (UUID):
        body (NodeUpdate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NodeRead | Problem
    """

    return (
        await asyncio_detailed(
            node_id=node_id,
            client=client,
            body=body,
        )
    ).parsed
