from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="DiscoveryErrorRead")


@_attrs_define
class DiscoveryErrorRead:
    template: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        template = self.template

        error = self.error

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "template": template,
                "error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        template = d.pop("template")

        error = d.pop("error")

        discovery_error_read = cls(
            template=template,
            error=error,
        )

        return discovery_error_read
