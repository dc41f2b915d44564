from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="ScriptRead")


@_attrs_define
class ScriptRead:
    id: UUID
    name: str
    order: int
    content: str
    enabled: bool

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        order = self.order

        content = self.content

        enabled = self.enabled

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "order": order,
                "content": content,
                "enabled": enabled,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        order = d.pop("order")

        content = d.pop("content")

        enabled = d.pop("enabled")

        script_read = cls(
            id=id,
            name=name,
            order=order,
            content=content,
            enabled=enabled,
        )

        return script_read
