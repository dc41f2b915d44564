from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="LoginRequest")


@_attrs_define
class LoginRequest:
    host: str
    """ Host name or IP address of a Proxmox node. An IPv4 address is four decimal numbers without leading zeros; a
    name may not end in a number (resolvers read `0x7f.1` or `2130706433` as an address). """
    username: str
    """ Proxmox user name without the realm, e.g. `root`. """
    password: str
    port: int | Unset = 8006
    realm: str | Unset = "pam"
    """ Proxmox realm: `pam`, `pve` or a configured one. """
    fingerprint: None | str | Unset = UNSET
    """ SHA-256 fingerprint of the node's TLS certificate, as PVE shows it. """

    def to_dict(self) -> dict[str, Any]:
        host = self.host

        username = self.username

        password = self.password

        port = self.port

        realm = self.realm

        fingerprint: None | str | Unset
        if isinstance(self.fingerprint, Unset):
            fingerprint = UNSET
        else:
            fingerprint = self.fingerprint

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "host": host,
                "username": username,
                "password": password,
            }
        )
        if port is not UNSET:
            field_dict["port"] = port
        if realm is not UNSET:
            field_dict["realm"] = realm
        if fingerprint is not UNSET:
            field_dict["fingerprint"] = fingerprint

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        host = d.pop("host")

        username = d.pop("username")

        password = d.pop("password")

        port = d.pop("port", UNSET)

        realm = d.pop("realm", UNSET)

        def _parse_fingerprint(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        fingerprint = _parse_fingerprint(d.pop("fingerprint", UNSET))

        login_request = cls(
            host=host,
            username=username,
            password=password,
            port=port,
            realm=realm,
            fingerprint=fingerprint,
        )

        return login_request
