from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.bucket_packages_add import BucketPackagesAdd
from ...models.bucket_read import BucketRead
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    bucket_id: UUID,
    *,
    body: BucketPackagesAdd,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/buckets/{bucket_id}/packages".format(
            bucket_id=quote(str(bucket_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> BucketRead | Problem | None:
    if response.status_code == 200:
        response_200 = BucketRead.from_dict(response.json())

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

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[BucketRead | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    bucket_id: UUID,
    *,
    client: AuthenticatedClient,
    body: BucketPackagesAdd,
) -> Response[BucketRead | Problem]:
    """Add packages to a bucket

     A package already in the bucket (same manager and name) takes the version sent.

    Args:
        bucket_id (UUID):
        body (BucketPackagesAdd):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BucketRead | Problem]
    """

    kwargs = _get_kwargs(
        bucket_id=bucket_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    bucket_id: UUID,
    *,
    client: AuthenticatedClient,
    body: BucketPackagesAdd,
) -> BucketRead | Problem | None:
    """Add packages to a bucket

     A package already in the bucket (same manager and name) takes the version sent.

    Args:
        bucket_id (UUID):
        body (BucketPackagesAdd):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BucketRead | Problem
    """

    return sync_detailed(
        bucket_id=bucket_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    bucket_id: UUID,
    *,
    client: AuthenticatedClient,
    body: BucketPackagesAdd,
) -> Response[BucketRead | Problem]:
    """Add packages to a bucket

     A package already in the bucket (same manager and name) takes the version sent.

    Args:
        bucket_id (UUID):
        body (BucketPackagesAdd):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BucketRead | Problem]
    """

    kwargs = _get_kwargs(
        bucket_id=bucket_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    bucket_id: UUID,
    *,
    client: AuthenticatedClient,
    body: BucketPackagesAdd,
) -> BucketRead | Problem | None:
    """Add packages to a bucket

     A package already in the bucket (same manager and name) takes the version sent.

    Args:
        bucket_id (UUID):
        body (BucketPackagesAdd):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BucketRead | Problem
    """

    return (
        await asyncio_detailed(
            bucket_id=bucket_id,
            client=client,
            body=body,
        )
    ).parsed
