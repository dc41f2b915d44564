"""The audit trail: one row per change or sensitive read, whatever its outcome."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.core.logging import request_id_var
from shared.db.engine import rows_matched
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

    `detail` must never hold secrets: callers pass names and reasons, not values. The row
    carries the id of the request being served (or of the request whose job this is).
    """
    session.add(
        AuditEntry(
            user_id=user_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            outcome=outcome,
            detail=detail,
            request_id=request_id_var.get(),
        )
    )


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which of a user's rows to list; None means any."""

    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # inclusive


async def page(
    session: AsyncSession, user_id: uuid.UUID, where: AuditFilter, *, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """One page of the user's own rows, newest first, and how many match in all."""
    conditions = [AuditEntry.user_id == user_id]
    if where.action is not None:
        conditions.append(AuditEntry.action == where.action)
    if where.target_type is not None:
        conditions.append(AuditEntry.target_type == where.target_type)
    if where.target_id is not None:
        conditions.append(AuditEntry.target_id == where.target_id)
    if where.since is not None:
        conditions.append(AuditEntry.created_at >= where.since)
    if where.until is not None:
        conditions.append(AuditEntry.created_at <= where.until)
    total = (
        await session.execute(select(func.count()).select_from(AuditEntry).where(*conditions))
    ).scalar_one()
    rows = (
        await session.execute(
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    return list(rows), int(total)


async def prune(session: AsyncSession, older_than: dt.datetime) -> int:
    """Delete every row created before `older_than` (the retention cron); how many."""
    result = await session.execute(delete(AuditEntry).where(AuditEntry.created_at < older_than))
    return rows_matched(result)
