from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.preflight_problem import PreflightProblem


T = TypeVar("T", bound="PreflightResult")


@_attrs_define
class PreflightResult:
    ok: bool
    vmid: int | None
    problems: list[PreflightProblem]

    def to_dict(self) -> dict[str, Any]:
        ok = self.ok

        vmid: int | None
        vmid = self.vmid

        problems = []
        for problems_item_data in self.problems:
            problems_item = problems_item_data.to_dict()
            problems.append(problems_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "ok": ok,
                "vmid": vmid,
                "problems": problems,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.preflight_problem import PreflightProblem  # noqa: PLC0415

        d = dict(src_dict)
        ok = d.pop("ok")

        def _parse_vmid(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        vmid = _parse_vmid(d.pop("vmid"))

        problems = []
        _problems = d.pop("problems")
        for problems_item_data in _problems:
            problems_item = PreflightProblem.from_dict(problems_item_data)

            problems.append(problems_item)

        preflight_result = cls(
            ok=ok,
            vmid=vmid,
            problems=problems,
        )

        return preflight_result
