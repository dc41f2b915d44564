"""Retention: container events and audit rows older than their settings are deleted.

A container's last build keeps its events whatever their age, so the story of how it came to
be (or why it failed) outlives the retention period. The last build is the run that starts
at the container's latest build-start event (`events.BUILD_START`: the build was queued, or
a retry was asked for) and ends at the first `complete` or `error` event after it, or runs on
(still building).

Rows written before build starts were marked (metadata `buildStart`) are anchored on the
messages those events have always had ("Build of ... queued", "Retry requested: ..."); failing
those, on the event after the terminal (`complete`/`error`) event before the latest one; failing
that, on the container's first event. So the last build's events are kept for old rows too.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.core.lifecycle import EventType
from shared.core.settings import Settings
from shared.db.engine import rows_matched
from shared.domain import audit, events

_PRUNE_EVENTS = text(
    """
    WITH touched AS (
        SELECT DISTINCT container_id FROM container_events WHERE created_at < :cutoff
    ), marks AS (
        SELECT e.container_id,
               MAX(e.seq) FILTER (WHERE e.metadata @> CAST(:marker AS jsonb)
                   OR (e.type = :step AND (e.message LIKE :queued OR e.message LIKE :retried)))
                   AS start_seq,
               MAX(e.seq) FILTER (WHERE e.type IN (:complete, :error)) AS terminal_seq,
               MIN(e.seq) AS first_seq
        FROM container_events e JOIN touched t ON t.container_id = e.container_id
        GROUP BY e.container_id
    ), starts AS (
        SELECT m.container_id,
               COALESCE(m.start_seq,
                        (SELECT MAX(e.seq) + 1 FROM container_events e
                         WHERE e.container_id = m.container_id AND e.seq < m.terminal_seq
                           AND e.type IN (:complete, :error)),
                        m.first_seq) AS first_seq
        FROM marks m
    ), last_build AS (
        SELECT s.container_id, s.first_seq,
               (SELECT MIN(e.seq) FROM container_events e
                WHERE e.container_id = s.container_id AND e.seq >= s.first_seq
                  AND e.type IN (:complete, :error)) AS last_seq
        FROM starts s
    )
    DELETE FROM container_events e USING last_build b
    WHERE e.container_id = b.container_id
      AND e.created_at < :cutoff
      AND NOT (e.seq >= b.first_seq AND (b.last_seq IS NULL OR e.seq <= b.last_seq))
    """
)


# The messages of the build-start events (shared/domain/containers/creation.py), as LIKE patterns.
_QUEUED = "Build of % queued"
_RETRIED = "Retry requested:%"


class Pruned(msgspec.Struct, frozen=True):
    events: int
    audit_rows: int


async def prune_events(session: AsyncSession, older_than: dt.datetime) -> int:
    """Delete container events created before `older_than`, except each container's last
    build's; how many went (the caller commits)."""
    result = await session.execute(
        _PRUNE_EVENTS,
        {
            "cutoff": older_than,
            "marker": msgspec.json.encode(events.BUILD_START).decode(),
            "step": EventType.STEP.value,
            "queued": _QUEUED,
            "retried": _RETRIED,
            "complete": EventType.COMPLETE.value,
            "error": EventType.ERROR.value,
        },
    )
    return rows_matched(result)


async def prune(session: AsyncSession, settings: Settings, now: dt.datetime) -> Pruned:
    """Apply EVENTS_RETENTION_DAYS and AUDIT_RETENTION_DAYS (0: keep) as of `now`; commits."""
    pruned_events = pruned_audit = 0
    if settings.events_retention_days:
        cutoff = now - dt.timedelta(days=settings.events_retention_days)
        pruned_events = await prune_events(session, cutoff)
    if settings.audit_retention_days:
        cutoff = now - dt.timedelta(days=settings.audit_retention_days)
        pruned_audit = await audit.prune(session, cutoff)
    await session.commit()
    return Pruned(events=pruned_events, audit_rows=pruned_audit)
