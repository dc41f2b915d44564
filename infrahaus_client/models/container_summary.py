from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.lifecycle import Lifecycle

if TYPE_CHECKING:
    from ..models.live_status import LiveStatus


T = TypeVar("T", bound="ContainerSummary")


@_attrs_define
class ContainerSummary:
    id: UUID
    node_id: UUID
    node_name: str
    vmid: int
    hostname: str
    lifecycle: Lifecycle
    template_id: None | UUID
    template_revision: int | None
    ip_address: None | str
    status_unknown: bool
    live: LiveStatus
    created_at: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        node_id = str(self.node_id)

        node_name = self.node_name

        vmid = self.vmid

        hostname = self.hostname

        lifecycle = self.lifecycle.value

        template_id: None | str
        if isinstance(self.template_id, UUID):
            template_id = str(self.template_id)
        else:
            template_id = self.template_id

        template_revision: int | None
        template_revision = self.template_revision

        ip_address: None | str
        ip_address = self.ip_address

        status_unknown = self.status_unknown

        live = self.live.to_dict()

        created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "nodeId": node_id,
                "nodeName": node_name,
                "vmid": vmid,
                "hostname": hostname,
                "lifecycle": lifecycle,
                "templateId": template_id,
                "templateRevision": template_revision,
                "ipAddress": ip_address,
                "statusUnknown": status_unknown,
                "live": live,
                "createdAt": created_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.live_status import LiveStatus  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        node_id = UUID(d.pop("nodeId"))

        node_name = d.pop("nodeName")

        vmid = d.pop("vmid")

        hostname = d.pop("hostname")

        lifecycle = Lifecycle(d.pop("lifecycle"))

        def _parse_template_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                template_id_type_0 = UUID(data)

                return template_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        template_id = _parse_template_id(d.pop("templateId"))

        def _parse_template_revision(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        template_revision = _parse_template_revision(d.pop("templateRevision"))

        def _parse_ip_address(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ip_address = _parse_ip_address(d.pop("ipAddress"))

        status_unknown = d.pop("statusUnknown")

        live = LiveStatus.from_dict(d.pop("live"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        container_summary = cls(
            id=id,
            node_id=node_id,
            node_name=node_name,
            vmid=vmid,
            hostname=hostname,
            lifecycle=lifecycle,
            template_id=template_id,
            template_revision=template_revision,
            ip_address=ip_address,
            status_unknown=status_unknown,
            live=live,
            created_at=created_at,
        )

        return container_summary
