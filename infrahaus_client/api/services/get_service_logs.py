from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.service_logs import ServiceLogs
from ...types import UNSET, Response, Unset


def _get_kwargs(
    container_id: UUID,
    name: str,
    *,
    lines: int | Unset = 50,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["lines"] = lines

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/containers/{container_id}/services/{name}/logs".format(
            container_id=quote(str(container_id), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | ServiceLogs | None:
    if response.status_code == 200:
        response_200 = ServiceLogs.from_dict(response.json())

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
) -> Response[Problem | ServiceLogs]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    container_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    lines: int | Unset = 50,
) -> Response[Problem | ServiceLogs]:
    """The unit's last journal lines

     `journalctl -u <name> -n <lines>` in the container, lines with syslog-style
    timestamps; 409 when it is not running.

    Args:
        container_id (UUID):
        name (str):
        lines (int | Unset): 1-500 Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServiceLogs]
    """

    kwargs = _get_kwargs(
        container_id=container_id,
        name=name,
        lines=lines,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    container_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    lines: int | Unset = 50,
) -> Problem | ServiceLogs | None:
    """The unit's last journal lines

     `journalctl -u <name> -n <lines>` in the container, lines with syslog-style
    timestamps; 409 when it is not running.

    Args:
        container_id (UUID):
        name (str):
        lines (int | Unset): 1-500 Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServiceLogs
    """

    return sync_detailed(
        container_id=container_id,
        name=name,
        client=client,
        lines=lines,
    ).parsed


async def asyncio_detailed(
    container_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    lines: int | Unset = 50,
) -> Response[Problem | ServiceLogs]:
    """The unit's last journal lines

     `journalctl -u <name> -n <lines>` in the container, lines with syslog-style
    timestamps; 409 when it is not running.

    Args:
        container_id (UUID):
        name (str):
        lines (int | Unset): 1-500 Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServiceLogs]
    """

    kwargs = _get_kwargs(
        container_id=container_id,
        name=name,
        lines=lines,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    container_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    lines: int | Unset = 50,
) -> Problem | ServiceLogs | None:
    """The unit's last journal lines

     `journalctl -u <name> -n <lines>` in the container, lines with syslog-style
    timestamps; 409 when it is not running.

    Args:
        container_id (UUID):
        name (str):
        lines (int | Unset): 1-500 Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServiceLogs
    """

    return (
        await asyncio_detailed(
            container_id=container_id,
            name=name,
            client=client,
            lines=lines,
        )
    ).parsed
