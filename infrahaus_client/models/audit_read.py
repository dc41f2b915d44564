from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.audit_read_outcome import AuditReadOutcome

if TYPE_CHECKING:
    from ..models.audit_read_detail import AuditReadDetail


T = TypeVar("T", bound="AuditRead")


@_attrs_define
class AuditRead:
    id: UUID
    action: str
    target_type: str
    target_id: None | str
    outcome: AuditReadOutcome
    detail: AuditReadDetail
    request_id: None | str
    created_at: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        action = self.action

        target_type = self.target_type

        target_id: None | str
        target_id = self.target_id

        outcome = self.outcome.value

        detail = self.detail.to_dict()

        request_id: None | str
        request_id = self.request_id

        created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "action": action,
                "targetType": target_type,
                "targetId": target_id,
                "outcome": outcome,
                "detail": detail,
                "requestId": request_id,
                "createdAt": created_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_read_detail import AuditReadDetail  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        action = d.pop("action")

        target_type = d.pop("targetType")

        def _parse_target_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        target_id = _parse_target_id(d.pop("targetId"))

        outcome = AuditReadOutcome(d.pop("outcome"))

        detail = AuditReadDetail.from_dict(d.pop("detail"))

        def _parse_request_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        request_id = _parse_request_id(d.pop("requestId"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        audit_read = cls(
            id=id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            detail=detail,
            request_id=request_id,
            created_at=created_at,
        )

        return audit_read
