from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.reconcile_result import ReconcileResult
from ...types import Response


def _get_kwargs(
    node_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/nodes/{node_id}/reconcile".format(
            node_id=quote(str(node_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | ReconcileResult | None:
    if response.status_code == 200:
        response_200 = ReconcileResult.from_dict(response.json())

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
) -> Response[Problem | ReconcileResult]:
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
) -> Response[Problem | ReconcileResult]:
    """Compare your containers with the node's guests

     A `ready` (or failed but created) container whose VMID no longer exists on the node,
    or now holds another guest, becomes `missing`; a `missing` one whose guest is back
    gets back the lifecycle it had (`ready`, or `error`). A guest migrated to another node
    of the cluster is not missing: the record moves to your registration of that node (or
    an event says why it stays). Each change gets an event and an audit row. Containers
    being built or deleted are left alone. The worker does the same for every node on a schedule
    (NODE_RECONCILE_SECONDS).

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReconcileResult]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Problem | ReconcileResult | None:
    """Compare your containers with the node's guests

     A `ready` (or failed but created) container whose VMID no longer exists on the node,
    or now holds another guest, becomes `missing`; a `missing` one whose guest is back
    gets back the lifecycle it had (`ready`, or `error`). A guest migrated to another node
    of the cluster is not missing: the record moves to your registration of that node (or
    an event says why it stays). Each change gets an event and an audit row. Containers
    being built or deleted are left alone. The worker does the same for every node on a schedule
    (NODE_RECONCILE_SECONDS).

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReconcileResult
    """

    return sync_detailed(
        node_id=node_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | ReconcileResult]:
    """Compare your containers with the node's guests

     A `ready` (or failed but created) container whose VMID no longer exists on the node,
    or now holds another guest, becomes `missing`; a `missing` one whose guest is back
    gets back the lifecycle it had (`ready`, or `error`). A guest migrated to another node
    of the cluster is not missing: the record moves to your registration of that node (or
    an event says why it stays). Each change gets an event and an audit row. Containers
    being built or deleted are left alone. The worker does the same for every node on a schedule
    (NODE_RECONCILE_SECONDS).

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReconcileResult]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Problem | ReconcileResult | None:
    """Compare your containers with the node's guests

     A `ready` (or failed but created) container whose VMID no longer exists on the node,
    or now holds another guest, becomes `missing`; a `missing` one whose guest is back
    gets back the lifecycle it had (`ready`, or `error`). A guest migrated to another node
    of the cluster is not missing: the record moves to your registration of that node (or
    an event says why it stays). Each change gets an event and an audit row. Containers
    being built or deleted are left alone. The worker does the same for every node on a schedule
    (NODE_RECONCILE_SECONDS).

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReconcileResult
    """

    return (
        await asyncio_detailed(
            node_id=node_id,
            client=client,
        )
    ).parsed
