from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.file_policy import FilePolicy
from ..types import UNSET, Unset

T = TypeVar("T", bound="FileInput")


@_attrs_define
class FileInput:
    name: str
    """ Safe as a file name: letters, digits, `.`, `_`, `-`; not starting with `.`. """
    target_path: str
    """ Absolute and normalized: no empty, `.` or `..` segments, no trailing `/`. """
    content: str | Unset = ""
    mode: str | Unset = "0644"
    """ Octal permissions. """
    owner: str | Unset = "root:root"
    """ `user[:group]` """
    policy: FilePolicy | Unset = UNSET
    """ What happens to a file already at the target path; `replace` when a file leaves it out.
        (One named schema, so clients get one type for the file they send and the file they read.) """

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        target_path = self.target_path

        content = self.content

        mode = self.mode

        owner = self.owner

        policy: str | Unset = UNSET
        if not isinstance(self.policy, Unset):
            policy = self.policy.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "targetPath": target_path,
            }
        )
        if content is not UNSET:
            field_dict["content"] = content
        if mode is not UNSET:
            field_dict["mode"] = mode
        if owner is not UNSET:
            field_dict["owner"] = owner
        if policy is not UNSET:
            field_dict["policy"] = policy

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        target_path = d.pop("targetPath")

        content = d.pop("content", UNSET)

        mode = d.pop("mode", UNSET)

        owner = d.pop("owner", UNSET)

        _policy = d.pop("policy", UNSET)
        policy: FilePolicy | Unset
        if isinstance(_policy, Unset):
            policy = UNSET
        else:
            policy = FilePolicy(_policy)

        file_input = cls(
            name=name,
            target_path=target_path,
            content=content,
            mode=mode,
            owner=owner,
            policy=policy,
        )

        return file_input
