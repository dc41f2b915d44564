from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="UserRead")


@_attrs_define
class UserRead:
    id: UUID
    userid: str
    host: str
    port: int

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        userid = self.userid

        host = self.host

        port = self.port

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "userid": userid,
                "host": host,
                "port": port,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        userid = d.pop("userid")

        host = d.pop("host")

        port = d.pop("port")

        user_read = cls(
            id=id,
            userid=userid,
            host=host,
            port=port,
        )

        return user_read
