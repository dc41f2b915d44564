from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="NodeRead")


@_attrs_define
class NodeRead:
    id: UUID
    name: str
    host: str
    port: int
    token_id: str
    has_token_secret: bool
    tls_fingerprint: None | str
    ssh_user: None | str
    ssh_port: int
    has_ssh_password: bool
    has_ssh_private_key: bool
    ssh_host_key_fingerprint: None | str
    is_default: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        host = self.host

        port = self.port

        token_id = self.token_id

        has_token_secret = self.has_token_secret

        tls_fingerprint: None | str
        tls_fingerprint = self.tls_fingerprint

        ssh_user: None | str
        ssh_user = self.ssh_user

        ssh_port = self.ssh_port

        has_ssh_password = self.has_ssh_password

        has_ssh_private_key = self.has_ssh_private_key

        ssh_host_key_fingerprint: None | str
        ssh_host_key_fingerprint = self.ssh_host_key_fingerprint

        is_default = self.is_default

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "host": host,
                "port": port,
                "tokenId": token_id,
                "hasTokenSecret": has_token_secret,
                "tlsFingerprint": tls_fingerprint,
                "sshUser": ssh_user,
                "sshPort": ssh_port,
                "hasSshPassword": has_ssh_password,
                "hasSshPrivateKey": has_ssh_private_key,
                "sshHostKeyFingerprint": ssh_host_key_fingerprint,
                "isDefault": is_default,
                "createdAt": created_at,
                "updatedAt": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        host = d.pop("host")

        port = d.pop("port")

        token_id = d.pop("tokenId")

        has_token_secret = d.pop("hasTokenSecret")

        def _parse_tls_fingerprint(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        tls_fingerprint = _parse_tls_fingerprint(d.pop("tlsFingerprint"))

        def _parse_ssh_user(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ssh_user = _parse_ssh_user(d.pop("sshUser"))

        ssh_port = d.pop("sshPort")

        has_ssh_password = d.pop("hasSshPassword")

        has_ssh_private_key = d.pop("hasSshPrivateKey")

        def _parse_ssh_host_key_fingerprint(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ssh_host_key_fingerprint = _parse_ssh_host_key_fingerprint(d.pop("sshHostKeyFingerprint"))

        is_default = d.pop("isDefault")

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        node_read = cls(
            id=id,
            name=name,
            host=host,
            port=port,
            token_id=token_id,
            has_token_secret=has_token_secret,
            tls_fingerprint=tls_fingerprint,
            ssh_user=ssh_user,
            ssh_port=ssh_port,
            has_ssh_password=has_ssh_password,
            has_ssh_private_key=has_ssh_private_key,
            ssh_host_key_fingerprint=ssh_host_key_fingerprint,
            is_default=is_default,
            created_at=created_at,
            updated_at=updated_at,
        )

        return node_read
