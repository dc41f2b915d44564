"""A worker SIGKILLed mid-build: another worker finishes the build within 60 s, without a
second create on Proxmox (real worker processes, the simulator, PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from tests.integration.helpers import forget_nodes, login
from tests.integration.test_pipeline import (
    make_template,
    register,
    stored_events,
    wait_until_done,
)
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

pytestmark = pytest.mark.slow


async def test_a_killed_workers_build_resumes_on_another_worker(
    settings: Settings, pve: RunningSimulator, scratch_dir: Path
) -> None:
    # a queue of this test only, so the session's shared worker stays out of it
    own = msgspec.structs.replace(settings, queue_name=f"resume-{uuid.uuid4().hex[:8]}")
    env = settings_environment(own)
    first = start_process("services.worker", env, scratch_dir / "worker-a.log")
    second = None
    try:
        await asyncio.wait_for(wait_for_worker(own.redis_url or "", own.queue_name), 30)
        async with AsyncTestClient(create_app(own), base_url="https://testserver.local") as client:
            alice = await login(client, pve, 0, "127.0.0.1")
            await forget_nodes(own, alice.user_id)
            node_id = await register(alice, pve)
            slow = {
                "name": "10-slow.sh",
                "order": 10,
                "content": "#!/bin/bash\nsleep 4\necho done\n",
            }
            template_id = await make_template(alice, packages=[], files=[], scripts=[slow])
            response = await alice.call(
                "POST", "/api/containers",
                json={"hostname": "resume-01", "nodeId": node_id, "templateId": template_id,
                      "vmid": 7970},
            )  # fmt: skip
            assert response.status_code == 202, response.text
            container_id = response.json()["id"]
            request_id = response.headers["x-request-id"]
            deadline = time.monotonic() + 60
            while not any(
                e.script_name == "10-slow.sh" for e in await stored_events(own, container_id)
            ):
                assert time.monotonic() < deadline, "the build never reached its script"
                await asyncio.sleep(0.1)
            second = start_process("services.worker", env, scratch_dir / "worker-b.log")
            first.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            first.wait(10)
            detail = await wait_until_done(alice, container_id, limit=90)
            resumed_after = time.monotonic() - killed_at
            events = await stored_events(own, container_id)
            assert detail["lifecycle"] == "ready", events[-1].message
            assert resumed_after < 60, resumed_after
            creates = [e for e in events if e.message == "Waiting for the create task"]
            assert len(creates) == 1
            assert "done" in [e.message for e in events]
            # the request that asked for the build is named in the job's logs, on both workers
            for log_name in ("worker-a.log", "worker-b.log"):
                lines = (scratch_dir / log_name).read_text().splitlines()
                assert any(f'"request_id": "{request_id}"' in line for line in lines), log_name
            print(f"build resumed and completed {resumed_after:.1f} s after the kill")
    finally:
        if first.poll() is None:
            first.kill()
        if second is not None:
            stop_process(second)
