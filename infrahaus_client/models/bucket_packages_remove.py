from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="BucketPackagesRemove")


@_attrs_define
class BucketPackagesRemove:
    package_ids: list[UUID]

    def to_dict(self) -> dict[str, Any]:
        package_ids = []
        for package_ids_item_data in self.package_ids:
            package_ids_item = str(package_ids_item_data)
            package_ids.append(package_ids_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "packageIds": package_ids,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        package_ids = []
        _package_ids = d.pop("packageIds")
        for package_ids_item_data in _package_ids:
            package_ids_item = UUID(package_ids_item_data)

            package_ids.append(package_ids_item)

        bucket_packages_remove = cls(
            package_ids=package_ids,
        )

        return bucket_packages_remove
