"""Bodies of the auth routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from services.api.schemas import CamelStruct
from services.api.schemas.common import Fingerprint, Hostname, Port

PveUserName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x20\x7f-\x9f@:!/]+$(?!\n)",
        description="Proxmox user name without the realm, e.g. `root`.",
        examples=["root"],
    ),
]
Realm = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$(?!\n)",
        description="Proxmox realm: `pam`, `pve` or a configured one.",
        examples=["pam"],
    ),
]
Password = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=1024,
        pattern=r"^[^\x00]*$(?!\n)",
        extra_json_schema={"writeOnly": True},
    ),
]


class LoginRequest(CamelStruct):
    host: Hostname
    username: PveUserName
    password: Password
    port: Port = 8006
    realm: Realm = "pam"
    fingerprint: Fingerprint | None = None


class UserRead(CamelStruct):
    id: uuid.UUID
    userid: str
    host: str
    port: int


class LoginResponse(CamelStruct):
    user: UserRead
    csrf_token: str
    token: str
    expires_in: int
    tls_fingerprint: str


class Me(CamelStruct):
    user: UserRead
    csrf_token: str
    logged_in_at: dt.datetime


class RepinRequest(CamelStruct):
    fingerprint: Fingerprint


class RepinResponse(CamelStruct):
    host: str
    port: int
    tls_fingerprint: str
    previous_fingerprint: str
    changed: bool
