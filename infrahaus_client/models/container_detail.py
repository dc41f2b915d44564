from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.lifecycle import Lifecycle
from ..models.phase import Phase

if TYPE_CHECKING:
    from ..models.container_detail_config_type_0 import ContainerDetailConfigType0
    from ..models.live_status import LiveStatus


T = TypeVar("T", bound="ContainerDetail")


@_attrs_define
class ContainerDetail:
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
    last_completed_phase: None | Phase
    failed_phase: None | Phase
    failure_reason: None | str
    cleanup_on_failure: bool
    config: ContainerDetailConfigType0 | None
    error: None | str

    def to_dict(self) -> dict[str, Any]:
        from ..models.container_detail_config_type_0 import ContainerDetailConfigType0  # noqa: PLC0415

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

        last_completed_phase: None | str
        if isinstance(self.last_completed_phase, Phase):
            last_completed_phase = self.last_completed_phase.value
        else:
            last_completed_phase = self.last_completed_phase

        failed_phase: None | str
        if isinstance(self.failed_phase, Phase):
            failed_phase = self.failed_phase.value
        else:
            failed_phase = self.failed_phase

        failure_reason: None | str
        failure_reason = self.failure_reason

        cleanup_on_failure = self.cleanup_on_failure

        config: dict[str, Any] | None
        if isinstance(self.config, ContainerDetailConfigType0):
            config = self.config.to_dict()
        else:
            config = self.config

        error: None | str
        error = self.error

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
                "lastCompletedPhase": last_completed_phase,
                "failedPhase": failed_phase,
                "failureReason": failure_reason,
                "cleanupOnFailure": cleanup_on_failure,
                "config": config,
                "error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container_detail_config_type_0 import ContainerDetailConfigType0  # noqa: PLC0415
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

        def _parse_last_completed_phase(data: object) -> None | Phase:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_completed_phase_type_0 = Phase(data)

                return last_completed_phase_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Phase, data)

        last_completed_phase = _parse_last_completed_phase(d.pop("lastCompletedPhase"))

        def _parse_failed_phase(data: object) -> None | Phase:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                failed_phase_type_0 = Phase(data)

                return failed_phase_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Phase, data)

        failed_phase = _parse_failed_phase(d.pop("failedPhase"))

        def _parse_failure_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        failure_reason = _parse_failure_reason(d.pop("failureReason"))

        cleanup_on_failure = d.pop("cleanupOnFailure")

        def _parse_config(data: object) -> ContainerDetailConfigType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                config_type_0 = ContainerDetailConfigType0.from_dict(data)

                return config_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ContainerDetailConfigType0 | None, data)

        config = _parse_config(d.pop("config"))

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))

        container_detail = cls(
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
            last_completed_phase=last_completed_phase,
            failed_phase=failed_phase,
            failure_reason=failure_reason,
            cleanup_on_failure=cleanup_on_failure,
            config=config,
            error=error,
        )

        return container_detail
