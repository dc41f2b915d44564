from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.service_read_status import ServiceReadStatus

if TYPE_CHECKING:
    from ..models.service_listener import ServiceListener


T = TypeVar("T", bound="ServiceRead")


@_attrs_define
class ServiceRead:
    name: str
    unit: None | str
    status: ServiceReadStatus
    is_system: bool
    main_pid: int | None
    listeners: list[ServiceListener]
    ports: list[int]
    web_url: None | str
    has_credentials: bool
    credential_keys: list[str]
    discovered_at: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        unit: None | str
        unit = self.unit

        status = self.status.value

        is_system = self.is_system

        main_pid: int | None
        main_pid = self.main_pid

        listeners = []
        for listeners_item_data in self.listeners:
            listeners_item = listeners_item_data.to_dict()
            listeners.append(listeners_item)

        ports = self.ports

        web_url: None | str
        web_url = self.web_url

        has_credentials = self.has_credentials

        credential_keys = self.credential_keys

        discovered_at = self.discovered_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "unit": unit,
                "status": status,
                "isSystem": is_system,
                "mainPid": main_pid,
                "listeners": listeners,
                "ports": ports,
                "webUrl": web_url,
                "hasCredentials": has_credentials,
                "credentialKeys": credential_keys,
                "discoveredAt": discovered_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_listener import ServiceListener  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        def _parse_unit(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        unit = _parse_unit(d.pop("unit"))

        status = ServiceReadStatus(d.pop("status"))

        is_system = d.pop("isSystem")

        def _parse_main_pid(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        main_pid = _parse_main_pid(d.pop("mainPid"))

        listeners = []
        _listeners = d.pop("listeners")
        for listeners_item_data in _listeners:
            listeners_item = ServiceListener.from_dict(listeners_item_data)

            listeners.append(listeners_item)

        ports = cast(list[int], d.pop("ports"))

        def _parse_web_url(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        web_url = _parse_web_url(d.pop("webUrl"))

        has_credentials = d.pop("hasCredentials")

        credential_keys = cast(list[str], d.pop("credentialKeys"))

        discovered_at = datetime.datetime.fromisoformat(d.pop("discoveredAt"))

        service_read = cls(
            name=name,
            unit=unit,
            status=status,
            is_system=is_system,
            main_pid=main_pid,
            listeners=listeners,
            ports=ports,
            web_url=web_url,
            has_credentials=has_credentials,
            credential_keys=credential_keys,
            discovered_at=discovered_at,
        )

        return service_read
