from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.apt_package import AptPackage
    from ..models.npm_package import NpmPackage
    from ..models.pip_package import PipPackage


T = TypeVar("T", bound="BucketUpdate")


@_attrs_define
class BucketUpdate:
    name: str | Unset = UNSET
    """ Unique name; printable characters. """
    description: str | Unset = UNSET
    packages: list[AptPackage | NpmPackage | PipPackage] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415

        name: str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        description: str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        packages: list[dict[str, Any]] | Unset
        if isinstance(self.packages, Unset):
            packages = UNSET
        else:
            packages = []
            for packages_type_0_item_data in self.packages:
                packages_type_0_item: dict[str, Any]
                if isinstance(packages_type_0_item_data, AptPackage):
                    packages_type_0_item = packages_type_0_item_data.to_dict()
                elif isinstance(packages_type_0_item_data, PipPackage):
                    packages_type_0_item = packages_type_0_item_data.to_dict()
                else:
                    packages_type_0_item = packages_type_0_item_data.to_dict()

                packages.append(packages_type_0_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if packages is not UNSET:
            field_dict["packages"] = packages

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.npm_package import NpmPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_name(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_description(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_packages(data: object) -> list[AptPackage | NpmPackage | PipPackage] | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, list):
                raise TypeError()
            packages_type_0 = []
            _packages_type_0 = data
            for packages_type_0_item_data in _packages_type_0:

                def _parse_packages_type_0_item(
                    data: object,
                ) -> AptPackage | NpmPackage | PipPackage:
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_type_0_item_type_0 = AptPackage.from_dict(data)

                        return packages_type_0_item_type_0
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_type_0_item_type_1 = PipPackage.from_dict(data)

                        return packages_type_0_item_type_1
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    if not isinstance(data, dict):
                        raise TypeError()
                    packages_type_0_item_type_2 = NpmPackage.from_dict(data)

                    return packages_type_0_item_type_2

                packages_type_0_item = _parse_packages_type_0_item(packages_type_0_item_data)

                packages_type_0.append(packages_type_0_item)

            return packages_type_0

        packages = _parse_packages(d.pop("packages", UNSET))

        bucket_update = cls(
            name=name,
            description=description,
            packages=packages,
        )

        return bucket_update
