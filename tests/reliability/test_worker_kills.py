"""A worker SIGKILLed in each of the 5 build phases while another worker is alive: the build
completes on the other, with one create on Proxmox, within seconds (leases of 1 s here; the
default 10 s gives about 30 s). The full-size single-kill case is tests/e2e/test_build_resume.py."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.lifecycle import Phase
from shared.core.settings import Settings
from tests.figures import record
from tests.integration.helpers import forget_nodes, login
from tests.integration.test_pipeline import make_template, register, stored_events, wait_until_done
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

pytestmark = pytest.mark.reliability


async def test_a_worker_killed_in_each_phase_loses_no_build_and_creates_once(
    settings: Settings, pve: RunningSimulator, pve_admin: httpx.AsyncClient, scratch_dir: Path
) -> None:
    own = msgspec.structs.replace(
        settings, queue_name=f"kills-{uuid.uuid4().hex[:8]}", build_lease_seconds=1.0
    )
    env = settings_environment(own)
    redis_url = own.redis_url or ""
    workers = [start_process("services.worker", env, scratch_dir / "worker-0.log")]
    # every node call takes 150 ms more, so each phase lasts long enough to be killed in
    await pve_admin.put("/faults/pve", json={"latency_ms": 150})
    try:
        await asyncio.wait_for(wait_for_worker(redis_url, own.queue_name), 30)
        async with AsyncTestClient(create_app(own), base_url="https://testserver.local") as client:
            alice = await login(client, pve, 0, "127.0.0.1")
            await forget_nodes(own, alice.user_id)
            node_id = await register(alice, pve)
            script = {"name": "10-wait.sh", "order": 10, "content": "#!/bin/bash\nsleep 1\n"}
            file = {"name": "motd", "targetPath": "/etc", "content": "hi\n", "policy": "replace"}
            template_id = await make_template(alice, packages=[], files=[file], scripts=[script])
            for number, phase in enumerate(Phase, start=1):
                answer = await alice.call(
                    "POST", "/api/containers",
                    json={"hostname": f"kill-{phase}", "nodeId": node_id,
                          "templateId": template_id, "vmid": 7980 + number},
                )  # fmt: skip
                assert answer.status_code == 202, answer.text
                container_id = answer.json()["id"]
                deadline = time.monotonic() + 60
                while not any(e.step == phase for e in await stored_events(own, container_id)):
                    assert time.monotonic() < deadline, f"the build never reached {phase}"
                    await asyncio.sleep(0.05)
                # the other worker is alive before the kill
                workers.append(
                    start_process("services.worker", env, scratch_dir / f"worker-{number}.log")
                )
                victim = workers[-2]
                victim.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                victim.wait(10)
                killed_in = (await stored_events(own, container_id))[-1].step
                detail = await wait_until_done(alice, container_id, limit=60)
                resumed_after = time.monotonic() - killed_at
                events = await stored_events(own, container_id)
                creates = sum(e.message == "Waiting for the create task" for e in events)
                scenario = f"worker SIGKILLed in phase {phase}"
                record(scenario, "builds completed", int(detail["lifecycle"] == "ready"), 1)
                record(scenario, "duplicate PVE creates", creates - 1, 0)
                record(
                    scenario,
                    "seconds from the kill to ready (phase hit)",
                    f"{resumed_after:.1f} ({killed_in})",
                )
                assert detail["lifecycle"] == "ready", detail["failureReason"]
                assert creates == 1, [e.message for e in events]
                assert resumed_after < 30, resumed_after
            await forget_nodes(own, alice.user_id)
    finally:
        for worker in workers:
            if worker.poll() is None:
                stop_process(worker)
