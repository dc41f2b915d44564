from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="RepinRequest")


@_attrs_define
class RepinRequest:
    fingerprint: str
    """ SHA-256 fingerprint of the node's TLS certificate, as PVE shows it. """

    def to_dict(self) -> dict[str, Any]:
        fingerprint = self.fingerprint

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "fingerprint": fingerprint,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        fingerprint = d.pop("fingerprint")

        repin_request = cls(
            fingerprint=fingerprint,
        )

        return repin_request
