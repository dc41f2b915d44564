"""Bodies of the container services routes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from services.api.schemas import CamelStruct


class ServiceListener(CamelStruct):
    address: str
    port: int


class ServiceRead(CamelStruct):
    name: str
    unit: str | None
    status: Literal["running", "stopped"]
    is_system: bool
    main_pid: int | None
    listeners: list[ServiceListener]
    ports: list[int]
    web_url: str | None
    has_credentials: bool
    credential_keys: list[str]
    discovered_at: dt.datetime


class ServiceList(CamelStruct):
    items: list[ServiceRead]
    discovered_at: dt.datetime | None
    error: str | None


class ServiceCredentials(CamelStruct):
    name: str
    values: dict[str, str]


class ServiceLogs(CamelStruct):
    name: str
    lines: list[str]
