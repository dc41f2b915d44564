from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.action_result_action import ActionResultAction

T = TypeVar("T", bound="ActionResult")


@_attrs_define
class ActionResult:
    action: ActionResultAction
    upid: str
    exit_status: str
    forced: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        upid = self.upid

        exit_status = self.exit_status

        forced = self.forced

        message = self.message

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "upid": upid,
                "exitStatus": exit_status,
                "forced": forced,
                "message": message,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = ActionResultAction(d.pop("action"))

        upid = d.pop("upid")

        exit_status = d.pop("exitStatus")

        forced = d.pop("forced")

        message = d.pop("message")

        action_result = cls(
            action=action,
            upid=upid,
            exit_status=exit_status,
            forced=forced,
            message=message,
        )

        return action_result
