"""Container events: the one writer. Allocate `seq`, insert, commit, then publish.

PostgreSQL is the record; Redis pub/sub only wakes up live listeners. Publishing after the
commit means a listener that sees a message can always find its row, and a lost publish loses
nothing (listeners back-fill from the table).

A batch of events costs one `UPDATE containers ... RETURNING last_event_seq` (which also locks
the container's row, so concurrent writers queue up for their seq range instead of colliding)
and one multi-row INSERT, whatever its size.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.core.lifecycle import EventType, Phase
from shared.core.logging import get_logger
from shared.db.models import Container, ContainerEvent

log = get_logger(__name__)


class EventDraft(msgspec.Struct, kw_only=True):
    """An event before it has a `seq` and a time."""

    type: EventType
    message: str
    step: Phase | None = None
    percent: int | None = None
    script_name: str | None = None
    script_index: int | None = None
    script_total: int | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class EventEnvelope(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What listeners receive, over pub/sub, SSE and the JSON pages (contract, ARCHITECTURE §8)."""

    seq: int
    type: EventType
    message: str
    timestamp: dt.datetime
    step: Phase | None = None
    percent: int | None = None
    script_name: str | None = None
    script_index: int | None = None
    script_total: int | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.type.terminal


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    """`text` without terminal escapes and control characters (tab kept): PostgreSQL refuses
    NUL in text, and escapes would reach every client's screen."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def channel(container_id: uuid.UUID) -> str:
    return f"container:{container_id}:events"


_ENVELOPE_FIELDS = (
    "seq", "type", "message", "step", "percent", "script_name", "script_index", "script_total",
)  # fmt: skip


def envelope_of(row: Any) -> EventEnvelope:
    """From a `container_events` row (ORM object or plain row)."""
    values = {name: getattr(row, name) for name in _ENVELOPE_FIELDS}
    # Struct construction does not convert: the enums are made here (`terminal` needs them).
    values["type"] = EventType(values["type"])
    values["step"] = Phase(values["step"]) if values["step"] is not None else None
    return EventEnvelope(**values, timestamp=row.created_at, metadata=dict(row.metadata_ or {}))


async def stage(
    session: AsyncSession, container_id: uuid.UUID, drafts: Sequence[EventDraft]
) -> list[EventEnvelope]:
    """Add `drafts` to the session's transaction with consecutive seqs; the caller commits,
    then calls `publish`. Returns [] when the container no longer exists."""
    if not drafts:
        return []
    last = await session.scalar(
        update(Container)
        .where(Container.id == container_id)
        .values(last_event_seq=Container.last_event_seq + len(drafts))
        .returning(Container.last_event_seq)
    )
    if last is None:
        return []
    now = dt.datetime.now(dt.UTC)
    first = last - len(drafts) + 1
    envelopes = [
        EventEnvelope(
            seq=first + offset,
            type=draft.type,
            message=printable(draft.message),
            timestamp=now,
            step=draft.step,
            percent=draft.percent,
            script_name=draft.script_name,
            script_index=draft.script_index,
            script_total=draft.script_total,
            metadata=draft.metadata,
        )
        for offset, draft in enumerate(drafts)
    ]
    await session.execute(
        insert(ContainerEvent),
        [
            {
                "container_id": container_id,
                "seq": e.seq,
                "type": e.type.value,
                "step": e.step.value if e.step else None,
                "percent": e.percent,
                "message": e.message,
                "script_name": e.script_name,
                "script_index": e.script_index,
                "script_total": e.script_total,
                "metadata_": e.metadata,
                "created_at": now,
            }
            for e in envelopes
        ],
    )
    return envelopes


async def record(
    session: AsyncSession, redis: Redis, container_id: uuid.UUID, drafts: Sequence[EventDraft]
) -> list[EventEnvelope]:
    """Stage, commit, publish: the whole write of a batch of events."""
    envelopes = await stage(session, container_id, drafts)
    await session.commit()
    await publish(redis, container_id, envelopes)
    return envelopes


async def publish(
    redis: Redis, container_id: uuid.UUID, envelopes: Sequence[EventEnvelope]
) -> None:
    """After the commit: tell live listeners. A failure here is logged, never raised."""
    if not envelopes:
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for envelope in envelopes:
                pipe.publish(channel(container_id), msgspec.json.encode(envelope))
            await pipe.execute()
    except Exception as exc:  # the rows are committed; listeners catch up from the table
        log.warning("event publish failed", container_id=str(container_id), error=str(exc))


async def after(
    session: AsyncSession, container_id: uuid.UUID, after_seq: int, limit: int
) -> list[EventEnvelope]:
    """The container's events with `seq > after_seq`, oldest first, at most `limit`."""
    rows = await session.execute(
        select(ContainerEvent)
        .where(ContainerEvent.container_id == container_id, ContainerEvent.seq > after_seq)
        .order_by(ContainerEvent.seq)
        .limit(limit)
    )
    return [envelope_of(row) for row in rows.scalars()]


#: the metadata of the event that starts a build run (queued, or a retry): the retention cron
#: keeps every event of a container from its last such event to the run's end
BUILD_START: dict[str, Any] = {"buildStart": True}


def step(phase: Phase, message: str, progress: float = 0.0, **metadata: Any) -> EventDraft:
    """A `step` event of `phase`, `progress` (0..1) of the way through it."""
    low, high = phase.percent_range
    percent = round(low + (high - low) * max(0.0, min(progress, 1.0)))
    return EventDraft(
        type=EventType.STEP, step=phase, percent=percent, message=message, metadata=metadata
    )


def log_line(message: str, *, phase: Phase | None = None, **metadata: Any) -> EventDraft:
    return EventDraft(type=EventType.LOG, step=phase, message=message, metadata=metadata)


class BatchWriter:
    """A container's events written in the background, in order, in as few transactions as
    the database's pace allows (group commit): what arrives while one batch is being written
    goes into the next. The producer (a build) never waits for the database, except to
    `flush()` before something that must come after its events (a checkpoint, the end).

    A batch whose write fails is tried again twice; after that the error is raised from the
    next `add` or `flush`, and nothing more is written.
    """

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        redis: Redis,
        container_id: uuid.UUID,
        *,
        max_batch: int = 500,
        max_pending: int = 5000,
    ) -> None:
        self._sessions = sessions
        self._redis = redis
        self._container_id = container_id
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: list[EventDraft] = []
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._error: BaseException | None = None
        self._task = asyncio.create_task(self._write_forever())

    async def add(self, drafts: Sequence[EventDraft]) -> None:
        self._raise_if_failed()
        self._pending.extend(drafts)
        self._drained.clear()
        self._wake.set()
        if len(self._pending) > self._max_pending:  # the database is behind: wait for it
            await self.flush()

    async def flush(self) -> None:
        """Return once every event handed over is committed and published."""
        self._raise_if_failed()
        await self._drained.wait()
        self._raise_if_failed()

    async def aclose(self) -> None:
        try:
            await self.flush()
        finally:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and self._error is None:
                batch = self._pending[: self._max_batch]
                for attempt in range(3):
                    try:
                        async with self._sessions() as session:
                            await record(session, self._redis, self._container_id, batch)
                        break
                    except Exception as exc:
                        if attempt == 2:
                            self._error = exc
                        else:
                            await asyncio.sleep(0.5 * (attempt + 1))
                del self._pending[: len(batch)]
            if not self._pending or self._error is not None:
                self._drained.set()
