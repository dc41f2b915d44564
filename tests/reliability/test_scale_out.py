"""Scale-out: two API processes and two worker processes on one PostgreSQL and one Redis
(one queue), 20 builds on one node. Measured: SSE clients of API A follow the builds worker B
runs (live, through Redis pub/sub); the per-node build limit holds across both workers (from
the builds' stored event times); a session made on either API is valid, and ended, on both.

Which worker ran a build comes from the workers' own logs (`build finished`, bound to the
container id). How many builds ran at once comes from PostgreSQL: a build holds its node slot
from before its first event after any "Waiting for a free build slot" until after its
`complete` event is committed, so those intervals lie inside the slot's and their overlap can
only under-count the slots held, never over-count them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest
from httpx_sse import aconnect_sse
from redis.asyncio import Redis

from services.pvesim.process import RunningSimulator
from shared.adapters import heartbeat
from shared.core.settings import Settings
from shared.db.models import ContainerEvent
from shared.dev.embedded import free_port
from tests.figures import record
from tests.integration.helpers import forget_nodes, node_body
from tests.integration.test_pipeline import stored_events, template_body
from tests.reliability.conftest import bearer_login, wait_healthy
from tests.support import settings_environment, start_process, stop_process

pytestmark = pytest.mark.reliability

BUILDS = 20
LIMIT = 3  # builds at once on the node; each worker alone could run 10 (arq's max_jobs)
FIRST_VMID = 7400  # 7400-7419: used by no other test
WAITING = "Waiting for a free build slot"


class Stream(msgspec.Struct):
    """What API A's SSE client saw of one build."""

    opened: float = 0.0  # time.time() when the stream answered 200
    seqs: list[int] = msgspec.field(default_factory=list)
    final: str = ""


async def _follow(http: httpx.AsyncClient, url: str, token: str, opened: asyncio.Event) -> Stream:
    seen = Stream()
    while not seen.final:  # reconnect with Last-Event-ID, like EventSource, on any drop
        last = seen.seqs[-1] if seen.seqs else 0
        headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": str(last)}
        try:
            async with aconnect_sse(http, "GET", url, headers=headers, timeout=90) as source:
                if source.response.status_code == 204:
                    seen.final = "already"
                    break
                assert source.response.status_code == 200, source.response.status_code
                seen.opened = seen.opened or time.time()
                opened.set()
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue
                    data = json.loads(sse.data)
                    seen.seqs.append(data["seq"])
                    if data["type"] in ("complete", "error"):
                        seen.final = data["type"]
                        break
        except httpx.HTTPError:
            await asyncio.sleep(0.3)
    return seen


async def _wait_for_workers(settings: Settings, count: int) -> None:
    redis = Redis.from_url(settings.redis_url or "")
    try:
        async with asyncio.timeout(30):
            while await redis.zcard(heartbeat.workers_key(settings.queue_name)) < count:
                await asyncio.sleep(0.1)
    finally:
        await redis.aclose()


def _runners(log_path: Path) -> set[str]:
    """The container ids this worker's log says it finished building (ready)."""
    done = set()
    for line in log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "build finished" and entry.get("outcome") == "ready":
            done.add(entry["container_id"])
    return done


def _slot_interval(stored: list[ContainerEvent]) -> tuple[dt.datetime, dt.datetime]:
    """From the build's first event after its wait for a slot to its `complete` event."""
    built = _worker_events(stored)
    waited = [i for i, e in enumerate(built) if e.message.startswith(WAITING)]
    first = built[waited[-1] + 1 if waited else 0]
    complete = next(e for e in built if e.type == "complete")
    return first.created_at, complete.created_at


def _worker_events(stored: list[ContainerEvent]) -> list[ContainerEvent]:
    """The build's events, without the one the API stored with the row ("... queued")."""
    assert stored[0].message.endswith("queued"), stored[0].message
    return stored[1:]


def _most_at_once(
    intervals: dict[str, tuple[dt.datetime, dt.datetime]], runner: dict[str, str]
) -> tuple[int, bool]:
    """The largest number of intervals open at one instant; whether builds of two workers
    were ever open at the same instant."""
    marks = sorted(
        [(start, 1, key) for key, (start, _) in intervals.items()]
        + [(end, 0, key) for key, (_, end) in intervals.items()]  # ends first on a tie
    )
    open_now: set[str] = set()
    most, mixed = 0, False
    for _, starts, key in marks:
        if starts:
            open_now.add(key)
            most = max(most, len(open_now))
            mixed = mixed or len({runner.get(k) for k in open_now}) > 1
        else:
            open_now.discard(key)
    return most, mixed


async def test_two_apis_and_two_workers_share_builds_streams_sessions_and_the_node_limit(
    settings: Settings, pve: RunningSimulator, scratch_dir: Path
) -> None:
    own = msgspec.structs.replace(
        settings, queue_name=f"scale-{uuid.uuid4().hex[:8]}", builds_per_node=LIMIT
    )
    apis = [msgspec.structs.replace(own, api_port=free_port()) for _ in "ab"]
    logs = {
        name: scratch_dir / f"{name}.log" for name in ("api-a", "api-b", "worker-a", "worker-b")
    }
    processes = [
        start_process("services.api", settings_environment(apis[0]), logs["api-a"]),
        start_process("services.api", settings_environment(apis[1]), logs["api-b"]),
    ]
    urls = [f"http://127.0.0.1:{api.api_port}" for api in apis]
    started = time.monotonic()
    try:
        await wait_healthy(processes[0], urls[0], logs["api-a"])
        await wait_healthy(processes[1], urls[1], logs["api-b"])
        async with (
            httpx.AsyncClient(base_url=urls[0], timeout=30) as http_a,
            httpx.AsyncClient(base_url=urls[1], timeout=30) as http_b,
        ):
            # sessions: each API accepts the other's token
            token_a, token_b = await bearer_login(http_a, pve), await bearer_login(http_b, pve)
            cross = [
                (await http_b.get("/api/auth/me", headers={"Authorization": f"Bearer {token_a}"})),
                (await http_a.get("/api/auth/me", headers={"Authorization": f"Bearer {token_b}"})),
            ]
            accepted = sum(answer.status_code == 200 for answer in cross)
            assert accepted == 2, [answer.text for answer in cross]
            user_id = cross[0].json()["user"]["id"]
            await forget_nodes(own, user_id)  # what an earlier test left
            auth_a = {"Authorization": f"Bearer {token_a}"}
            auth_b = {"Authorization": f"Bearer {token_b}"}
            node = await http_a.post("/api/nodes", headers=auth_a, json=node_body(pve))
            assert node.status_code == 201, node.text
            script = {"name": "10-hi.sh", "order": 10, "content": "#!/bin/bash\necho hi\n"}
            body = template_body(
                f"scale-{uuid.uuid4().hex[:6]}", packages=[], files=[], scripts=[script]
            )
            template = await http_b.post("/api/templates", headers=auth_b, json=body)
            assert template.status_code == 201, template.text

            async def create(number: int) -> dict[str, str]:
                # half through each API, each with its own session
                http, auth = (http_a, auth_a) if number % 2 == 0 else (http_b, auth_b)
                answer = await http.post("/api/containers", headers=auth, json={
                    "hostname": f"scale-{number:02d}", "nodeId": node.json()["id"],
                    "templateId": template.json()["id"], "vmid": FIRST_VMID + number})  # fmt: skip
                assert answer.status_code == 202, answer.text
                body: dict[str, str] = answer.json()
                return body

            created = await asyncio.gather(*(create(n) for n in range(BUILDS)))
            # every build followed on API A, with API B's session, from before it starts: the
            # workers start once every stream is open, so every event reaches A live
            opened = [asyncio.Event() for _ in created]
            following = asyncio.gather(
                *(
                    _follow(http_a, c["eventsUrl"], token_b, opened[i])
                    for i, c in enumerate(created)
                )
            )
            await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 30)
            for name in ("worker-a", "worker-b"):
                env = settings_environment(own)
                processes.append(start_process("services.worker", env, logs[name]))
            await _wait_for_workers(own, 2)
            streams = await asyncio.wait_for(following, 90)
            details = [
                (await http_b.get(f"/api/containers/{c['id']}", headers=auth_a)).json()
                for c in created
            ]
            # a logout on one API ends the session on the other
            assert (await http_a.post("/api/auth/logout", headers=auth_a)).status_code == 204
            ended = await http_b.get("/api/auth/me", headers=auth_a)
            await http_b.delete(f"/api/nodes/{node.json()['id']}", headers=auth_b)
    finally:
        for process in processes:
            stop_process(process)
    took = time.monotonic() - started
    ready = sum(d["lifecycle"] == "ready" for d in details)
    ran = {name: _runners(logs[name]) for name in ("worker-a", "worker-b")}
    ids = [c["id"] for c in created]
    stored = {key: await stored_events(own, key) for key in ids}
    whole = {
        key: s.final == "complete" and s.seqs == [e.seq for e in stored[key]]
        for key, s in zip(ids, streams, strict=True)
    }
    intervals = {
        key: _slot_interval(stored[key])
        for key in ids
        if any(e.type == "complete" for e in stored[key])
    }
    # live: the stream on A was open before the build's first event was stored
    live = {
        key: 0 < s.opened < _worker_events(stored[key])[0].created_at.timestamp()
        for key, s in zip(ids, streams, strict=True)
        if key in intervals
    }
    by_b = ran["worker-b"] & set(ids)
    seen_on_a = sum(whole[key] for key in by_b)
    runner = {key: name for name, keys in ran.items() for key in keys}
    most, mixed = _most_at_once(intervals, runner)
    scenario = f"scale-out: 2 APIs, 2 workers, {BUILDS} builds on one node"
    record(scenario, "builds completed", f"{ready} / {BUILDS}", BUILDS)
    record(
        scenario, "builds run by worker A / B", f"{len(ran['worker-a'])} / {len(ran['worker-b'])}"
    )
    record(
        scenario,
        "SSE on API A: builds of worker B streamed whole (of them live from their start)",
        f"{seen_on_a} / {len(by_b)} ({sum(bool(live.get(k)) for k in by_b)})",
        "all",
    )
    record(
        scenario,
        f"most builds at once on the node (BUILDS_PER_NODE={LIMIT}); both workers at once",
        f"{most}; {'yes' if mixed else 'no'}",
        f"<= {LIMIT}; yes",
    )
    record(
        scenario,
        "sessions valid on the other API / logout ends it there",
        f"{accepted} / 2, {ended.status_code}",
        "2 / 2, 401",
    )
    print(f"scale-out: {took:.1f} s from the first process start to the last stop")
    assert ready == BUILDS, [(d["hostname"], d["lifecycle"], d["failureReason"]) for d in details]
    assert ran["worker-a"] | ran["worker-b"] == set(ids), ran
    assert by_b and ran["worker-a"], ran  # both workers built
    assert all(whole.values()), whole
    assert all(live.values()), live
    assert most <= LIMIT, (most, intervals, runner)
    assert mixed, (intervals, runner)  # the slots were shared by both workers at some instant
    assert ended.status_code == 401, ended.text
