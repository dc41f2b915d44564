"""PostgreSQL restarted mid-build: the API answers 503 (never 500) meanwhile, and the build
completes once the database is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.db.migrate import upgrade_to_head
from shared.dev.embedded import EmbeddedPostgres
from tests.figures import record
from tests.integration.helpers import login
from tests.integration.test_pipeline import make_template, register, stored_events, wait_until_done
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

pytestmark = pytest.mark.reliability


async def test_a_postgres_restart_mid_build_is_503_then_the_build_completes(
    settings: Settings, pve: RunningSimulator, scratch_dir: Path
) -> None:
    postgres = EmbeddedPostgres(scratch_dir / "postgres")
    url = postgres.start()
    await asyncio.to_thread(upgrade_to_head, url)
    own = msgspec.structs.replace(
        settings, database_url=url, queue_name=f"pg-{uuid.uuid4().hex[:8]}",
        build_lease_seconds=1.0, reconcile_seconds=2,
    )  # fmt: skip
    worker = start_process("services.worker", settings_environment(own), scratch_dir / "w.log")
    try:
        await asyncio.wait_for(wait_for_worker(own.redis_url or "", own.queue_name), 30)
        async with AsyncTestClient(create_app(own), base_url="https://testserver.local") as client:
            alice = await login(client, pve, 0, "127.0.0.1")
            node_id = await register(alice, pve)
            script = {"name": "10-wait.sh", "order": 10, "content": "#!/bin/bash\nsleep 3\n"}
            template_id = await make_template(alice, packages=[], files=[], scripts=[script])
            answer = await alice.call(
                "POST", "/api/containers",
                json={"hostname": "pg-restart", "nodeId": node_id, "templateId": template_id,
                      "vmid": 7935},
            )  # fmt: skip
            assert answer.status_code == 202, answer.text
            container_id = answer.json()["id"]
            deadline = time.monotonic() + 60
            while not any(
                e.script_name == "10-wait.sh" for e in await stored_events(own, container_id)
            ):
                assert time.monotonic() < deadline, "the build never reached its script"
                await asyncio.sleep(0.1)
            await asyncio.to_thread(postgres.stop)
            codes: Counter[int] = Counter()
            for _ in range(5):
                for method, path in (
                    ("GET", "/api/containers"), ("GET", f"/api/containers/{container_id}"),
                    ("GET", "/api/nodes"), ("POST", f"/api/containers/{container_id}/stop"),
                ):  # fmt: skip
                    codes[(await alice.call(method, path)).status_code] += 1
                await asyncio.sleep(0.3)
            await asyncio.to_thread(postgres.start)
            detail = await wait_until_done(alice, container_id, limit=120)
        scenario = "PostgreSQL restarted mid-build"
        record(scenario, "API answers while down (503 / 500)", f"{codes[503]} / {codes[500]}",
               "all 503 / 0")  # fmt: skip
        record(scenario, "builds completed after", int(detail["lifecycle"] == "ready"), 1)
        assert codes[500] == 0 and set(codes) == {503}, codes
        assert detail["lifecycle"] == "ready", detail["failureReason"]
    finally:
        stop_process(worker)
        await asyncio.to_thread(postgres.stop)
