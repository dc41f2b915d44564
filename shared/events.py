"""Container events: append a row (next `seq`), commit, then publish the same envelope.

PostgreSQL is the record; Redis pub/sub only wakes up live listeners. Publishing after the
commit means a listener that sees a message can always find its row, and a lost publish loses
nothing (listeners replay from the table).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import msgspec
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import Container, ContainerEvent
from shared.logging import get_logger

log = get_logger(__name__)

EventType = Literal["step", "log", "complete", "error"]


class EventEnvelope(msgspec.Struct, rename="camel", omit_defaults=True):
    """What listeners receive (contract, ARCHITECTURE §8)."""

    seq: int
    type: EventType
    message: str
    timestamp: dt.datetime
    step: str | None = None
    percent: int | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


def channel(container_id: uuid.UUID) -> str:
    return f"container:{container_id}:events"


def envelope_of(row: ContainerEvent) -> EventEnvelope:
    return EventEnvelope(
        seq=row.seq,
        type=row.type,  # type: ignore[arg-type]
        message=row.message,
        timestamp=row.created_at,
        step=row.step,
        percent=row.percent,
        metadata=dict(row.metadata_ or {}),
    )


async def append(
    session: AsyncSession,
    container_id: uuid.UUID,
    type_: EventType,
    message: str,
    *,
    step: str | None = None,
    percent: int | None = None,
    **metadata: Any,
) -> ContainerEvent:
    """Add the next event of a container to `session`.

    The container's row is locked first, so two writers (an action and the worker, say)
    queue up for the next `seq` instead of colliding on it.
    """
    await session.execute(
        select(Container.id).where(Container.id == container_id).with_for_update()
    )
    last = await session.scalar(
        select(func.coalesce(func.max(ContainerEvent.seq), 0)).where(
            ContainerEvent.container_id == container_id
        )
    )
    row = ContainerEvent(
        container_id=container_id,
        seq=int(last or 0) + 1,
        type=type_,
        step=step,
        percent=percent,
        message=message,
        metadata_=metadata,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(row)
    return row


async def publish(redis: Redis, container_id: uuid.UUID, rows: list[ContainerEvent]) -> None:
    """After the commit: tell live listeners. A failure here is logged, never raised."""
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.publish(channel(container_id), msgspec.json.encode(envelope_of(row)))
            await pipe.execute()
    except Exception as exc:  # the rows are committed; listeners catch up from the table
        log.warning("event publish failed", container_id=str(container_id), error=str(exc))
