from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.list_templates_sort import ListTemplatesSort
from ...models.problem import Problem
from ...models.template_page import TemplatePage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    search: str | Unset = UNSET,
    tag: str | Unset = UNSET,
    sort: ListTemplatesSort | Unset = ListTemplatesSort.NAME,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["search"] = search

    params["tag"] = tag

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    params["limit"] = limit

    params["offset"] = offset

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/templates",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | TemplatePage | None:
    if response.status_code == 200:
        response_200 = TemplatePage.from_dict(response.json())

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
) -> Response[Problem | TemplatePage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    search: str | Unset = UNSET,
    tag: str | Unset = UNSET,
    sort: ListTemplatesSort | Unset = ListTemplatesSort.NAME,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> Response[Problem | TemplatePage]:
    """Templates, paged

    Args:
        search (str | Unset): Case-insensitive part of the name.
        tag (str | Unset): Only templates with this tag.
        sort (ListTemplatesSort | Unset): Field to sort by; `-` for descending. Default:
            ListTemplatesSort.NAME.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TemplatePage]
    """

    kwargs = _get_kwargs(
        search=search,
        tag=tag,
        sort=sort,
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
    search: str | Unset = UNSET,
    tag: str | Unset = UNSET,
    sort: ListTemplatesSort | Unset = ListTemplatesSort.NAME,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> Problem | TemplatePage | None:
    """Templates, paged

    Args:
        search (str | Unset): Case-insensitive part of the name.
        tag (str | Unset): Only templates with this tag.
        sort (ListTemplatesSort | Unset): Field to sort by; `-` for descending. Default:
            ListTemplatesSort.NAME.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TemplatePage
    """

    return sync_detailed(
        client=client,
        search=search,
        tag=tag,
        sort=sort,
        limit=limit,
        offset=offset,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    search: str | Unset = UNSET,
    tag: str | Unset = UNSET,
    sort: ListTemplatesSort | Unset = ListTemplatesSort.NAME,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> Response[Problem | TemplatePage]:
    """Templates, paged

    Args:
        search (str | Unset): Case-insensitive part of the name.
        tag (str | Unset): Only templates with this tag.
        sort (ListTemplatesSort | Unset): Field to sort by; `-` for descending. Default:
            ListTemplatesSort.NAME.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TemplatePage]
    """

    kwargs = _get_kwargs(
        search=search,
        tag=tag,
        sort=sort,
        limit=limit,
        offset=offset,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    search: str | Unset = UNSET,
    tag: str | Unset = UNSET,
    sort: ListTemplatesSort | Unset = ListTemplatesSort.NAME,
    limit: int | Unset = 50,
    offset: int | Unset = 0,
) -> Problem | TemplatePage | None:
    """Templates, paged

    Args:
        search (str | Unset): Case-insensitive part of the name.
        tag (str | Unset): Only templates with this tag.
        sort (ListTemplatesSort | Unset): Field to sort by; `-` for descending. Default:
            ListTemplatesSort.NAME.
        limit (int | Unset): Page size. Default: 50.
        offset (int | Unset): Items to skip. Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TemplatePage
    """

    return (
        await asyncio_detailed(
            client=client,
            search=search,
            tag=tag,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    ).parsed
