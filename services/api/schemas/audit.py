"""The audit trail as the API shows it: the caller's own rows, newest first."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from services.api.schemas import CamelStruct


class AuditRead(CamelStruct):
    id: uuid.UUID
    action: str
    target_type: str
    target_id: str | None
    outcome: Literal["success", "failure"]
    # names and reasons, never secret values
    detail: dict[str, Any]
    # the X-Request-ID of the request that made the change (also on rows a worker wrote for
    # the job that request queued); null for changes no request asked for
    request_id: str | None
    created_at: dt.datetime


class AuditPage(CamelStruct):
    items: list[AuditRead]
    total: int
    limit: int
    offset: int
