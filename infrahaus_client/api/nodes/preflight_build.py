from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.build_preflight import BuildPreflight
from ...models.preflight_result import PreflightResult
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    node_id: UUID,
    *,
    body: BuildPreflight,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/nodes/{node_id}/preflight".format(
            node_id=quote(str(node_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> PreflightResult | Problem | None:
    if response.status_code == 200:
        response_200 = PreflightResult.from_dict(response.json())

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
) -> Response[PreflightResult | Problem]:
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
    body: BuildPreflight,
) -> Response[PreflightResult | Problem]:
    """What a build on this node would fail on, and why

     The body is a build request as `POST /api/containers` takes it (`hostname` may be
    left out; `{"templateId": ...}` is enough). Nothing is created. The answer lists
    each problem: a privilege the node's token lacks on an ACL path (asked of the node,
    `GET /access/permissions`), a feature flag only root@pam may set (keyctl, fuse, or
    any on a privileged container), a storage that is missing or holds no `rootdir`, a
    bridge that is missing or the token may not use (SDN.Use), a missing OS template, a
    taken VMID. `POST /api/containers` makes the same checks and refuses with a 422
    whose `errors` carry the same messages. Input that is wrong whatever the node holds
    is refused as there (404 unknown template or bucket, 422 bad ip, gateway, keys or
    script names, or a `nodeId` that is not this node).

    Args:
        node_id (UUID):
        body (BuildPreflight):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PreflightResult | Problem]
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
    body: BuildPreflight,
) -> PreflightResult | Problem | None:
    """What a build on this node would fail on, and why

     The body is a build request as `POST /api/containers` takes it (`hostname` may be
    left out; `{"templateId": ...}` is enough). Nothing is created. The answer lists
    each problem: a privilege the node's token lacks on an ACL path (asked of the node,
    `GET /access/permissions`), a feature flag only root@pam may set (keyctl, fuse, or
    any on a privileged container), a storage that is missing or holds no `rootdir`, a
    bridge that is missing or the token may not use (SDN.Use), a missing OS template, a
    taken VMID. `POST /api/containers` makes the same checks and refuses with a 422
    whose `errors` carry the same messages. Input that is wrong whatever the node holds
    is refused as there (404 unknown template or bucket, 422 bad ip, gateway, keys or
    script names, or a `nodeId` that is not this node).

    Args:
        node_id (UUID):
        body (BuildPreflight):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PreflightResult | Problem
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
    body: BuildPreflight,
) -> Response[PreflightResult | Problem]:
    """What a build on this node would fail on, and why

     The body is a build request as `POST /api/containers` takes it (`hostname` may be
    left out; `{"templateId": ...}` is enough). Nothing is created. The answer lists
    each problem: a privilege the node's token lacks on an ACL path (asked of the node,
    `GET /access/permissions`), a feature flag only root@pam may set (keyctl, fuse, or
    any on a privileged container), a storage that is missing or holds no `rootdir`, a
    bridge that is missing or the token may not use (SDN.Use), a missing OS template, a
    taken VMID. `POST /api/containers` makes the same checks and refuses with a 422
    whose `errors` carry the same messages. Input that is wrong whatever the node holds
    is refused as there (404 unknown template or bucket, 422 bad ip, gateway, keys or
    script names, or a `nodeId` that is not this node).

    Args:
        node_id (UUID):
        body (BuildPreflight):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PreflightResult | Problem]
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
    body: BuildPreflight,
) -> PreflightResult | Problem | None:
    """What a build on this node would fail on, and why

     The body is a build request as `POST /api/containers` takes it (`hostname` may be
    left out; `{"templateId": ...}` is enough). Nothing is created. The answer lists
    each problem: a privilege the node's token lacks on an ACL path (asked of the node,
    `GET /access/permissions`), a feature flag only root@pam may set (keyctl, fuse, or
    any on a privileged container), a storage that is missing or holds no `rootdir`, a
    bridge that is missing or the token may not use (SDN.Use), a missing OS template, a
    taken VMID. `POST /api/containers` makes the same checks and refuses with a 422
    whose `errors` carry the same messages. Input that is wrong whatever the node holds
    is refused as there (404 unknown template or bucket, 422 bad ip, gateway, keys or
    script names, or a `nodeId` that is not this node).

    Args:
        node_id (UUID):
        body (BuildPreflight):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PreflightResult | Problem
    """

    return (
        await asyncio_detailed(
            node_id=node_id,
            client=client,
            body=body,
        )
    ).parsed
