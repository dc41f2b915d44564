"""Node faults injected in each build phase (down, slow, 5xx, lock timeout), held 1.5 s: each
build is retried to `ready` or ends in a clean `error`, and no row is left `creating` once the
reconciler has had its period."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.lifecycle import Phase
from shared.core.settings import Settings
from shared.db import Container, create_engine
from tests.figures import record
from tests.integration.helpers import forget_nodes, login
from tests.integration.test_pipeline import make_template, register, stored_events, wait_until_done
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

pytestmark = pytest.mark.reliability

FAULTS: dict[str, dict[str, Any]] = {
    "node down": {"down": 1},
    "node slow (2 s a call)": {"latency_ms": 2000},
    "node 5xx": {"error_rate": 1.0, "error_status": 500},
    "lock timeout": {"lock_contention": 1},
}
RECONCILE_SECONDS = 2


async def test_node_faults_in_each_phase_end_retried_or_in_a_clean_error(
    settings: Settings, pve: RunningSimulator, pve_admin: httpx.AsyncClient, scratch_dir: Path
) -> None:
    own = msgspec.structs.replace(
        settings, queue_name=f"faults-{uuid.uuid4().hex[:8]}", build_lease_seconds=1.0,
        reconcile_seconds=RECONCILE_SECONDS,
    )  # fmt: skip
    worker = start_process("services.worker", settings_environment(own), scratch_dir / "w.log")
    try:
        await asyncio.wait_for(wait_for_worker(own.redis_url or "", own.queue_name), 30)
        async with AsyncTestClient(create_app(own), base_url="https://testserver.local") as client:
            alice = await login(client, pve, 0, "127.0.0.1")
            await forget_nodes(own, alice.user_id)
            node_id = await register(alice, pve)
            script = {"name": "10-wait.sh", "order": 10, "content": "#!/bin/bash\nsleep 0.5\n"}
            file = {"name": "motd", "targetPath": "/etc", "content": "hi\n", "policy": "replace"}
            template_id = await make_template(alice, packages=[], files=[file], scripts=[script])
            vmids = iter(range(7900, 7930))
            for label, fault in FAULTS.items():
                outcomes: dict[str, int] = {"ready": 0, "error": 0}
                for phase in Phase:
                    answer = await alice.call(
                        "POST", "/api/containers",
                        json={"hostname": "faulted", "nodeId": node_id,
                              "templateId": template_id, "vmid": next(vmids)},
                    )  # fmt: skip
                    assert answer.status_code == 202, answer.text
                    container_id = answer.json()["id"]
                    deadline = time.monotonic() + 60
                    while not any(e.step == phase for e in await stored_events(own, container_id)):
                        assert time.monotonic() < deadline, f"the build never reached {phase}"
                        await asyncio.sleep(0.05)
                    await pve_admin.put("/faults/pve", json=fault)
                    await asyncio.sleep(1.5)
                    await pve_admin.delete("/faults/pve")
                    detail = await wait_until_done(alice, container_id, limit=90)
                    outcomes[detail["lifecycle"]] += 1
                    if detail["lifecycle"] == "error":  # a clean error says why
                        assert detail["failureReason"], detail
                done = f"{outcomes['ready']} / {outcomes['error']}"
                record(f"{label}, in each of the 5 phases", "ready / clean error", done, "5 in all")
            await asyncio.sleep(2 * RECONCILE_SECONDS)  # the reconciler's period, twice
            engine = create_engine(own, pooled=False)
            async with engine.connect() as connection:
                stuck = await connection.scalar(
                    select(func.count()).where(
                        Container.created_by == uuid.UUID(alice.user_id),
                        Container.lifecycle.in_(("creating", "deleting")),
                    )
                )
            await engine.dispose()
            record("node faults in each phase", "rows left creating/deleting", stuck, 0)
            assert stuck == 0
            await forget_nodes(own, alice.user_id)
    finally:
        stop_process(worker)
