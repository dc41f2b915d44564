from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ServiceListener")


@_attrs_define
class ServiceListener:
    address: str
    port: int

    def to_dict(self) -> dict[str, Any]:
        address = self.address

        port = self.port

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "address": address,
                "port": port,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        address = d.pop("address")

        port = d.pop("port")

        service_listener = cls(
            address=address,
            port=port,
        )

        return service_listener
