from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="ContainerDrift")


@_attrs_define
class ContainerDrift:
    container_id: UUID
    vmid: int
    hostname: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        container_id = str(self.container_id)

        vmid = self.vmid

        hostname = self.hostname

        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "containerId": container_id,
                "vmid": vmid,
                "hostname": hostname,
                "reason": reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        container_id = UUID(d.pop("containerId"))

        vmid = d.pop("vmid")

        hostname = d.pop("hostname")

        reason = d.pop("reason")

        container_drift = cls(
            container_id=container_id,
            vmid=vmid,
            hostname=hostname,
            reason=reason,
        )

        return container_drift
