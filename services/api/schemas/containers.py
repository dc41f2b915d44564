"""Bodies of the VMID and container routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from services.api.schemas import CamelStruct


class VmidCheck(CamelStruct):
    vmid: int
    status: Literal["available", "taken", "unknown"]
    checked_at: dt.datetime


class VmidRefresh(CamelStruct):
    count: int
    refreshed_at: dt.datetime


class NextVmid(CamelStruct):
    vmid: int


class LiveStatus(CamelStruct):
    status: str | None = None
    cpu: float | None = None
    mem: int | None = None
    maxmem: int | None = None
    disk: int | None = None
    maxdisk: int | None = None
    uptime: int | None = None


class ContainerSummary(CamelStruct):
    id: uuid.UUID
    node_id: uuid.UUID
    node_name: str
    vmid: int
    hostname: str
    lifecycle: Literal["creating", "ready", "error", "deleting"]
    template_id: uuid.UUID | None
    template_revision: int | None
    ip_address: str | None
    status_unknown: bool
    live: LiveStatus
    created_at: dt.datetime


class NodeError(CamelStruct):
    node_id: uuid.UUID
    node_name: str
    error: str


class ContainerList(CamelStruct):
    items: list[ContainerSummary]
    node_errors: list[NodeError]


class ContainerDetail(ContainerSummary):
    last_completed_phase: str | None
    config: dict[str, Any] | None
    error: str | None


class ActionResult(CamelStruct):
    action: Literal["start", "stop", "shutdown", "reboot"]
    upid: str
    exit_status: str
    forced: bool
    message: str


class DeleteAccepted(CamelStruct):
    id: uuid.UUID
    lifecycle: Literal["deleting"]
