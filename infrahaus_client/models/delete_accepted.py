from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="DeleteAccepted")


@_attrs_define
class DeleteAccepted:
    id: UUID
    lifecycle: Literal["deleting"]

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        lifecycle = self.lifecycle

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "lifecycle": lifecycle,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        lifecycle = cast(Literal["deleting"], d.pop("lifecycle"))
        if lifecycle != "deleting":
            raise ValueError(f"lifecycle must match const 'deleting', got '{lifecycle}'")

        delete_accepted = cls(
            id=id,
            lifecycle=lifecycle,
        )

        return delete_accepted
