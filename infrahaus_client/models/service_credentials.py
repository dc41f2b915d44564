from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.service_credentials_values import ServiceCredentialsValues


T = TypeVar("T", bound="ServiceCredentials")


@_attrs_define
class ServiceCredentials:
    name: str
    values: ServiceCredentialsValues

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        values = self.values.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "values": values,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_credentials_values import ServiceCredentialsValues  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        values = ServiceCredentialsValues.from_dict(d.pop("values"))

        service_credentials = cls(
            name=name,
            values=values,
        )

        return service_credentials
