from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ScriptInput")


@_attrs_define
class ScriptInput:
    name: str
    """ Safe as a file name: letters, digits, `.`, `_`, `-`; not starting with `.`. """
    order: int
    content: str | Unset = ""
    enabled: bool | Unset = True

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        order = self.order

        content = self.content

        enabled = self.enabled

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "order": order,
            }
        )
        if content is not UNSET:
            field_dict["content"] = content
        if enabled is not UNSET:
            field_dict["enabled"] = enabled

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        order = d.pop("order")

        content = d.pop("content", UNSET)

        enabled = d.pop("enabled", UNSET)

        script_input = cls(
            name=name,
            order=order,
            content=content,
            enabled=enabled,
        )

        return script_input
