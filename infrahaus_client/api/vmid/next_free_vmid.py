from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.next_vmid import NextVmid
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    node_id: UUID,
    *,
    from_: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["from"] = from_

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/nodes/{node_id}/vmids/next".format(
            node_id=quote(str(node_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> NextVmid | Problem | None:
    if response.status_code == 200:
        response_200 = NextVmid.from_dict(response.json())

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
) -> Response[NextVmid | Problem]:
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
    from_: int | Unset = 100,
) -> Response[NextVmid | Problem]:
    """The lowest free VMID at or above `from`

     Refreshes the cache first when it is not filled.

    Args:
        node_id (UUID):
        from_ (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NextVmid | Problem]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
        from_=from_,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    from_: int | Unset = 100,
) -> NextVmid | Problem | None:
    """The lowest free VMID at or above `from`

     Refreshes the cache first when it is not filled.

    Args:
        node_id (UUID):
        from_ (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NextVmid | Problem
    """

    return sync_detailed(
        node_id=node_id,
        client=client,
        from_=from_,
    ).parsed


async def asyncio_detailed(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    from_: int | Unset = 100,
) -> Response[NextVmid | Problem]:
    """The lowest free VMID at or above `from`

     Refreshes the cache first when it is not filled.

    Args:
        node_id (UUID):
        from_ (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NextVmid | Problem]
    """

    kwargs = _get_kwargs(
        node_id=node_id,
        from_=from_,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
    from_: int | Unset = 100,
) -> NextVmid | Problem | None:
    """The lowest free VMID at or above `from`

     Refreshes the cache first when it is not filled.

    Args:
        node_id (UUID):
        from_ (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NextVmid | Problem
    """

    return (
        await asyncio_detailed(
            node_id=node_id,
            client=client,
            from_=from_,
        )
    ).parsed
