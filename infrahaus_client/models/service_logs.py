from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="ServiceLogs")


@_attrs_define
class ServiceLogs:
    name: str
    lines: list[str]

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        lines = self.lines

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "lines": lines,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        lines = cast(list[str], d.pop("lines"))

        service_logs = cls(
            name=name,
            lines=lines,
        )

        return service_logs
