from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.login_request import LoginRequest
from ...models.login_response import LoginResponse
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    *,
    body: LoginRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/auth/login",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> LoginResponse | Problem | None:
    if response.status_code == 200:
        response_200 = LoginResponse.from_dict(response.json())

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

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

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
) -> Response[LoginResponse | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> Response[LoginResponse | Problem]:
    """Log in with Proxmox credentials

     Checks the credentials against the host's `/access/ticket` and starts a session.

    The session cookie is HttpOnly; send `csrfToken` as `X-CSRF-Token` on unsafe requests, or
    use `token` as `Authorization: Bearer <token>` instead of the cookie. The host's TLS
    certificate is pinned at the first login (or to `fingerprint` when given); a later change
    is refused until the new fingerprint is given.

    A host that cannot be reached or is not Proxmox VE, and a `fingerprint` the host does not
    present at first contact, are 422s naming the field.

    Args:
        body (LoginRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LoginResponse | Problem]
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
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> LoginResponse | Problem | None:
    """Log in with Proxmox credentials

     Checks the credentials against the host's `/access/ticket` and starts a session.

    The session cookie is HttpOnly; send `csrfToken` as `X-CSRF-Token` on unsafe requests, or
    use `token` as `Authorization: Bearer <token>` instead of the cookie. The host's TLS
    certificate is pinned at the first login (or to `fingerprint` when given); a later change
    is refused until the new fingerprint is given.

    A host that cannot be reached or is not Proxmox VE, and a `fingerprint` the host does not
    present at first contact, are 422s naming the field.

    Args:
        body (LoginRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LoginResponse | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> Response[LoginResponse | Problem]:
    """Log in with Proxmox credentials

     Checks the credentials against the host's `/access/ticket` and starts a session.

    The session cookie is HttpOnly; send `csrfToken` as `X-CSRF-Token` on unsafe requests, or
    use `token` as `Authorization: Bearer <token>` instead of the cookie. The host's TLS
    certificate is pinned at the first login (or to `fingerprint` when given); a later change
    is refused until the new fingerprint is given.

    A host that cannot be reached or is not Proxmox VE, and a `fingerprint` the host does not
    present at first contact, are 422s naming the field.

    Args:
        body (LoginRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LoginResponse | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> LoginResponse | Problem | None:
    """Log in with Proxmox credentials

     Checks the credentials against the host's `/access/ticket` and starts a session.

    The session cookie is HttpOnly; send `csrfToken` as `X-CSRF-Token` on unsafe requests, or
    use `token` as `Authorization: Bearer <token>` instead of the cookie. The host's TLS
    certificate is pinned at the first login (or to `fingerprint` when given); a later change
    is refused until the new fingerprint is given.

    A host that cannot be reached or is not Proxmox VE, and a `fingerprint` the host does not
    present at first contact, are 422s naming the field.

    Args:
        body (LoginRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LoginResponse | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
