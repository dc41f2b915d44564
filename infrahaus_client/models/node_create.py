from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="NodeCreate")


@_attrs_define
class NodeCreate:
    name: str
    """ The PVE node name, as in `/nodes/{node}` on the host. """
    host: str
    """ Host name or IP address of a Proxmox node. An IPv4 address is four decimal numbers without leading zeros; a
    name may not end in a number (resolvers read `0x7f.1` or `2130706433` as an address). """
    token_id: str
    """ API token id `user@realm!name`. """
    token_secret: str
    """ The API token's secret (write-only). """
    port: int | Unset = 8006
    fingerprint: None | str | Unset = UNSET
    """ SHA-256 fingerprint of the node's TLS certificate, as PVE shows it. """
    ssh_user: None | str | Unset = UNSET
    ssh_port: int | Unset = 22
    ssh_password: None | str | Unset = UNSET
    """ Write-only. On update: omit to keep, `""` to clear. """
    ssh_private_key: None | str | Unset = UNSET
    """ OpenSSH or PEM private key (write-only). On update: omit to keep, `""` to clear. """

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        host = self.host

        token_id = self.token_id

        token_secret = self.token_secret

        port = self.port

        fingerprint: None | str | Unset
        if isinstance(self.fingerprint, Unset):
            fingerprint = UNSET
        else:
            fingerprint = self.fingerprint

        ssh_user: None | str | Unset
        if isinstance(self.ssh_user, Unset):
            ssh_user = UNSET
        else:
            ssh_user = self.ssh_user

        ssh_port = self.ssh_port

        ssh_password: None | str | Unset
        if isinstance(self.ssh_password, Unset):
            ssh_password = UNSET
        else:
            ssh_password = self.ssh_password

        ssh_private_key: None | str | Unset
        if isinstance(self.ssh_private_key, Unset):
            ssh_private_key = UNSET
        else:
            ssh_private_key = self.ssh_private_key

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "host": host,
                "tokenId": token_id,
                "tokenSecret": token_secret,
            }
        )
        if port is not UNSET:
            field_dict["port"] = port
        if fingerprint is not UNSET:
            field_dict["fingerprint"] = fingerprint
        if ssh_user is not UNSET:
            field_dict["sshUser"] = ssh_user
        if ssh_port is not UNSET:
            field_dict["sshPort"] = ssh_port
        if ssh_password is not UNSET:
            field_dict["sshPassword"] = ssh_password
        if ssh_private_key is not UNSET:
            field_dict["sshPrivateKey"] = ssh_private_key

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        host = d.pop("host")

        token_id = d.pop("tokenId")

        token_secret = d.pop("tokenSecret")

        port = d.pop("port", UNSET)

        def _parse_fingerprint(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        fingerprint = _parse_fingerprint(d.pop("fingerprint", UNSET))

        def _parse_ssh_user(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ssh_user = _parse_ssh_user(d.pop("sshUser", UNSET))

        ssh_port = d.pop("sshPort", UNSET)

        def _parse_ssh_password(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ssh_password = _parse_ssh_password(d.pop("sshPassword", UNSET))

        def _parse_ssh_private_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ssh_private_key = _parse_ssh_private_key(d.pop("sshPrivateKey", UNSET))

        node_create = cls(
            name=name,
            host=host,
            token_id=token_id,
            token_secret=token_secret,
            port=port,
            fingerprint=fingerprint,
            ssh_user=ssh_user,
            ssh_port=ssh_port,
            ssh_password=ssh_password,
            ssh_private_key=ssh_private_key,
        )

        return node_create
