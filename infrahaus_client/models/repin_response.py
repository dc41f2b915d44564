from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="RepinResponse")


@_attrs_define
class RepinResponse:
    host: str
    port: int
    tls_fingerprint: str
    previous_fingerprint: str
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        host = self.host

        port = self.port

        tls_fingerprint = self.tls_fingerprint

        previous_fingerprint = self.previous_fingerprint

        changed = self.changed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "host": host,
                "port": port,
                "tlsFingerprint": tls_fingerprint,
                "previousFingerprint": previous_fingerprint,
                "changed": changed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        host = d.pop("host")

        port = d.pop("port")

        tls_fingerprint = d.pop("tlsFingerprint")

        previous_fingerprint = d.pop("previousFingerprint")

        changed = d.pop("changed")

        repin_response = cls(
            host=host,
            port=port,
            tls_fingerprint=tls_fingerprint,
            previous_fingerprint=previous_fingerprint,
            changed=changed,
        )

        return repin_response
