"""Templates and package buckets: the rules of storing them, for the API, the CLI and the worker.

Templates own their scripts, files and packages; a bucket's packages are copied into a template
(de-duplicated) when the template is created or edited with that bucket, never linked. Every
change to a template increments its `revision`; a write that changes nothing leaves it alone.
Public methods that change data commit; the `*_in_transaction` helpers used by discovery do not.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.core.errors import Conflict, NotFound
from shared.db.models import Package, PackageBucket, Template, TemplateFile, TemplateScript
from shared.domain import audit
from shared.domain.templates.specs import (
    BucketSpec,
    FileSpec,
    PackageSpec,
    ScriptSpec,
    TemplateSpec,
    merge_packages,
    settings_of,
)

TemplateSort = Literal["name", "-name", "createdAt", "-createdAt", "updatedAt", "-updatedAt"]
Source = Literal["api", "filesystem"]

_SORT_COLUMNS = {
    "name": Template.name,
    "createdAt": Template.created_at,
    "updatedAt": Template.updated_at,
}


@dataclass
class TemplateDetail:
    template: Template
    scripts: list[TemplateScript]
    files: list[TemplateFile]
    packages: list[Package]

    def spec(self) -> TemplateSpec:
        t = self.template
        return TemplateSpec(
            name=t.name,
            settings=settings_of(t),
            # `order` is stored as `sort_order` (ORDER is an SQL keyword)
            scripts=tuple(
                ScriptSpec(name=s.name, order=s.sort_order, content=s.content, enabled=s.enabled)
                for s in self.scripts
            ),
            files=tuple(
                FileSpec(**{f.name: getattr(row, f.name) for f in fields(FileSpec)})
                for row in self.files
            ),
            packages=tuple(package_spec(p) for p in self.packages),
        ).normalized()


@dataclass
class TemplateListItem:
    """A row of the template list with its counts (the API's `TemplateSummary`)."""

    template: Template
    script_count: int
    file_count: int
    package_count: int


@dataclass
class BucketDetail:
    bucket: PackageBucket
    packages: list[Package]


@dataclass
class BucketListItem:
    """A row of the bucket list with its package count (the API's `BucketSummary`)."""

    bucket: PackageBucket
    package_count: int


def package_spec(package: Package) -> PackageSpec:
    return PackageSpec(name=package.name, manager=package.manager, version=package.version)


def _duplicates(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _check_unique_names(spec: TemplateSpec) -> None:
    """Two scripts or two files with one name would overwrite each other in the container."""
    for kind, items in (("script", spec.scripts), ("file", spec.files)):
        dupes = _duplicates(item.name for item in items)
        if dupes:
            raise Conflict(f"more than one {kind} is named {', '.join(map(repr, dupes))}")


async def _page(
    session: AsyncSession, query: Select[Any], limit: int, offset: int
) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.execute(query.limit(limit).offset(offset))).all()
    return rows, int(total or 0)


_Named = TypeVar("_Named", Template, PackageBucket)


class _NamedStore(Generic[_Named]):
    """What the template and the bucket services share: a session, who makes the changes
    (`actor`, their audit rows' user; None for the command line), and a unique name that a
    concurrent request may take first (a 409, never a 500)."""

    model: type[_Named]
    kind: str  # how messages name the thing stored

    def __init__(self, session: AsyncSession, actor: uuid.UUID | None = None) -> None:
        self.session = session
        self.actor = actor

    async def find_by_name(self, name: str) -> _Named | None:
        return await self.session.scalar(select(self.model).where(self.model.name == name))

    async def _ensure_name_free(self, name: str) -> None:
        if await self.find_by_name(name) is not None:
            raise Conflict(f"a {self.kind} named {name!r} already exists")

    async def _flush(self) -> None:
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"a {self.kind} with that name already exists") from exc

    async def _commit(self) -> None:
        try:
            await self.session.commit()
        except IntegrityError as exc:
            raise Conflict(f"a {self.kind} with that name already exists") from exc


class TemplateService(_NamedStore[Template]):
    model = Template
    kind = "template"

    # -- reading ---------------------------------------------------------------------------

    async def list(
        self,
        *,
        search: str | None = None,
        tag: str | None = None,
        sort: TemplateSort = "name",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[TemplateListItem], int]:
        counts = [
            select(func.count())
            .where(model.template_id == Template.id)
            .correlate(Template)
            .scalar_subquery()
            for model in (TemplateScript, TemplateFile, Package)
        ]
        query = select(Template, *counts)
        if search:
            query = query.where(Template.name.icontains(search, autoescape=True))
        if tag:
            query = query.where(Template.tags.contains([tag]))
        column = _SORT_COLUMNS[sort.removeprefix("-")]
        query = query.order_by(column.desc() if sort.startswith("-") else column, Template.id)
        rows, total = await _page(self.session, query, limit, offset)
        return [TemplateListItem(t, s, f, p) for t, s, f, p in rows], total

    async def get(self, template_id: uuid.UUID) -> TemplateDetail:
        template = await self.session.get(Template, template_id)
        if template is None:
            raise NotFound("template not found")
        return await self._detail(template)

    async def _detail(self, template: Template) -> TemplateDetail:
        scripts = await self.session.scalars(
            select(TemplateScript)
            .where(TemplateScript.template_id == template.id)
            .order_by(TemplateScript.sort_order, TemplateScript.name)
        )
        files = await self.session.scalars(
            select(TemplateFile)
            .where(TemplateFile.template_id == template.id)
            .order_by(TemplateFile.name)
        )
        packages = await self.session.scalars(
            select(Package)
            .where(Package.template_id == template.id)
            .order_by(Package.manager, Package.name)
        )
        return TemplateDetail(template, list(scripts), list(files), list(packages))

    # -- changing --------------------------------------------------------------------------

    async def create(
        self, spec: TemplateSpec, bucket_ids: Sequence[uuid.UUID] = ()
    ) -> TemplateDetail:
        """A new template; the buckets' packages are added to `spec.packages`."""
        template = await self.create_in_transaction(spec, bucket_ids)
        audit.record(
            self.session, user_id=self.actor, action="template.create", target_type="template",
            target_id=template.id, name=spec.name,
        )  # fmt: skip
        await self._commit()
        await self.session.refresh(template)  # server-side defaults: timestamps
        return await self._detail(template)

    async def update(
        self,
        template_id: uuid.UUID,
        changes: dict[str, Any],
        bucket_ids: Sequence[uuid.UUID] | None = None,
    ) -> TemplateDetail:
        """PATCH: `changes` holds the fields sent (sub-lists replace the stored ones); the
        buckets' packages are added to the resulting package list."""
        template = await self.session.scalar(
            select(Template).where(Template.id == template_id).with_for_update()
        )
        if template is None:
            raise NotFound("template not found")
        changed = await self.update_in_transaction(template, changes, bucket_ids or ())
        if changed:
            audit.record(
                self.session, user_id=self.actor, action="template.update",
                target_type="template", target_id=template.id, name=template.name,
                fields=sorted(changes) + (["bucketIds"] if bucket_ids else []),
            )  # fmt: skip
            await self._commit()
            await self.session.refresh(template)
        return await self._detail(template)

    async def delete(self, template_id: uuid.UUID) -> None:
        """Containers built from it keep their record; their template link becomes empty."""
        template = await self.session.get(Template, template_id)
        if template is None:
            raise NotFound("template not found")
        audit.record(
            self.session, user_id=self.actor, action="template.delete", target_type="template",
            target_id=template.id, name=template.name,
        )  # fmt: skip
        await self.session.delete(template)
        await self.session.commit()

    async def create_in_transaction(
        self,
        spec: TemplateSpec,
        bucket_ids: Sequence[uuid.UUID] = (),
        source: Source = "api",
    ) -> Template:
        spec = await self._with_buckets(spec, spec.packages, bucket_ids)
        await self._ensure_name_free(spec.name)
        template = Template(id=uuid.uuid4(), revision=1, source=source)
        self._set_scalars(template, spec)
        self.session.add(template)
        await self._flush()
        await self._replace_children(template.id, spec, previous=None)
        return template

    async def update_in_transaction(
        self,
        template: Template,
        changes: dict[str, Any],
        bucket_ids: Sequence[uuid.UUID] = (),
    ) -> bool:
        """Apply the changes; False (and nothing written) when the template stays the same."""
        current = (await self._detail(template)).spec()
        wanted = current.with_values(changes)
        wanted = await self._with_buckets(wanted, wanted.packages, bucket_ids)
        if wanted == current:
            return False
        if wanted.name != current.name:
            await self._ensure_name_free(wanted.name)
        self._set_scalars(template, wanted)
        template.revision = Template.revision + 1
        await self._flush()
        await self._replace_children(template.id, wanted, previous=current)
        return True

    # -- internals -------------------------------------------------------------------------

    async def _with_buckets(
        self,
        spec: TemplateSpec,
        own: Iterable[PackageSpec],
        bucket_ids: Sequence[uuid.UUID],
    ) -> TemplateSpec:
        _check_unique_names(spec)
        extra = await bucket_packages(self.session, bucket_ids) if bucket_ids else []
        return replace(spec, packages=tuple(merge_packages(own, extra))).normalized()

    @staticmethod
    def _set_scalars(template: Template, spec: TemplateSpec) -> None:
        """A setting the spec leaves out keeps the row's value (a new row: the column default)."""
        template.name = spec.name
        for name, value in spec.settings.items():
            setattr(template, name, list(value) if isinstance(value, tuple) else value)

    async def _replace_children(
        self, template_id: uuid.UUID, spec: TemplateSpec, previous: TemplateSpec | None
    ) -> None:
        """Delete and re-insert each sub-list that differs: simple, and always a clean sync."""
        if previous is None or previous.scripts != spec.scripts:
            await self.session.execute(
                delete(TemplateScript).where(TemplateScript.template_id == template_id)
            )
            if spec.scripts:
                await self.session.execute(
                    insert(TemplateScript),
                    [
                        {
                            "id": uuid.uuid4(),
                            "template_id": template_id,
                            "name": s.name,
                            "sort_order": s.order,
                            "content": s.content,
                            "enabled": s.enabled,
                        }
                        for s in spec.scripts
                    ],
                )
        if previous is None or previous.files != spec.files:
            await self.session.execute(
                delete(TemplateFile).where(TemplateFile.template_id == template_id)
            )
            if spec.files:
                await self.session.execute(
                    insert(TemplateFile),
                    [
                        {"id": uuid.uuid4(), "template_id": template_id, **asdict(f)}
                        for f in spec.files
                    ],
                )
        if previous is None or previous.packages != spec.packages:
            await self.session.execute(delete(Package).where(Package.template_id == template_id))
            await _insert_packages(self.session, spec.packages, template_id=template_id)


async def bucket_packages(
    session: AsyncSession, bucket_ids: Sequence[uuid.UUID]
) -> list[PackageSpec]:
    """The packages of these buckets, in the order the buckets were given; 404 if one is gone."""
    wanted = list(dict.fromkeys(bucket_ids))
    found = set(await session.scalars(select(PackageBucket.id).where(PackageBucket.id.in_(wanted))))
    missing = [str(bucket_id) for bucket_id in wanted if bucket_id not in found]
    if missing:
        raise NotFound(f"package bucket not found: {', '.join(missing)}")
    rows = await session.scalars(
        select(Package).where(Package.bucket_id.in_(wanted)).order_by(Package.manager, Package.name)
    )
    by_bucket: dict[uuid.UUID, list[PackageSpec]] = {bucket_id: [] for bucket_id in wanted}
    for package in rows:
        assert package.bucket_id is not None
        by_bucket[package.bucket_id].append(package_spec(package))
    return merge_packages(*by_bucket.values())


async def _insert_packages(
    session: AsyncSession,
    packages: Iterable[PackageSpec],
    *,
    template_id: uuid.UUID | None = None,
    bucket_id: uuid.UUID | None = None,
) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "template_id": template_id,
            "bucket_id": bucket_id,
            "name": p.name,
            "manager": p.manager,
            "version": p.version,
        }
        for p in packages
    ]
    if rows:
        await session.execute(insert(Package), rows)


class BucketService(_NamedStore[PackageBucket]):
    model = PackageBucket
    kind = "package bucket"

    def _audit(self, action: str, bucket: PackageBucket, **detail: Any) -> None:
        audit.record(
            self.session, user_id=self.actor, action=f"bucket.{action}", target_type="bucket",
            target_id=bucket.id, name=bucket.name, **detail,
        )  # fmt: skip

    async def list(
        self, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[BucketListItem], int]:
        count = (
            select(func.count())
            .where(Package.bucket_id == PackageBucket.id)
            .correlate(PackageBucket)
            .scalar_subquery()
        )
        query = select(PackageBucket, count)
        if search:
            query = query.where(PackageBucket.name.icontains(search, autoescape=True))
        query = query.order_by(PackageBucket.name, PackageBucket.id)
        rows, total = await _page(self.session, query, limit, offset)
        return [BucketListItem(bucket, n) for bucket, n in rows], total

    async def get(self, bucket_id: uuid.UUID) -> BucketDetail:
        return await self._detail(await self._bucket(bucket_id))

    async def create(self, spec: BucketSpec) -> BucketDetail:
        bucket = await self.create_in_transaction(spec)
        self._audit("create", bucket)
        await self._commit()
        await self.session.refresh(bucket)  # server-side defaults: timestamps
        return await self._detail(bucket)

    async def create_in_transaction(self, spec: BucketSpec) -> PackageBucket:
        await self._ensure_name_free(spec.name)
        bucket = PackageBucket(id=uuid.uuid4(), name=spec.name, description=spec.description)
        self.session.add(bucket)
        await self._flush()
        await _insert_packages(self.session, merge_packages(spec.packages), bucket_id=bucket.id)
        return bucket

    async def update(self, bucket_id: uuid.UUID, changes: dict[str, Any]) -> BucketDetail:
        """PATCH: `name`, `description`, and `packages` (replaces the list) when sent."""
        bucket = await self._bucket(bucket_id, for_update=True)
        if await self.update_in_transaction(bucket, changes):
            self._audit("update", bucket, fields=sorted(changes))
        await self._commit()
        await self.session.refresh(bucket)
        return await self._detail(bucket)

    async def update_in_transaction(self, bucket: PackageBucket, changes: dict[str, Any]) -> bool:
        changed = False
        name = changes.get("name", bucket.name)
        if name != bucket.name:
            await self._ensure_name_free(name)
            bucket.name, changed = name, True
        description = changes.get("description", bucket.description)
        if description != bucket.description:
            bucket.description, changed = description, True
        if "packages" in changes:
            wanted = sorted(merge_packages(changes["packages"]), key=lambda p: p.key)
            current = (await self._detail(bucket)).packages
            if [package_spec(p) for p in current] != wanted:
                await self.session.execute(delete(Package).where(Package.bucket_id == bucket.id))
                await _insert_packages(self.session, wanted, bucket_id=bucket.id)
                changed = True
        if changed:
            bucket.updated_at = func.now()
            await self._flush()
        return changed

    async def delete(self, bucket_id: uuid.UUID) -> None:
        """Templates keep the packages they copied from it."""
        bucket = await self._bucket(bucket_id)
        self._audit("delete", bucket)
        await self.session.delete(bucket)
        await self.session.commit()

    async def add_packages(
        self, bucket_id: uuid.UUID, packages: Sequence[PackageSpec]
    ) -> BucketDetail:
        """Bulk add; a package already in the bucket takes the version sent."""
        bucket = await self._bucket(bucket_id, for_update=True)
        current = [package_spec(p) for p in (await self._detail(bucket)).packages]
        wanted = merge_packages(packages, current)
        return await self.update(bucket.id, {"packages": wanted})

    async def remove_packages(
        self, bucket_id: uuid.UUID, package_ids: Sequence[uuid.UUID]
    ) -> BucketDetail:
        """Bulk remove by package id; ids that are not in this bucket are ignored."""
        bucket = await self._bucket(bucket_id, for_update=True)
        if package_ids:
            result = await self.session.execute(
                delete(Package).where(Package.bucket_id == bucket.id, Package.id.in_(package_ids))
            )
            removed = getattr(result, "rowcount", 0)
            if removed:
                bucket.updated_at = func.now()
                self._audit("update", bucket, fields=["packages"], removed=removed)
        await self.session.commit()
        await self.session.refresh(bucket)
        return await self._detail(bucket)

    async def _bucket(self, bucket_id: uuid.UUID, *, for_update: bool = False) -> PackageBucket:
        query = select(PackageBucket).where(PackageBucket.id == bucket_id)
        bucket = await self.session.scalar(query.with_for_update() if for_update else query)
        if bucket is None:
            raise NotFound("package bucket not found")
        return bucket

    async def _detail(self, bucket: PackageBucket) -> BucketDetail:
        packages = await self.session.scalars(
            select(Package)
            .where(Package.bucket_id == bucket.id)
            .order_by(Package.manager, Package.name)
        )
        return BucketDetail(bucket, list(packages))
