from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.vmid_check_status import VmidCheckStatus

T = TypeVar("T", bound="VmidCheck")


@_attrs_define
class VmidCheck:
    vmid: int
    status: VmidCheckStatus
    checked_at: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        vmid = self.vmid

        status = self.status.value

        checked_at = self.checked_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "vmid": vmid,
                "status": status,
                "checkedAt": checked_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        vmid = d.pop("vmid")

        status = VmidCheckStatus(d.pop("status"))

        checked_at = datetime.datetime.fromisoformat(d.pop("checkedAt"))

        vmid_check = cls(
            vmid=vmid,
            status=status,
            checked_at=checked_at,
        )

        return vmid_check
