"""The audit trail: one row per change or sensitive read, whatever its outcome."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: str | uuid.UUID | None = None,
    outcome: Literal["success", "failure"] = "success",
    **detail: Any,
) -> None:
    """Add an audit row to `session`; it is written with the caller's commit.

    `detail` must never hold secrets: callers pass names and reasons, not values.
    """
    session.add(
        AuditEntry(
            user_id=user_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            outcome=outcome,
            detail=detail,
        )
    )
