from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.unmanaged_guest_read_type import UnmanagedGuestReadType

T = TypeVar("T", bound="UnmanagedGuestRead")


@_attrs_define
class UnmanagedGuestRead:
    vmid: int
    type_: UnmanagedGuestReadType
    name: None | str
    status: None | str
    template: bool
    adoptable: bool
    reason: None | str

    def to_dict(self) -> dict[str, Any]:
        vmid = self.vmid

        type_ = self.type_.value

        name: None | str
        name = self.name

        status: None | str
        status = self.status

        template = self.template

        adoptable = self.adoptable

        reason: None | str
        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "vmid": vmid,
                "type": type_,
                "name": name,
                "status": status,
                "template": template,
                "adoptable": adoptable,
                "reason": reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        vmid = d.pop("vmid")

        type_ = UnmanagedGuestReadType(d.pop("type"))

        def _parse_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        name = _parse_name(d.pop("name"))

        def _parse_status(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        status = _parse_status(d.pop("status"))

        template = d.pop("template")

        adoptable = d.pop("adoptable")

        def _parse_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reason = _parse_reason(d.pop("reason"))

        unmanaged_guest_read = cls(
            vmid=vmid,
            type_=type_,
            name=name,
            status=status,
            template=template,
            adoptable=adoptable,
            reason=reason,
        )

        return unmanaged_guest_read
