from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    container_id: UUID,
    *,
    last_event_id_query: int | Unset = 0,
    last_event_id_header: int | Unset = 0,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id_header, Unset):
        headers["Last-Event-ID"] = str(last_event_id_header)

    params: dict[str, Any] = {}

    params["lastEventId"] = last_event_id_query

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/containers/{container_id}/events/stream".format(
            container_id=quote(str(container_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | str | None:
    if response.status_code == 200:
        response_200 = response.text
        return response_200

    if response.status_code == 204:
        response_204 = cast(Any, None)
        return response_204

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
) -> Response[Any | Problem | str]:
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
    last_event_id_query: int | Unset = 0,
    last_event_id_header: int | Unset = 0,
) -> Response[Any | Problem | str]:
    """The container's progress events, live (Server-Sent Events)

     A `text/event-stream` (Server-Sent Events). The first frame is a `retry:` hint in milliseconds.
    Every event is one frame:

    ```
    id: <seq>
    event: <step|log|complete|error>
    data: <the event as JSON: the same object as an item of ListContainerEvents>
    ```

    Events come in `seq` order, each once. While nothing happens, a comment line (`: ping`) is sent
    every 15 seconds. The stream ends after a `complete` or `error` event. To resume, reconnect with
    the last `id` received in the `Last-Event-ID` header (EventSource does this by itself) or the
    `lastEventId` query parameter: the stream replays from the next event.

    A browser's `EventSource` sends no `Authorization` header. With the session cookie
    (`withCredentials: true` from another origin) it reconnects by itself. A bearer client asks
    a single-use ticket (`POST .../events/ticket`) and opens `streamUrl`; the ticket is used up, so
    when the connection drops (EventSource's retry is then refused with a 401 and it closes), the
    client asks a new ticket and opens the new `streamUrl` with `&lastEventId=<last id>`.

    Args:
        container_id (UUID):
        last_event_id_query (int | Unset): Like the `Last-Event-ID` header, for clients that
            cannot set it Default: 0.
        last_event_id_header (int | Unset): The last seq received; set by EventSource when it
            reconnects Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | str]
    """

    kwargs = _get_kwargs(
        container_id=container_id,
        last_event_id_query=last_event_id_query,
        last_event_id_header=last_event_id_header,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    container_id: UUID,
    *,
    client: AuthenticatedClient,
    last_event_id_query: int | Unset = 0,
    last_event_id_header: int | Unset = 0,
) -> Any | Problem | str | None:
    """The container's progress events, live (Server-Sent Events)

     A `text/event-stream` (Server-Sent Events). The first frame is a `retry:` hint in milliseconds.
    Every event is one frame:

    ```
    id: <seq>
    event: <step|log|complete|error>
    data: <the event as JSON: the same object as an item of ListContainerEvents>
    ```

    Events come in `seq` order, each once. While nothing happens, a comment line (`: ping`) is sent
    every 15 seconds. The stream ends after a `complete` or `error` event. To resume, reconnect with
    the last `id` received in the `Last-Event-ID` header (EventSource does this by itself) or the
    `lastEventId` query parameter: the stream replays from the next event.

    A browser's `EventSource` sends no `Authorization` header. With the session cookie
    (`withCredentials: true` from another origin) it reconnects by itself. A bearer client asks
    a single-use ticket (`POST .../events/ticket`) and opens `streamUrl`; the ticket is used up, so
    when the connection drops (EventSource's retry is then refused with a 401 and it closes), the
    client asks a new ticket and opens the new `streamUrl` with `&lastEventId=<last id>`.

    Args:
        container_id (UUID):
        last_event_id_query (int | Unset): Like the `Last-Event-ID` header, for clients that
            cannot set it Default: 0.
        last_event_id_header (int | Unset): The last seq received; set by EventSource when it
            reconnects Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | str
    """

    return sync_detailed(
        container_id=container_id,
        client=client,
        last_event_id_query=last_event_id_query,
        last_event_id_header=last_event_id_header,
    ).parsed


async def asyncio_detailed(
    container_id: UUID,
    *,
    client: AuthenticatedClient,
    last_event_id_query: int | Unset = 0,
    last_event_id_header: int | Unset = 0,
) -> Response[Any | Problem | str]:
    """The container's progress events, live (Server-Sent Events)

     A `text/event-stream` (Server-Sent Events). The first frame is a `retry:` hint in milliseconds.
    Every event is one frame:

    ```
    id: <seq>
    event: <step|log|complete|error>
    data: <the event as JSON: the same object as an item of ListContainerEvents>
    ```

    Events come in `seq` order, each once. While nothing happens, a comment line (`: ping`) is sent
    every 15 seconds. The stream ends after a `complete` or `error` event. To resume, reconnect with
    the last `id` received in the `Last-Event-ID` header (EventSource does this by itself) or the
    `lastEventId` query parameter: the stream replays from the next event.

    A browser's `EventSource` sends no `Authorization` header. With the session cookie
    (`withCredentials: true` from another origin) it reconnects by itself. A bearer client asks
    a single-use ticket (`POST .../events/ticket`) and opens `streamUrl`; the ticket is used up, so
    when the connection drops (EventSource's retry is then refused with a 401 and it closes), the
    client asks a new ticket and opens the new `streamUrl` with `&lastEventId=<last id>`.

    Args:
        container_id (UUID):
        last_event_id_query (int | Unset): Like the `Last-Event-ID` header, for clients that
            cannot set it Default: 0.
        last_event_id_header (int | Unset): The last seq received; set by EventSource when it
            reconnects Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | str]
    """

    kwargs = _get_kwargs(
        container_id=container_id,
        last_event_id_query=last_event_id_query,
        last_event_id_header=last_event_id_header,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    container_id: UUID,
    *,
    client: AuthenticatedClient,
    last_event_id_query: int | Unset = 0,
    last_event_id_header: int | Unset = 0,
) -> Any | Problem | str | None:
    """The container's progress events, live (Server-Sent Events)

     A `text/event-stream` (Server-Sent Events). The first frame is a `retry:` hint in milliseconds.
    Every event is one frame:

    ```
    id: <seq>
    event: <step|log|complete|error>
    data: <the event as JSON: the same object as an item of ListContainerEvents>
    ```

    Events come in `seq` order, each once. While nothing happens, a comment line (`: ping`) is sent
    every 15 seconds. The stream ends after a `complete` or `error` event. To resume, reconnect with
    the last `id` received in the `Last-Event-ID` header (EventSource does this by itself) or the
    `lastEventId` query parameter: the stream replays from the next event.

    A browser's `EventSource` sends no `Authorization` header. With the session cookie
    (`withCredentials: true` from another origin) it reconnects by itself. A bearer client asks
    a single-use ticket (`POST .../events/ticket`) and opens `streamUrl`; the ticket is used up, so
    when the connection drops (EventSource's retry is then refused with a 401 and it closes), the
    client asks a new ticket and opens the new `streamUrl` with `&lastEventId=<last id>`.

    Args:
        container_id (UUID):
        last_event_id_query (int | Unset): Like the `Last-Event-ID` header, for clients that
            cannot set it Default: 0.
        last_event_id_header (int | Unset): The last seq received; set by EventSource when it
            reconnects Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | str
    """

    return (
        await asyncio_detailed(
            container_id=container_id,
            client=client,
            last_event_id_query=last_event_id_query,
            last_event_id_header=last_event_id_header,
        )
    ).parsed
