from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="VmidRefresh")


@_attrs_define
class VmidRefresh:
    count: int
    refreshed_at: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        count = self.count

        refreshed_at = self.refreshed_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "count": count,
                "refreshedAt": refreshed_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        count = d.pop("count")

        refreshed_at = datetime.datetime.fromisoformat(d.pop("refreshedAt"))

        vmid_refresh = cls(
            count=count,
            refreshed_at=refreshed_at,
        )

        return vmid_refresh
