from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.template_source import TemplateSource

if TYPE_CHECKING:
    from ..models.file_read import FileRead
    from ..models.package_read import PackageRead
    from ..models.script_read import ScriptRead


T = TypeVar("T", bound="TemplateRead")


@_attrs_define
class TemplateRead:
    id: UUID
    name: str
    description: str
    os_template: str
    cores: int
    memory: int
    swap: int
    disk: int
    storage: str
    bridge: str
    unprivileged: bool
    nesting: bool
    keyctl: bool
    fuse: bool
    tags: list[str]
    revision: int
    source: TemplateSource
    """ Where a template was made: through the API, or by discovery from `TEMPLATES_DIR`. """
    created_at: datetime.datetime
    updated_at: datetime.datetime
    scripts: list[ScriptRead]
    files: list[FileRead]
    packages: list[PackageRead]

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        description = self.description

        os_template = self.os_template

        cores = self.cores

        memory = self.memory

        swap = self.swap

        disk = self.disk

        storage = self.storage

        bridge = self.bridge

        unprivileged = self.unprivileged

        nesting = self.nesting

        keyctl = self.keyctl

        fuse = self.fuse

        tags = self.tags

        revision = self.revision

        source = self.source.value

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        scripts = []
        for scripts_item_data in self.scripts:
            scripts_item = scripts_item_data.to_dict()
            scripts.append(scripts_item)

        files = []
        for files_item_data in self.files:
            files_item = files_item_data.to_dict()
            files.append(files_item)

        packages = []
        for packages_item_data in self.packages:
            packages_item = packages_item_data.to_dict()
            packages.append(packages_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "description": description,
                "osTemplate": os_template,
                "cores": cores,
                "memory": memory,
                "swap": swap,
                "disk": disk,
                "storage": storage,
                "bridge": bridge,
                "unprivileged": unprivileged,
                "nesting": nesting,
                "keyctl": keyctl,
                "fuse": fuse,
                "tags": tags,
                "revision": revision,
                "source": source,
                "createdAt": created_at,
                "updatedAt": updated_at,
                "scripts": scripts,
                "files": files,
                "packages": packages,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.file_read import FileRead  # noqa: PLC0415
        from ..models.package_read import PackageRead  # noqa: PLC0415
        from ..models.script_read import ScriptRead  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        description = d.pop("description")

        os_template = d.pop("osTemplate")

        cores = d.pop("cores")

        memory = d.pop("memory")

        swap = d.pop("swap")

        disk = d.pop("disk")

        storage = d.pop("storage")

        bridge = d.pop("bridge")

        unprivileged = d.pop("unprivileged")

        nesting = d.pop("nesting")

        keyctl = d.pop("keyctl")

        fuse = d.pop("fuse")

        tags = cast(list[str], d.pop("tags"))

        revision = d.pop("revision")

        source = TemplateSource(d.pop("source"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        scripts = []
        _scripts = d.pop("scripts")
        for scripts_item_data in _scripts:
            scripts_item = ScriptRead.from_dict(scripts_item_data)

            scripts.append(scripts_item)

        files = []
        _files = d.pop("files")
        for files_item_data in _files:
            files_item = FileRead.from_dict(files_item_data)

            files.append(files_item)

        packages = []
        _packages = d.pop("packages")
        for packages_item_data in _packages:
            packages_item = PackageRead.from_dict(packages_item_data)

            packages.append(packages_item)

        template_read = cls(
            id=id,
            name=name,
            description=description,
            os_template=os_template,
            cores=cores,
            memory=memory,
            swap=swap,
            disk=disk,
            storage=storage,
            bridge=bridge,
            unprivileged=unprivileged,
            nesting=nesting,
            keyctl=keyctl,
            fuse=fuse,
            tags=tags,
            revision=revision,
            source=source,
            created_at=created_at,
            updated_at=updated_at,
            scripts=scripts,
            files=files,
            packages=packages,
        )

        return template_read
