from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="LiveStatus")


@_attrs_define
class LiveStatus:
    status: None | str | Unset = UNSET
    cpu: float | None | Unset = UNSET
    mem: int | None | Unset = UNSET
    maxmem: int | None | Unset = UNSET
    disk: int | None | Unset = UNSET
    maxdisk: int | None | Unset = UNSET
    uptime: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        cpu: float | None | Unset
        if isinstance(self.cpu, Unset):
            cpu = UNSET
        else:
            cpu = self.cpu

        mem: int | None | Unset
        if isinstance(self.mem, Unset):
            mem = UNSET
        else:
            mem = self.mem

        maxmem: int | None | Unset
        if isinstance(self.maxmem, Unset):
            maxmem = UNSET
        else:
            maxmem = self.maxmem

        disk: int | None | Unset
        if isinstance(self.disk, Unset):
            disk = UNSET
        else:
            disk = self.disk

        maxdisk: int | None | Unset
        if isinstance(self.maxdisk, Unset):
            maxdisk = UNSET
        else:
            maxdisk = self.maxdisk

        uptime: int | None | Unset
        if isinstance(self.uptime, Unset):
            uptime = UNSET
        else:
            uptime = self.uptime

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if status is not UNSET:
            field_dict["status"] = status
        if cpu is not UNSET:
            field_dict["cpu"] = cpu
        if mem is not UNSET:
            field_dict["mem"] = mem
        if maxmem is not UNSET:
            field_dict["maxmem"] = maxmem
        if disk is not UNSET:
            field_dict["disk"] = disk
        if maxdisk is not UNSET:
            field_dict["maxdisk"] = maxdisk
        if uptime is not UNSET:
            field_dict["uptime"] = uptime

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        def _parse_cpu(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        cpu = _parse_cpu(d.pop("cpu", UNSET))

        def _parse_mem(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        mem = _parse_mem(d.pop("mem", UNSET))

        def _parse_maxmem(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        maxmem = _parse_maxmem(d.pop("maxmem", UNSET))

        def _parse_disk(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        disk = _parse_disk(d.pop("disk", UNSET))

        def _parse_maxdisk(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        maxdisk = _parse_maxdisk(d.pop("maxdisk", UNSET))

        def _parse_uptime(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        uptime = _parse_uptime(d.pop("uptime", UNSET))

        live_status = cls(
            status=status,
            cpu=cpu,
            mem=mem,
            maxmem=maxmem,
            disk=disk,
            maxdisk=maxdisk,
            uptime=uptime,
        )

        return live_status
