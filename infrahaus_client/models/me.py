from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.user_read import UserRead


T = TypeVar("T", bound="Me")


@_attrs_define
class Me:
    user: UserRead
    csrf_token: str
    logged_in_at: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        user = self.user.to_dict()

        csrf_token = self.csrf_token

        logged_in_at = self.logged_in_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "user": user,
                "csrfToken": csrf_token,
                "loggedInAt": logged_in_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.user_read import UserRead  # noqa: PLC0415

        d = dict(src_dict)
        user = UserRead.from_dict(d.pop("user"))

        csrf_token = d.pop("csrfToken")

        logged_in_at = datetime.datetime.fromisoformat(d.pop("loggedInAt"))

        me = cls(
            user=user,
            csrf_token=csrf_token,
            logged_in_at=logged_in_at,
        )

        return me
