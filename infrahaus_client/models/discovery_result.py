from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.discovery_error_read import DiscoveryErrorRead


T = TypeVar("T", bound="DiscoveryResult")


@_attrs_define
class DiscoveryResult:
    discovered: int
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    errors: list[DiscoveryErrorRead]

    def to_dict(self) -> dict[str, Any]:
        discovered = self.discovered

        created = self.created

        updated = self.updated

        unchanged = self.unchanged

        errors = []
        for errors_item_data in self.errors:
            errors_item = errors_item_data.to_dict()
            errors.append(errors_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "discovered": discovered,
                "created": created,
                "updated": updated,
                "unchanged": unchanged,
                "errors": errors,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.discovery_error_read import DiscoveryErrorRead  # noqa: PLC0415

        d = dict(src_dict)
        discovered = d.pop("discovered")

        created = cast(list[str], d.pop("created"))

        updated = cast(list[str], d.pop("updated"))

        unchanged = cast(list[str], d.pop("unchanged"))

        errors = []
        _errors = d.pop("errors")
        for errors_item_data in _errors:
            errors_item = DiscoveryErrorRead.from_dict(errors_item_data)

            errors.append(errors_item)

        discovery_result = cls(
            discovered=discovered,
            created=created,
            updated=updated,
            unchanged=unchanged,
            errors=errors,
        )

        return discovery_result
