from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.template_source import TemplateSource

T = TypeVar("T", bound="TemplateSummary")


@_attrs_define
class TemplateSummary:
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
    script_count: int
    file_count: int
    package_count: int

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

        script_count = self.script_count

        file_count = self.file_count

        package_count = self.package_count

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
                "scriptCount": script_count,
                "fileCount": file_count,
                "packageCount": package_count,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
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

        script_count = d.pop("scriptCount")

        file_count = d.pop("fileCount")

        package_count = d.pop("packageCount")

        template_summary = cls(
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
            script_count=script_count,
            file_count=file_count,
            package_count=package_count,
        )

        return template_summary
