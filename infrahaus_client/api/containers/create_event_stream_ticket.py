from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.stream_ticket import StreamTicket
from ...types import Response


def _get_kwargs(
    container_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/containers/{container_id}/events/ticket".format(
            container_id=quote(str(container_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | StreamTicket | None:
    if response.status_code == 200:
        response_200 = StreamTicket.from_dict(response.json())

        return response_200

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
) -> Response[Problem | StreamTicket]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    container_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | StreamTicket]:
    """A single-use ticket that opens the event stream (for EventSource)

     For a browser with a bearer token: `EventSource` cannot send it, so it opens
    `streamUrl`, whose ticket works once within `expiresIn` seconds and is never logged.

    Args:
        container_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StreamTicket]
    """

    kwargs = _get_kwargs(
        container_id=container_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    container_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Problem | StreamTicket | None:
    """A single-use ticket that opens the event stream (for EventSource)

     For a browser with a bearer token: `EventSource` cannot send it, so it opens
    `streamUrl`, whose ticket works once within `expiresIn` seconds and is never logged.

    Args:
        container_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StreamTicket
    """

    return sync_detailed(
        container_id=container_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    container_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | StreamTicket]:
    """A single-use ticket that opens the event stream (for EventSource)

     For a browser with a bearer token: `EventSource` cannot send it, so it opens
    `streamUrl`, whose ticket works once within `expiresIn` seconds and is never logged.

    Args:
        container_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StreamTicket]
    """

    kwargs = _get_kwargs(
        container_id=container_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    container_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Problem | StreamTicket | None:
    """A single-use ticket that opens the event stream (for EventSource)

     For a browser with a bearer token: `EventSource` cannot send it, so it opens
    `streamUrl`, whose ticket works once within `expiresIn` seconds and is never logged.

    Args:
        container_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StreamTicket
    """

    return (
        await asyncio_detailed(
            container_id=container_id,
            client=client,
        )
    ).parsed
