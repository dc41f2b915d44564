"""Templates: list, read, create, change, delete, and sync from the templates directory."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import SECURITY, CurrentUser, template_editors_only
from services.api.problems import problem_responses
from services.api.schemas import from_row
from services.api.schemas.templates import (
    DiscoveryResult,
    ScriptRead,
    TemplateCreate,
    TemplatePage,
    TemplateRead,
    TemplateSummary,
    TemplateUpdate,
    package_specs,
)
from shared.domain.templates import rules
from shared.domain.templates.discovery import discover
from shared.domain.templates.service import TemplateDetail, TemplateService, TemplateSort
from shared.domain.templates.specs import TemplateSpec

Limit = Annotated[int, Parameter(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000, description="Items to skip.")]
Search = Annotated[
    str | None,
    Parameter(
        max_length=rules.NAME_MAX,
        pattern=rules.TEXT,
        description="Case-insensitive part of the name.",
    ),
]


def template_read(detail: TemplateDetail) -> TemplateRead:
    return from_row(
        detail.template,
        TemplateRead,
        # `order` is stored as `sort_order` (ORDER is an SQL keyword)
        scripts=[from_row(s, ScriptRead, order=s.sort_order) for s in detail.scripts],
        files=detail.files,
        packages=detail.packages,
    )


def _values(data: TemplateCreate | TemplateUpdate) -> dict[str, Any]:
    """The TemplateSpec values a body sets (by field name), sub-lists converted to specs."""
    values: dict[str, Any] = {}
    for name in data.__struct_fields__:
        value = getattr(data, name)
        if value is msgspec.UNSET or name == "bucket_ids":
            continue
        if name in ("scripts", "files"):
            value = tuple(item.spec() for item in value)
        elif name == "packages":
            value = package_specs(value)
        values[name] = value
    return values


def actor_of(request: Request[Any, Any, Any]) -> uuid.UUID | None:
    """The logged-in user making a change (their audit rows' user)."""
    user = request.scope.get("user")
    return user.id if isinstance(user, CurrentUser) else None


def provide_template_service(
    request: Request[Any, Any, Any], db_session: AsyncSession
) -> TemplateService:
    return TemplateService(db_session, actor_of(request))


class TemplateController(Controller):
    path = "/api/templates"
    tags = ["Templates"]
    security = SECURITY
    dependencies = {"templates": Provide(provide_template_service, sync_to_thread=False)}

    @get(
        operation_id="ListTemplates",
        summary="Templates, paged",
        responses=problem_responses(400, 401),
    )
    async def list_templates(
        self,
        templates: NamedDependency[TemplateService],
        search: Search = None,
        tag: Annotated[
            str | None, Parameter(pattern=rules.TAG, description="Only templates with this tag.")
        ] = None,
        sort: Annotated[
            TemplateSort, Parameter(description="Field to sort by; `-` for descending.")
        ] = "name",
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> TemplatePage:
        items, total = await templates.list(
            search=search, tag=tag, sort=sort, limit=limit, offset=offset
        )
        return TemplatePage(
            items=[
                from_row(
                    item.template,
                    TemplateSummary,
                    script_count=item.script_count,
                    file_count=item.file_count,
                    package_count=item.package_count,
                )
                for item in items
            ],
            total=total,
            limit=limit,
            offset=offset,
        )

    @post(
        operation_id="CreateTemplate",
        guards=[template_editors_only],
        summary="Create a template",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def create_template(
        self, data: JSONBody[TemplateCreate], templates: NamedDependency[TemplateService]
    ) -> TemplateRead:
        """`bucketIds` copies those buckets' packages into the template (404 for an unknown
        bucket); a package listed in `packages` wins over the same one from a bucket. Two
        scripts or two files with the same name are a 409."""
        spec = TemplateSpec(name=data.name).with_values(_values(data))
        return template_read(await templates.create(spec, data.bucket_ids))

    @post(
        "/discover",
        operation_id="DiscoverTemplates",
        guards=[template_editors_only],
        summary="Sync templates from the templates directory",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403),
    )
    async def discover_templates(
        self, request: Request[Any, Any, Any], state: State, db_session: AsyncSession
    ) -> DiscoveryResult:
        """Reads `TEMPLATES_DIR` (one directory per template) and creates or updates the
        templates it describes; a broken template is listed in `errors` and the others still
        sync. Idempotent: a template that did not change is listed in `unchanged`."""
        report = await discover(db_session, Path(state.settings.templates_dir), actor_of(request))
        return from_row(report, DiscoveryResult)

    @get(
        "/{template_id:uuid}",
        operation_id="GetTemplate",
        summary="One template with its scripts, files and packages",
        responses=problem_responses(400, 401, 404),
    )
    async def get_template(
        self, template_id: uuid.UUID, templates: NamedDependency[TemplateService]
    ) -> TemplateRead:
        return template_read(await templates.get(template_id))

    @patch(
        "/{template_id:uuid}",
        operation_id="UpdateTemplate",
        guards=[template_editors_only],
        summary="Change a template",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def update_template(
        self,
        template_id: uuid.UUID,
        data: JSONBody[TemplateUpdate],
        templates: NamedDependency[TemplateService],
    ) -> TemplateRead:
        """Only the fields sent change; `scripts`, `files` or `packages` sent replace the stored
        list, the others are kept. `bucketIds` adds those buckets' packages. `revision`
        increments when anything changed."""
        bucket_ids = None if data.bucket_ids is msgspec.UNSET else data.bucket_ids
        detail = await templates.update(template_id, _values(data), bucket_ids)
        return template_read(detail)

    @delete(
        "/{template_id:uuid}",
        operation_id="DeleteTemplate",
        guards=[template_editors_only],
        summary="Delete a template",
        status_code=HTTP_204_NO_CONTENT,
        responses={
            HTTP_204_NO_CONTENT: ResponseSpec(None, description="Deleted."),
            **problem_responses(400, 401, 403, 404),
        },
    )
    async def delete_template(
        self, template_id: uuid.UUID, templates: NamedDependency[TemplateService]
    ) -> None:
        """Containers built from it keep their record; their template link becomes empty."""
        await templates.delete(template_id)
