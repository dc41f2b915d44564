from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

from ..models.lifecycle import Lifecycle

T = TypeVar("T", bound="CreateAccepted")


@_attrs_define
class CreateAccepted:
    id: UUID
    vmid: int
    lifecycle: Lifecycle
    events_url: str

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        vmid = self.vmid

        lifecycle = self.lifecycle.value

        events_url = self.events_url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "vmid": vmid,
                "lifecycle": lifecycle,
                "eventsUrl": events_url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        vmid = d.pop("vmid")

        lifecycle = Lifecycle(d.pop("lifecycle"))

        events_url = d.pop("eventsUrl")

        create_accepted = cls(
            id=id,
            vmid=vmid,
            lifecycle=lifecycle,
            events_url=events_url,
        )

        return create_accepted
