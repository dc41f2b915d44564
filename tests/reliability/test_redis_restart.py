"""Redis SIGKILLed mid-build and restarted empty (sessions, queue and pub/sub gone) while SSE
clients follow the build through a real API process: every client gets every event once, in
order (PostgreSQL is the record), and the build completes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest
from httpx_sse import aconnect_sse

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.dev.embedded import EmbeddedRedis, free_port
from tests.figures import record
from tests.integration.helpers import forget_nodes, node_body
from tests.integration.test_pipeline import stored_events, template_body
from tests.reliability.conftest import bearer_login, start_api
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

pytestmark = pytest.mark.reliability

CLIENTS = 3  # the last one hangs up when Redis is killed and reconnects meanwhile
OUTAGE_SECONDS = 2.0


class Follower(msgspec.Struct):
    """What one SSE client saw: the seqs in the order received, and its reconnections."""

    seqs: list[int] = msgspec.field(default_factory=list)
    reconnects: int = 0
    relogins: int = 0
    after_restart: int = 0  # events received once Redis was back


async def _follow(
    http: httpx.AsyncClient, pve: RunningSimulator, stream: str, token: list[str],
    hang_up: asyncio.Event | None, redis_back: asyncio.Event,
) -> Follower:  # fmt: skip
    """Read the stream to its terminal event as an EventSource would: on any drop, reconnect
    with `Last-Event-ID`; on a 401 (the session was in the lost Redis) log in again."""
    seen = Follower()
    while True:
        last = seen.seqs[-1] if seen.seqs else 0
        headers = {"Authorization": f"Bearer {token[0]}", "Last-Event-ID": str(last)}
        try:
            async with aconnect_sse(http, "GET", stream, headers=headers, timeout=60) as source:
                status = source.response.status_code
                if status == 204:  # it already has the final event
                    return seen
                if status == 401:
                    token[0] = await bearer_login(http, pve)
                    seen.relogins += 1
                elif status == 200:
                    async for sse in source.aiter_sse():
                        if not sse.data:  # the `retry:` hint
                            continue
                        data = json.loads(sse.data)
                        seen.seqs.append(data["seq"])
                        seen.after_restart += redis_back.is_set()
                        if data["type"] in ("complete", "error"):
                            return seen
                        if hang_up is not None and hang_up.is_set():
                            hang_up = None  # once: the client goes away as Redis dies
                            break
        except httpx.HTTPError:
            pass  # dropped, or refused while Redis is down: retry like EventSource
        seen.reconnects += 1
        await asyncio.sleep(0.3)


async def test_a_redis_kill_mid_build_loses_no_event_and_the_build_completes(
    settings: Settings, pve: RunningSimulator, scratch_dir: Path
) -> None:
    server = EmbeddedRedis(scratch_dir / "redis", persist=False)
    url = server.start()
    own = msgspec.structs.replace(
        settings, redis_url=url, api_port=free_port(), queue_name=f"rk-{uuid.uuid4().hex[:8]}",
        build_lease_seconds=1.0, worker_heartbeat_seconds=1.0, reconcile_seconds=2,
    )  # fmt: skip
    worker = start_process("services.worker", settings_environment(own), scratch_dir / "w.log")
    api, base = await start_api(own, scratch_dir / "api.log")
    try:
        await asyncio.wait_for(wait_for_worker(url, own.queue_name), 30)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            token = [await bearer_login(http, pve)]
            auth = {"Authorization": f"Bearer {token[0]}"}
            # what an earlier test left (a node is not deletable while it holds containers)
            me = (await http.get("/api/auth/me", headers=auth)).json()
            await forget_nodes(settings, me["user"]["id"])
            node = await http.post("/api/nodes", headers=auth, json=node_body(pve))
            assert node.status_code == 201, node.text
            ticks = "#!/bin/bash\nfor i in $(seq 1 16); do echo tick $i; sleep 0.25; done\n"
            template = await http.post("/api/templates", headers=auth, json=template_body(
                f"redis-kill-{uuid.uuid4().hex[:6]}", packages=[], files=[],
                scripts=[{"name": "10-ticks.sh", "order": 10, "content": ticks}]))  # fmt: skip
            assert template.status_code == 201, template.text
            created = await http.post("/api/containers", headers=auth, json={
                "hostname": "redis-kill", "nodeId": node.json()["id"],
                "templateId": template.json()["id"], "vmid": 7951})  # fmt: skip
            assert created.status_code == 202, created.text
            container_id, stream = created.json()["id"], created.json()["eventsUrl"]
            hang_up, redis_back = asyncio.Event(), asyncio.Event()
            followers = [
                asyncio.create_task(_follow(
                    http, pve, stream, token, hang_up if i == CLIENTS - 1 else None, redis_back))
                for i in range(CLIENTS)
            ]  # fmt: skip
            deadline = time.monotonic() + 60
            while not any(e.message == "tick 2" for e in await stored_events(own, container_id)):
                assert time.monotonic() < deadline, "the build never reached its script"
                await asyncio.sleep(0.1)
            server.kill()
            hang_up.set()
            await asyncio.sleep(OUTAGE_SECONDS)
            down_until = (await stored_events(own, container_id))[-1].seq
            server.start()  # same address, no data: sessions, queue and locks are gone
            redis_back.set()
            seen = await asyncio.wait_for(asyncio.gather(*followers), 60)
            token[0] = await bearer_login(http, pve)
            auth = {"Authorization": f"Bearer {token[0]}"}
            deadline = time.monotonic() + 60
            while (
                detail := (await http.get(f"/api/containers/{container_id}", headers=auth)).json()
            )["lifecycle"] == "creating":
                assert time.monotonic() < deadline, detail
                await asyncio.sleep(0.3)
            await http.delete(f"/api/nodes/{node.json()['id']}", headers=auth)
    finally:
        stop_process(api)
        stop_process(worker)
        server.stop()
    stored = [e.seq for e in await stored_events(own, container_id)]
    lost = sum(len(set(stored) - set(s.seqs)) for s in seen)
    duplicated = sum(len(s.seqs) - len(set(s.seqs)) for s in seen)
    resumed = sum(s.seqs == stored and s.after_restart > 0 for s in seen)
    creates = sum(
        e.message == "Waiting for the create task" for e in await stored_events(own, container_id)
    )
    scenario = f"Redis SIGKILLed mid-build, {CLIENTS} SSE clients"
    record(scenario, "events lost (of each client's stream)", lost, 0)
    record(scenario, "events received twice", duplicated, 0)
    record(scenario, "clients that resumed to the final event", f"{resumed} / {CLIENTS}", CLIENTS)
    record(scenario, "builds completed", int(detail["lifecycle"] == "ready"), 1)
    record(scenario, "duplicate PVE creates", creates - 1, 0)
    print(
        f"events: {len(stored)} stored, last before restart {down_until};"
        f" reconnects {[s.reconnects for s in seen]}, re-logins {[s.relogins for s in seen]}"
    )
    assert lost == 0 and duplicated == 0, ([s.seqs for s in seen], stored)
    assert resumed == CLIENTS, [(s.seqs, s.after_restart) for s in seen]
    assert detail["lifecycle"] == "ready", detail["failureReason"]
    assert creates == 1
    assert seen[-1].reconnects > 0 and seen[-1].relogins > 0  # the hung-up client came back
