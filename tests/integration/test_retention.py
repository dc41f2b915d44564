"""The retention cron against real rows: old events and audit rows go, each container's last
build's events stay whatever their age, recent rows stay."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from sqlalchemy import insert, select

from services.worker.context import WorkerContext
from services.worker.jobs import cron_jobs, retention
from shared.core.settings import Settings
from shared.db import AuditEntry, Container, ContainerEvent, Node, User, create_engine
from shared.domain import events

NOW = dt.datetime.now(dt.UTC)
OLD = NOW - dt.timedelta(days=200)
RECENT = NOW - dt.timedelta(days=1)
ANCIENT = NOW - dt.timedelta(days=400)


def _event(container_id: uuid.UUID, seq: int, type_: str, when: dt.datetime, **extra: Any):
    return {
        "container_id": container_id, "seq": seq, "type": type_,
        "message": extra.get("message", f"event {seq}"),
        "created_at": when, "metadata": extra.get("metadata", {}),
    }  # fmt: skip


async def test_old_rows_are_pruned_and_each_last_build_is_kept(settings: Settings) -> None:
    engine = create_engine(settings, pooled=False)
    user_id, node_id = uuid.uuid4(), uuid.uuid4()
    retried, legacy, building = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # retried before build starts were marked: found by the messages, or by the terminal events
    legacy_named, legacy_bare = uuid.uuid4(), uuid.uuid4()
    every = (retried, legacy, building, legacy_named, legacy_bare)
    start = events.BUILD_START
    old_audit, recent_audit = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            insert(User).values(id=user_id, host_identity=f"h-{user_id}", userid="ret@pve")
        )
        await connection.execute(
            insert(Node).values(
                id=node_id, user_id=user_id, name="retention", host="10.0.0.1",
                token_id="root@pam!t", token_secret_enc="ciphertext", is_default=True,
            )
        )  # fmt: skip
        for number, container_id in enumerate(every):
            await connection.execute(
                insert(Container).values(
                    id=container_id, node_id=node_id, created_by=user_id, vmid=9900 + number,
                    hostname=f"ret-{number}", lifecycle="ready", created_at=OLD,
                )
            )  # fmt: skip
        rows = [
            # a build that failed, then a retry that completed, then an action, then today
            _event(retried, 1, "step", OLD, metadata=start),
            _event(retried, 2, "log", OLD),
            _event(retried, 3, "error", OLD),
            _event(retried, 4, "step", OLD, metadata=start),
            _event(retried, 5, "log", OLD),
            _event(retried, 6, "complete", OLD),
            _event(retried, 7, "log", OLD),
            _event(retried, 8, "log", RECENT),
            # rows from before build starts were marked: the build runs from the first event
            _event(legacy, 1, "step", OLD),
            _event(legacy, 2, "complete", OLD),
            _event(legacy, 3, "log", OLD),
            # still building: nothing of it goes
            _event(building, 1, "step", OLD, metadata=start),
            _event(building, 2, "log", OLD),
            # retried before the markers: the queued and retry events carry their messages
            _event(legacy_named, 1, "step", OLD, message="Build of ret-3 (VMID 9903) queued"),
            _event(legacy_named, 2, "log", OLD),
            _event(legacy_named, 3, "error", OLD),
            _event(legacy_named, 4, "step", OLD, message="Retry requested: resuming at creating"),
            _event(legacy_named, 5, "log", OLD),
            _event(legacy_named, 6, "complete", OLD),
            _event(legacy_named, 7, "log", OLD),
            # ... or nothing to go by but the terminal events: after the one before the last
            _event(legacy_bare, 1, "step", OLD),
            _event(legacy_bare, 2, "error", OLD),
            _event(legacy_bare, 3, "step", OLD),
            _event(legacy_bare, 4, "log", OLD),
            _event(legacy_bare, 5, "complete", OLD),
            _event(legacy_bare, 6, "log", OLD),
        ]
        await connection.execute(insert(ContainerEvent), rows)
        await connection.execute(
            insert(AuditEntry),
            [
                {"id": old_audit, "user_id": user_id, "action": "node.create",
                 "target_type": "node", "outcome": "success", "created_at": ANCIENT},
                {"id": recent_audit, "user_id": user_id, "action": "node.update",
                 "target_type": "node", "outcome": "success", "created_at": RECENT},
            ],
        )  # fmt: skip

    app = WorkerContext.build(
        msgspec.structs.replace(settings, events_retention_days=90, audit_retention_days=365),
        "test-retention",
    )
    try:
        result = await retention({"app": app})
        again = await retention({"app": app})
    finally:
        await app.aclose()

    async with engine.connect() as connection:
        kept = {
            (row.container_id, row.seq)
            for row in await connection.execute(
                select(ContainerEvent.container_id, ContainerEvent.seq).where(
                    ContainerEvent.container_id.in_(every)
                )
            )
        }
        audit_ids = set(
            (
                await connection.execute(
                    select(AuditEntry.id).where(AuditEntry.id.in_([old_audit, recent_audit]))
                )
            ).scalars()
        )
    await engine.dispose()
    assert kept == {
        (retried, 4), (retried, 5), (retried, 6), (retried, 8),
        (legacy, 1), (legacy, 2),
        (building, 1), (building, 2),
        (legacy_named, 4), (legacy_named, 5), (legacy_named, 6),
        (legacy_bare, 3), (legacy_bare, 4), (legacy_bare, 5),
    }  # fmt: skip
    assert audit_ids == {recent_audit}
    assert result["events"] >= 5 and result["auditRows"] >= 1
    assert again == {"events": 0, "auditRows": 0}  # nothing left to prune: stable


def test_the_cron_is_scheduled_unless_both_retentions_are_off(settings: Settings) -> None:
    names = [job.name for job in cron_jobs(settings)]
    assert "retention" in names
    off = msgspec.structs.replace(settings, events_retention_days=0, audit_retention_days=0)
    assert "retention" not in [job.name for job in cron_jobs(off)]
