from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.package_read_manager import PackageReadManager

T = TypeVar("T", bound="PackageRead")


@_attrs_define
class PackageRead:
    id: UUID
    name: str
    manager: PackageReadManager
    version: None | str

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        manager = self.manager.value

        version: None | str
        version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "manager": manager,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        manager = PackageReadManager(d.pop("manager"))

        def _parse_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        version = _parse_version(d.pop("version"))

        package_read = cls(
            id=id,
            name=name,
            manager=manager,
            version=version,
        )

        return package_read
