"""Issue 12, item 2: a worker process outlives a Redis outage (it used to exit at the first
failed poll) and `/ready` follows: 503 while Redis is down, 200 once the worker beats again."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared.adapters.queue import create_queue
from shared.core.settings import Settings
from shared.dev.embedded import EmbeddedRedis
from tests.support import settings_environment, start_process, stop_process, wait_for_worker


async def _ping(settings: Settings, payload: str, wait: float) -> dict:
    queue = create_queue(settings)
    try:
        job = await queue.enqueue_job("ping", payload, _job_id=f"ping:{uuid.uuid4().hex}")
        assert job is not None
        return await job.result(timeout=wait, poll_delay=0.2)
    finally:
        await queue.aclose()


async def test_the_worker_survives_a_redis_outage_and_runs_jobs_afterwards(
    settings: Settings, scratch_dir: Path
) -> None:
    server = EmbeddedRedis(scratch_dir / "redis", persist=False)
    url = server.start()
    own = msgspec.structs.replace(
        settings, redis_url=url, queue_name=f"outage-{uuid.uuid4().hex[:8]}",
        worker_heartbeat_seconds=1.0,
    )  # fmt: skip
    log_path = scratch_dir / "worker.log"
    worker = start_process("services.worker", settings_environment(own), log_path)
    app = create_app(own)
    try:
        async with asyncio.timeout(60):
            await wait_for_worker(url, own.queue_name)
        assert (await _ping(own, "before", 30))["pong"] == "before"

        server.stop()
        async with AsyncTestClient(app) as client:
            down = await client.get("/ready")
            assert down.status_code == 503
            assert "redis" in down.json()["detail"]
            # several polls fail meanwhile (0.5 s, 1 s, 2 s, ... apart)
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                assert worker.poll() is None, log_path.read_text()[-3000:]
                await asyncio.sleep(0.5)

            server.start()  # same address, empty data
            async with asyncio.timeout(60):
                await wait_for_worker(url, own.queue_name)
            ready = await client.get("/ready")
            assert ready.status_code == 200, ready.text
        assert (await _ping(own, "after", 60))["pong"] == "after"
        assert worker.poll() is None
    finally:
        code = stop_process(worker)
        server.stop()
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    # one line when the outage began, one when it ended, not one per failed poll
    assert log.count('"redis unavailable; waiting for it"') == 1, log[-3000:]
    assert log.count('"redis is back"') == 1, log[-3000:]


async def test_the_worker_survives_a_postgres_outage(settings: Settings, scratch_dir: Path) -> None:
    """A PostgreSQL of the test's own, stopped and started under a worker whose reconciler
    reads it every second: the worker stays, logs the outage once, and reads again after."""
    from shared.db.migrate import upgrade_to_head
    from shared.dev.embedded import EmbeddedPostgres

    postgres = EmbeddedPostgres(scratch_dir / "postgres")
    url = postgres.start()
    await asyncio.to_thread(upgrade_to_head, url)
    own = msgspec.structs.replace(
        settings, database_url=url, queue_name=f"pg-outage-{uuid.uuid4().hex[:8]}",
        reconcile_seconds=1,
    )  # fmt: skip
    log_path = scratch_dir / "worker.log"
    worker = start_process("services.worker", settings_environment(own), log_path)
    try:
        async with asyncio.timeout(60):
            await wait_for_worker(own.redis_url or "", own.queue_name)
        await asyncio.sleep(2)  # the reconciler has read the database
        await asyncio.to_thread(postgres.stop)
        async with asyncio.timeout(60):
            while '"database unavailable; waiting for it"' not in log_path.read_text():
                assert worker.poll() is None, log_path.read_text()[-3000:]
                await asyncio.sleep(0.5)
        await asyncio.sleep(4)  # several more reconciler runs fail meanwhile
        assert worker.poll() is None, log_path.read_text()[-3000:]
        assert (await _ping(own, "during", 30))["pong"] == "during"  # Redis jobs go on

        await asyncio.to_thread(postgres.start)
        async with asyncio.timeout(90):
            while '"database is back"' not in log_path.read_text():
                assert worker.poll() is None, log_path.read_text()[-3000:]
                await asyncio.sleep(0.5)
    finally:
        code = stop_process(worker)
        await asyncio.to_thread(postgres.stop)
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert log.count('"database unavailable; waiting for it"') == 1, log[-3000:]


async def test_a_worker_started_while_redis_is_down_waits_for_it(
    settings: Settings, scratch_dir: Path
) -> None:
    server = EmbeddedRedis(scratch_dir / "redis", persist=False)
    assert server.uses_socket  # its URL is known before it starts
    own = msgspec.structs.replace(
        settings, redis_url=server.url, queue_name=f"late-{uuid.uuid4().hex[:8]}"
    )
    log_path = scratch_dir / "worker.log"
    worker = start_process("services.worker", settings_environment(own), log_path)
    try:
        await asyncio.sleep(8)  # arq alone gives up after 5 tries, 1 s apart
        assert worker.poll() is None, log_path.read_text()[-3000:]
        server.start()
        async with asyncio.timeout(60):
            await wait_for_worker(server.url, own.queue_name)
        assert (await _ping(own, "late", 60))["pong"] == "late"
    finally:
        code = stop_process(worker)
        server.stop()
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert log.count('"redis unavailable; waiting for it"') == 1, log[-3000:]


async def test_the_periodic_jobs_skip_a_run_while_postgres_is_down(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crons read PostgreSQL first; with nothing listening where it should be, each run
    answers its empty result (its outage counted, one warning per outage) instead of failing;
    a run against a working PostgreSQL ends the outage. A bad query, which is not an
    outage, still raises."""
    from sqlalchemy import text

    from services.worker import jobs
    from services.worker.context import WorkerContext
    from shared.core.outages import OutageLog, unless_database_down
    from shared.dev.embedded import free_port

    outages = {
        name: OutageLog(f"database ({name})")
        for name in ("_reconcile_outage", "_retention_outage", "_node_sweep_outage")
    }
    for name, outage in outages.items():
        monkeypatch.setattr(jobs, name, outage)  # this test's own, not the module's
    gone = msgspec.structs.replace(
        settings, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    )
    app = WorkerContext.build(gone, "test-cron-outage")
    try:
        ctx = {"app": app, "redis": app.redis}
        for _ in range(2):
            assert await jobs.reconcile(ctx) == 0
            assert await jobs.retention(ctx) == {"events": 0, "auditRows": 0}
            totals = await jobs.reconcile_nodes(ctx)
            assert totals == {"nodes": 0, "missing": 0, "restored": 0, "migrated": 0, "failed": 0}
    finally:
        await app.aclose()
    assert [(o.down, o.failures) for o in outages.values()] == [(True, 2)] * 3

    working = WorkerContext.build(settings, "test-cron-outage")
    try:
        # (retention only: the other two would act on every test's nodes and rows)
        await jobs.retention({"app": working, "redis": working.redis})
        back = outages["_retention_outage"]
        assert not back.down and back.failures == 0

        async def bad_query() -> None:
            async with working.db_sessions() as session:
                await session.execute(text("SELECT * FROM no_such_table"))

        outage = OutageLog("database (test)")
        with pytest.raises(Exception, match="no_such_table"):
            await unless_database_down(outage, bad_query)
        assert not outage.down
    finally:
        await working.aclose()
