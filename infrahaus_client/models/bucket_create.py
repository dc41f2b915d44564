from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.apt_package import AptPackage
    from ..models.npm_package import NpmPackage
    from ..models.pip_package import PipPackage


T = TypeVar("T", bound="BucketCreate")


@_attrs_define
class BucketCreate:
    name: str
    """ Unique name; printable characters. """
    description: str | Unset = ""
    packages: list[AptPackage | NpmPackage | PipPackage] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415

        name = self.name

        description = self.description

        packages: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.packages, Unset):
            packages = []
            for packages_item_data in self.packages:
                packages_item: dict[str, Any]
                if isinstance(packages_item_data, AptPackage):
                    packages_item = packages_item_data.to_dict()
                elif isinstance(packages_item_data, PipPackage):
                    packages_item = packages_item_data.to_dict()
                else:
                    packages_item = packages_item_data.to_dict()

                packages.append(packages_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
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
        name = d.pop("name")

        description = d.pop("description", UNSET)

        _packages = d.pop("packages", UNSET)
        packages: list[AptPackage | NpmPackage | PipPackage] | Unset = UNSET
        if _packages is not UNSET:
            packages = []
            for packages_item_data in _packages:

                def _parse_packages_item(data: object) -> AptPackage | NpmPackage | PipPackage:
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_item_type_0 = AptPackage.from_dict(data)

                        return packages_item_type_0
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_item_type_1 = PipPackage.from_dict(data)

                        return packages_item_type_1
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    if not isinstance(data, dict):
                        raise TypeError()
                    packages_item_type_2 = NpmPackage.from_dict(data)

                    return packages_item_type_2

                packages_item = _parse_packages_item(packages_item_data)

                packages.append(packages_item)

        bucket_create = cls(
            name=name,
            description=description,
            packages=packages,
        )

        return bucket_create
