from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.preflight_problem_code import PreflightProblemCode
from ..types import UNSET, Unset

T = TypeVar("T", bound="PreflightProblem")


@_attrs_define
class PreflightProblem:
    code: PreflightProblemCode
    field: None | str
    message: str
    path: None | str | Unset = UNSET
    privilege: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        code = self.code.value

        field: None | str
        field = self.field

        message = self.message

        path: None | str | Unset
        if isinstance(self.path, Unset):
            path = UNSET
        else:
            path = self.path

        privilege: None | str | Unset
        if isinstance(self.privilege, Unset):
            privilege = UNSET
        else:
            privilege = self.privilege

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "code": code,
                "field": field,
                "message": message,
            }
        )
        if path is not UNSET:
            field_dict["path"] = path
        if privilege is not UNSET:
            field_dict["privilege"] = privilege

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = PreflightProblemCode(d.pop("code"))

        def _parse_field(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        field = _parse_field(d.pop("field"))

        message = d.pop("message")

        def _parse_path(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        path = _parse_path(d.pop("path", UNSET))

        def _parse_privilege(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        privilege = _parse_privilege(d.pop("privilege", UNSET))

        preflight_problem = cls(
            code=code,
            field=field,
            message=message,
            path=path,
            privilege=privilege,
        )

        return preflight_problem
