from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.repin_request import RepinRequest
from ...models.repin_response import RepinResponse
from ...types import Response


def _get_kwargs(
    *,
    body: RepinRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/auth/repin",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | RepinResponse | None:
    if response.status_code == 200:
        response_200 = RepinResponse.from_dict(response.json())

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
) -> Response[Problem | RepinResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: RepinRequest,
) -> Response[Problem | RepinResponse]:
    """Pin the certificate your Proxmox host presents now

     After a deliberate certificate change on the host you are logged in to: checks that the
    host presents the certificate with `fingerprint` and pins it for every user of the host.

    Only a session made under the host's current pin may do this (403 otherwise); logins
    never change a pin. A host presenting another certificate than `fingerprint` is a 422
    naming the field. Audited
    (`auth.repin`). Operators can do the same with `python -m shared.pins repin`.

    Args:
        body (RepinRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RepinResponse]
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
    body: RepinRequest,
) -> Problem | RepinResponse | None:
    """Pin the certificate your Proxmox host presents now

     After a deliberate certificate change on the host you are logged in to: checks that the
    host presents the certificate with `fingerprint` and pins it for every user of the host.

    Only a session made under the host's current pin may do this (403 otherwise); logins
    never change a pin. A host presenting another certificate than `fingerprint` is a 422
    naming the field. Audited
    (`auth.repin`). Operators can do the same with `python -m shared.pins repin`.

    Args:
        body (RepinRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RepinResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: RepinRequest,
) -> Response[Problem | RepinResponse]:
    """Pin the certificate your Proxmox host presents now

     After a deliberate certificate change on the host you are logged in to: checks that the
    host presents the certificate with `fingerprint` and pins it for every user of the host.

    Only a session made under the host's current pin may do this (403 otherwise); logins
    never change a pin. A host presenting another certificate than `fingerprint` is a 422
    naming the field. Audited
    (`auth.repin`). Operators can do the same with `python -m shared.pins repin`.

    Args:
        body (RepinRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RepinResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: RepinRequest,
) -> Problem | RepinResponse | None:
    """Pin the certificate your Proxmox host presents now

     After a deliberate certificate change on the host you are logged in to: checks that the
    host presents the certificate with `fingerprint` and pins it for every user of the host.

    Only a session made under the host's current pin may do this (403 otherwise); logins
    never change a pin. A host presenting another certificate than `fingerprint` is a 422
    naming the field. Audited
    (`auth.repin`). Operators can do the same with `python -m shared.pins repin`.

    Args:
        body (RepinRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RepinResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
