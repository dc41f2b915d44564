from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="AdoptRequest")


@_attrs_define
class AdoptRequest:
    vmid: int

    def to_dict(self) -> dict[str, Any]:
        vmid = self.vmid

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "vmid": vmid,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        vmid = d.pop("vmid")

        adopt_request = cls(
            vmid=vmid,
        )

        return adopt_request
