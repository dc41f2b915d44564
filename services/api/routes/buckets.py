"""Package buckets: reusable package lists that templates copy from."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import SECURITY, template_editors_only
from services.api.problems import problem_responses
from services.api.routes.templates import Limit, Offset, Search, actor_of
from services.api.schemas import from_row
from services.api.schemas.templates import (
    BucketCreate,
    BucketPackagesAdd,
    BucketPackagesRemove,
    BucketPage,
    BucketRead,
    BucketSummary,
    BucketUpdate,
    package_specs,
)
from shared.domain.templates.service import BucketDetail, BucketService
from shared.domain.templates.specs import BucketSpec


def bucket_read(detail: BucketDetail) -> BucketRead:
    return from_row(detail.bucket, BucketRead, packages=detail.packages)


def provide_bucket_service(
    request: Request[Any, Any, Any], db_session: AsyncSession
) -> BucketService:
    return BucketService(db_session, actor_of(request))


class BucketController(Controller):
    path = "/api/buckets"
    tags = ["Buckets"]
    security = SECURITY
    dependencies = {"buckets": Provide(provide_bucket_service, sync_to_thread=False)}

    @get(
        operation_id="ListBuckets",
        summary="Package buckets, paged",
        responses=problem_responses(400, 401),
    )
    async def list_buckets(
        self,
        buckets: NamedDependency[BucketService],
        search: Search = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> BucketPage:
        items, total = await buckets.list(search=search, limit=limit, offset=offset)
        return BucketPage(
            items=[
                from_row(item.bucket, BucketSummary, package_count=item.package_count)
                for item in items
            ],
            total=total,
            limit=limit,
            offset=offset,
        )

    @post(
        operation_id="CreateBucket",
        guards=[template_editors_only],
        summary="Create a package bucket",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 409),
    )
    async def create_bucket(
        self, data: JSONBody[BucketCreate], buckets: NamedDependency[BucketService]
    ) -> BucketRead:
        """A package listed twice (same manager and name) is kept once, the first entry wins."""
        spec = BucketSpec(
            name=data.name,
            description=data.description,
            packages=list(package_specs(data.packages)),
        )
        return bucket_read(await buckets.create(spec))

    @get(
        "/{bucket_id:uuid}",
        operation_id="GetBucket",
        summary="One package bucket with its packages",
        responses=problem_responses(400, 401, 404),
    )
    async def get_bucket(
        self, bucket_id: uuid.UUID, buckets: NamedDependency[BucketService]
    ) -> BucketRead:
        return bucket_read(await buckets.get(bucket_id))

    @patch(
        "/{bucket_id:uuid}",
        operation_id="UpdateBucket",
        guards=[template_editors_only],
        summary="Change a package bucket",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def update_bucket(
        self,
        bucket_id: uuid.UUID,
        data: JSONBody[BucketUpdate],
        buckets: NamedDependency[BucketService],
    ) -> BucketRead:
        """Only the fields sent change; `packages` sent replaces the list. Templates that
        copied packages from this bucket keep their copies."""
        changes: dict[str, Any] = {}
        if data.name is not msgspec.UNSET:
            changes["name"] = data.name
        if data.description is not msgspec.UNSET:
            changes["description"] = data.description
        if data.packages is not msgspec.UNSET:
            changes["packages"] = list(package_specs(data.packages))
        return bucket_read(await buckets.update(bucket_id, changes))

    @delete(
        "/{bucket_id:uuid}",
        operation_id="DeleteBucket",
        guards=[template_editors_only],
        summary="Delete a package bucket",
        status_code=HTTP_204_NO_CONTENT,
        responses={
            HTTP_204_NO_CONTENT: ResponseSpec(None, description="Deleted."),
            **problem_responses(400, 401, 403, 404),
        },
    )
    async def delete_bucket(
        self, bucket_id: uuid.UUID, buckets: NamedDependency[BucketService]
    ) -> None:
        """Templates keep the packages they copied from it."""
        await buckets.delete(bucket_id)

    @post(
        "/{bucket_id:uuid}/packages",
        operation_id="AddBucketPackages",
        guards=[template_editors_only],
        summary="Add packages to a bucket",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404),
    )
    async def add_packages(
        self,
        bucket_id: uuid.UUID,
        data: JSONBody[BucketPackagesAdd],
        buckets: NamedDependency[BucketService],
    ) -> BucketRead:
        """A package already in the bucket (same manager and name) takes the version sent."""
        detail = await buckets.add_packages(bucket_id, package_specs(data.packages))
        return bucket_read(detail)

    @post(
        "/{bucket_id:uuid}/packages/remove",
        operation_id="RemoveBucketPackages",
        guards=[template_editors_only],
        summary="Remove packages from a bucket",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404),
    )
    async def remove_packages(
        self,
        bucket_id: uuid.UUID,
        data: JSONBody[BucketPackagesRemove],
        buckets: NamedDependency[BucketService],
    ) -> BucketRead:
        """By package id; ids that are not in this bucket are ignored."""
        return bucket_read(await buckets.remove_packages(bucket_id, data.package_ids))
