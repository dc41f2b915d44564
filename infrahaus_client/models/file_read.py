from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

from ..models.file_policy import FilePolicy

T = TypeVar("T", bound="FileRead")


@_attrs_define
class FileRead:
    id: UUID
    name: str
    target_path: str
    mode: str
    owner: str
    policy: FilePolicy
    """ What happens to a file already at the target path; `replace` when a file leaves it out.
        (One named schema, so clients get one type for the file they send and the file they read.) """
    content: str

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        target_path = self.target_path

        mode = self.mode

        owner = self.owner

        policy = self.policy.value

        content = self.content

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "targetPath": target_path,
                "mode": mode,
                "owner": owner,
                "policy": policy,
                "content": content,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        target_path = d.pop("targetPath")

        mode = d.pop("mode")

        owner = d.pop("owner")

        policy = FilePolicy(d.pop("policy"))

        content = d.pop("content")

        file_read = cls(
            id=id,
            name=name,
            target_path=target_path,
            mode=mode,
            owner=owner,
            policy=policy,
            content=content,
        )

        return file_read
