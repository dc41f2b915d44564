import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.audit_page import AuditPage
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    action: str | Unset = UNSET,
    target_type: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["action"] = action

    params["targetType"] = target_type

    params["targetId"] = target_id

    json_since: str | Unset = UNSET
    if not isinstance(since, Unset):
        json_since = since.isoformat()
    params["since"] = json_since

    json_until: str | Unset = UNSET
    if not isinstance(until, Unset):
        json_until = until.isoformat()
    params["until"] = json_until

    params["limit"] = limit

    params["offset"] = offset

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/audit",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AuditPage | Problem | None:
    if response.status_code == 200:
        response_200 = AuditPage.from_dict(response.json())

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
) -> Response[AuditPage | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_type: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> Response[AuditPage | Problem]:
    """Your audit trail, newest first, paged

     Only the caller's own rows: changes to their nodes and containers, the template and
    bucket changes they made, credential reveals, log-ins and certificate re-pins, with the
    outcome and the request id. A `since` later than `until` is a 400.

    Args:
        action (str | Unset): Only this action, e.g. `container.create`, `node.update`,
            `container.credentials.reveal`.
        target_type (str | Unset): Only rows about this kind of object: `container`, `node`,
            `pve_host`.
        target_id (str | Unset): Only rows about this object (its id, as `targetId` shows it).
        since (datetime.datetime | Unset): Only rows at or after this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        until (datetime.datetime | Unset): Only rows at or before this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditPage | Problem]
    """

    kwargs = _get_kwargs(
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_type: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> AuditPage | Problem | None:
    """Your audit trail, newest first, paged

     Only the caller's own rows: changes to their nodes and containers, the template and
    bucket changes they made, credential reveals, log-ins and certificate re-pins, with the
    outcome and the request id. A `since` later than `until` is a 400.

    Args:
        action (str | Unset): Only this action, e.g. `container.create`, `node.update`,
            `container.credentials.reveal`.
        target_type (str | Unset): Only rows about this kind of object: `container`, `node`,
            `pve_host`.
        target_id (str | Unset): Only rows about this object (its id, as `targetId` shows it).
        since (datetime.datetime | Unset): Only rows at or after this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        until (datetime.datetime | Unset): Only rows at or before this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditPage | Problem
    """

    return sync_detailed(
        client=client,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_type: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> Response[AuditPage | Problem]:
    """Your audit trail, newest first, paged

     Only the caller's own rows: changes to their nodes and containers, the template and
    bucket changes they made, credential reveals, log-ins and certificate re-pins, with the
    outcome and the request id. A `since` later than `until` is a 400.

    Args:
        action (str | Unset): Only this action, e.g. `container.create`, `node.update`,
            `container.credentials.reveal`.
        target_type (str | Unset): Only rows about this kind of object: `container`, `node`,
            `pve_host`.
        target_id (str | Unset): Only rows about this object (its id, as `targetId` shows it).
        since (datetime.datetime | Unset): Only rows at or after this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        until (datetime.datetime | Unset): Only rows at or before this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditPage | Problem]
    """

    kwargs = _get_kwargs(
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_type: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> AuditPage | Problem | None:
    """Your audit trail, newest first, paged

     Only the caller's own rows: changes to their nodes and containers, the template and
    bucket changes they made, credential reveals, log-ins and certificate re-pins, with the
    outcome and the request id. A `since` later than `until` is a 400.

    Args:
        action (str | Unset): Only this action, e.g. `container.create`, `node.update`,
            `container.credentials.reveal`.
        target_type (str | Unset): Only rows about this kind of object: `container`, `node`,
            `pve_host`.
        target_id (str | Unset): Only rows about this object (its id, as `targetId` shows it).
        since (datetime.datetime | Unset): Only rows at or after this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        until (datetime.datetime | Unset): Only rows at or before this instant. RFC 3339 date-time
            with an offset, e.g. `2026-12-01T00:00:00Z`.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditPage | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            action=action,
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    ).parsed
