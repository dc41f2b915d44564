from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="NodeUpdate")


@_attrs_define
class NodeUpdate:
    name: str | Unset = UNSET
    """ The PVE node name, as in `/nodes/{node}` on the host. """
    host: str | Unset = UNSET
    """ Host name or IP address of a Proxmox node. An IPv4 address is four decimal numbers without leading zeros; a
    name may not end in a number (resolvers read `0x7f.1` or `2130706433` as an address). """
    port: int | Unset = UNSET
    token_id: str | Unset = UNSET
    """ API token id `user@realm!name`. """
    token_secret: str | Unset = UNSET
    """ The API token's secret (write-only). """
    fingerprint: str | Unset = UNSET
    """ SHA-256 fingerprint of the node's TLS certificate, as PVE shows it. """
    ssh_user: None | str | Unset = UNSET
    ssh_port: int | Unset = UNSET
    ssh_password: str | Unset = UNSET
    """ Write-only. On update: omit to keep, `""` to clear. """
    ssh_private_key: str | Unset = UNSET
    """ OpenSSH or PEM private key (write-only). On update: omit to keep, `""` to clear. """

    def to_dict(self) -> dict[str, Any]:
        name: str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        host: str | Unset
        if isinstance(self.host, Unset):
            host = UNSET
        else:
            host = self.host

        port: int | Unset
        if isinstance(self.port, Unset):
            port = UNSET
        else:
            port = self.port

        token_id: str | Unset
        if isinstance(self.token_id, Unset):
            token_id = UNSET
        else:
            token_id = self.token_id

        token_secret: str | Unset
        if isinstance(self.token_secret, Unset):
            token_secret = UNSET
        else:
            token_secret = self.token_secret

        fingerprint: str | Unset
        if isinstance(self.fingerprint, Unset):
            fingerprint = UNSET
        else:
            fingerprint = self.fingerprint

        ssh_user: None | str | Unset
        if isinstance(self.ssh_user, Unset):
            ssh_user = UNSET
        else:
            ssh_user = self.ssh_user

        ssh_port: int | Unset
        if isinstance(self.ssh_port, Unset):
            ssh_port = UNSET
        else:
            ssh_port = self.ssh_port

        ssh_password: str | Unset
        if isinstance(self.ssh_password, Unset):
            ssh_password = UNSET
        else:
            ssh_password = self.ssh_password

        ssh_private_key: str | Unset
        if isinstance(self.ssh_private_key, Unset):
            ssh_private_key = UNSET
        else:
            ssh_private_key = self.ssh_private_key

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if host is not UNSET:
            field_dict["host"] = host
        if port is not UNSET:
            field_dict["port"] = port
        if token_id is not UNSET:
            field_dict["tokenId"] = token_id
        if token_secret is not UNSET:
            field_dict["tokenSecret"] = token_secret
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

        def _parse_name(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_host(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        host = _parse_host(d.pop("host", UNSET))

        def _parse_port(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        port = _parse_port(d.pop("port", UNSET))

        def _parse_token_id(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        token_id = _parse_token_id(d.pop("tokenId", UNSET))

        def _parse_token_secret(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        token_secret = _parse_token_secret(d.pop("tokenSecret", UNSET))

        def _parse_fingerprint(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        fingerprint = _parse_fingerprint(d.pop("fingerprint", UNSET))

        def _parse_ssh_user(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ssh_user = _parse_ssh_user(d.pop("sshUser", UNSET))

        def _parse_ssh_port(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        ssh_port = _parse_ssh_port(d.pop("sshPort", UNSET))

        def _parse_ssh_password(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        ssh_password = _parse_ssh_password(d.pop("sshPassword", UNSET))

        def _parse_ssh_private_key(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        ssh_private_key = _parse_ssh_private_key(d.pop("sshPrivateKey", UNSET))

        node_update = cls(
            name=name,
            host=host,
            port=port,
            token_id=token_id,
            token_secret=token_secret,
            fingerprint=fingerprint,
            ssh_user=ssh_user,
            ssh_port=ssh_port,
            ssh_password=ssh_password,
            ssh_private_key=ssh_private_key,
        )

        return node_update
