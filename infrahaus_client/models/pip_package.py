from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PipPackage")


@_attrs_define
class PipPackage:
    name: str
    manager: Literal["pip"]
    version: None | str | Unset = UNSET
    """ An exact version; absent means the newest. """

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        manager = self.manager

        version: None | str | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "manager": manager,
            }
        )
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        manager = cast(Literal["pip"], d.pop("manager"))
        if manager != "pip":
            raise ValueError(f"manager must match const 'pip', got '{manager}'")

        def _parse_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        pip_package = cls(
            name=name,
            manager=manager,
            version=version,
        )

        return pip_package
