from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.unmanaged_guest_read import UnmanagedGuestRead
from ...types import Response


def _get_kwargs(
    node_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/nodes/{node_id}/unmanaged".format(
            node_id=quote(str(node_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | list[UnmanagedGuestRead] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = UnmanagedGuestRead.from_dict(response_200_item_data)

            response_200.append(response_200_item)

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
) -> Response[Problem | list[UnmanagedGuestRead]]:
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
) -> Response[Problem | list[UnmanagedGuestRead]]:
    """Guests on the node that Infrahaus does not manage

     LXC containers and QEMU VMs on this node whose VMID no container record stands for
    (anyone's registration of the same node counts), and that carry no build marker of a
    record. `adoptable: false` with a `reason` for a VM, a container template or a locked
    guest. Only guests the node's token may see (VM.Audit) are listed.

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[UnmanagedGuestRead]]
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
) -> Problem | list[UnmanagedGuestRead] | None:
    """Guests on the node that Infrahaus does not manage

     LXC containers and QEMU VMs on this node whose VMID no container record stands for
    (anyone's registration of the same node counts), and that carry no build marker of a
    record. `adoptable: false` with a `reason` for a VM, a container template or a locked
    guest. Only guests the node's token may see (VM.Audit) are listed.

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[UnmanagedGuestRead]
    """

    return sync_detailed(
        node_id=node_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    node_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | list[UnmanagedGuestRead]]:
    """Guests on the node that Infrahaus does not manage

     LXC containers and QEMU VMs on this node whose VMID no container record stands for
    (anyone's registration of the same node counts), and that carry no build marker of a
    record. `adoptable: false` with a `reason` for a VM, a container template or a locked
    guest. Only guests the node's token may see (VM.Audit) are listed.

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[UnmanagedGuestRead]]
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
) -> Problem | list[UnmanagedGuestRead] | None:
    """Guests on the node that Infrahaus does not manage

     LXC containers and QEMU VMs on this node whose VMID no container record stands for
    (anyone's registration of the same node counts), and that carry no build marker of a
    record. `adoptable: false` with a `reason` for a VM, a container template or a locked
    guest. Only guests the node's token may see (VM.Audit) are listed.

    Args:
        node_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[UnmanagedGuestRead]
    """

    return (
        await asyncio_detailed(
            node_id=node_id,
            client=client,
        )
    ).parsed
