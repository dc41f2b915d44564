"""`python -m bench` (or `make bench`): API routes against a bare Litestar route, side by side.

Both servers run as their own uvicorn processes with the same options, on real PostgreSQL,
Redis and the Proxmox VE simulator; the load comes from another process over loopback. Rounds
alternate between targets so drift in the machine's speed hits them alike; each figure is the
median of its rounds.

Scenarios:
- `GET /health` vs the bare route (throughput ratio);
- `GET /api/nodes/{id}/vmids/{vmid}` (session lookup + cache check) vs the bare route
  (goal: at least 0.5 of its throughput);
- `GET /api/containers` over 10 nodes x 200 containers where node k answers after
  100 + 300*k/9 ms: list time divided by the slowest node's latency (goal: at most 1.3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import insert

from services.pvesim.process import RunningSimulator, start_simulator_process
from shared.crypto import generate_key
from shared.db import Container, create_engine
from shared.db.migrate import upgrade_to_head
from shared.embedded import create_database, drop_database, find_or_start_servers, free_port

ROOT = Path(__file__).resolve().parents[1]
UVICORN_OPTIONS = ["--log-level", "warning", "--no-access-log", "--loop", "uvloop"]
INVENTORY_NODES = 10
CONTAINERS_PER_NODE = 200


def _serve(
    command: list[str], env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    output = log.open("wb")
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start: {command}")


def _load(url: str, seconds: float, connections: int, headers: list[str]) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.load", url, str(seconds), str(connections), *headers],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _throughput(
    targets: dict[str, tuple[str, list[str]]], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    for url, headers in targets.values():  # warm up every target before measuring
        _load(url, 0.5, args.connections, headers)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, (url, headers) in targets.items():
            runs[name].append(_load(url, args.seconds, args.connections, headers))
    return {name: _median(samples) for name, samples in runs.items()}


class Stack:
    """Servers, a migrated scratch database, the simulator, the API and the bare app."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.processes: list[subprocess.Popen[bytes]] = []
        self.servers = find_or_start_servers(scratch)
        self.database_url = create_database(self.servers.postgres_admin_url, "infrahaus_bench")
        self.simulator: RunningSimulator | None = None

    def start(self) -> None:
        upgrade_to_head(self.database_url)
        (self.scratch / "pvesim").mkdir()
        self.simulator = start_simulator_process(self.scratch / "pvesim", nodes=INVENTORY_NODES)
        self.api_port, self.bare_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.servers.redis_url,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",  # the access log is part of every request's real cost
            "SECRET_KEYS": generate_key("bench"),
            "QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
            "INVENTORY_NODE_TIMEOUT_SECONDS": "5",
        }
        uvicorn = [sys.executable, "-m", "uvicorn", *UVICORN_OPTIONS]
        api = [*uvicorn, "--factory", "services.api.app:create_app", "--port", str(self.api_port)]
        self.processes.append(_serve(api, self.env, self.api_port, self.scratch / "api.log"))
        bare = [*uvicorn, "bench.bare_app:app", "--port", str(self.bare_port)]
        self.processes.append(_serve(bare, self.env, self.bare_port, self.scratch / "bare.log"))

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def bare(self) -> str:
        return f"http://127.0.0.1:{self.bare_port}/bare"

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(10)
        if self.simulator is not None:
            self.simulator.stop()
        drop_database(self.servers.postgres_admin_url, self.database_url)
        self.servers.stop()


def _login_and_register(stack: Stack) -> tuple[dict[str, str], list[dict[str, Any]]]:
    assert stack.simulator is not None
    info = stack.simulator.info
    pve = httpx.URL(info["apiUrl"])
    user = info["users"][0]
    login = httpx.post(f"{stack.api}/api/auth/login", json={
        "host": pve.host, "port": pve.port, "username": user["username"],
        "realm": user["realm"], "password": user["password"],
    }).json()  # fmt: skip
    headers = {"Authorization": f"Bearer {login['token']}"}
    nodes = []
    for name in info["nodes"]:
        response = httpx.post(f"{stack.api}/api/nodes", headers=headers, timeout=30, json={
            "name": name, "host": pve.host, "port": pve.port,
            "tokenId": info["tokenId"], "tokenSecret": info["tokenSecret"],
        })  # fmt: skip
        response.raise_for_status()
        nodes.append(response.json())
    return headers, nodes


async def _seed_containers(stack: Stack, user_id: str, nodes: list[dict[str, Any]]) -> None:
    """Container records as the pipeline would leave them (the simulator lists its own)."""
    from shared.settings import load_settings

    engine = create_engine(load_settings({}, database_url=stack.database_url), pooled=False)
    async with engine.begin() as connection:
        for node in nodes:
            await connection.execute(
                insert(Container),
                [
                    {"id": uuid.uuid4(), "node_id": uuid.UUID(node["id"]),
                     "created_by": uuid.UUID(user_id), "vmid": 1000 + i,
                     "hostname": f"{node['name']}-ct{i}", "lifecycle": "ready"}
                    for i in range(CONTAINERS_PER_NODE)
                ],
            )  # fmt: skip
    await engine.dispose()


async def _set_latencies(stack: Stack) -> float:
    assert stack.simulator is not None
    slowest = 0.0
    async with httpx.AsyncClient(base_url=stack.simulator.info["adminUrl"]) as admin:
        for k, name in enumerate(stack.simulator.info["nodes"]):
            latency = 100 + 300 * k / (INVENTORY_NODES - 1)
            slowest = max(slowest, latency)
            (
                await admin.put(f"/faults/{name}", json={"latency_ms": round(latency)})
            ).raise_for_status()
    return slowest / 1000


def _inventory(stack: Stack, headers: dict[str, str], rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds + 1):  # the first call warms connection pools; not counted
        started = time.perf_counter()
        response = httpx.get(f"{stack.api}/api/containers", headers=headers, timeout=60)
        samples.append(time.perf_counter() - started)
        body = response.json()
        assert response.status_code == 200, body
        assert len(body["items"]) == INVENTORY_NODES * CONTAINERS_PER_NODE, body["nodeErrors"]
        assert not body["nodeErrors"], body["nodeErrors"]
    return {"median_s": statistics.median(samples[1:]), "max_s": max(samples[1:])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="infrahaus-bench-")))
    try:
        stack.start()
        headers, nodes = _login_and_register(stack)
        me = httpx.get(f"{stack.api}/api/auth/me", headers=headers).json()
        first = nodes[0]["id"]
        httpx.post(
            f"{stack.api}/api/nodes/{first}/vmids/refresh", headers=headers
        ).raise_for_status()
        auth = [f"Authorization: {headers['Authorization']}"]
        throughput = _throughput(
            {
                "bare Litestar route": (stack.bare, []),
                "GET /health": (f"{stack.api}/health", []),
                "GET vmid check": (f"{stack.api}/api/nodes/{first}/vmids/150", auth),
            },
            args,
        )
        asyncio.run(_seed_containers(stack, me["user"]["id"], nodes))
        slowest = asyncio.run(_set_latencies(stack))
        inventory = _inventory(stack, headers, args.rounds)
        redis_calls = asyncio.run(_redis_calls_per_vmid_check(stack, first, headers))
    finally:
        stack.stop()

    print(
        f"{args.rounds} rounds x {args.seconds:.0f} s, {args.connections} connections,"
        " one uvicorn process per server, load from a separate process"
    )
    print(f"{'target':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, result in throughput.items():
        print(
            f"{name:<22}{result['rps']:>10.0f}{result['p50_ms']:>10.2f}"
            f"{result['p99_ms']:>10.2f}{result['errors']:>8.0f}"
        )
    bare = throughput["bare Litestar route"]
    for name, result in throughput.items():
        if result is not bare:
            print(f"ratio {name} / bare route: throughput {result['rps'] / bare['rps']:.2f}")
    print(f"Redis commands per VMID check: {redis_calls} (session GETEX, cache SMISMEMBER; no SQL)")
    print(
        f"GET /api/containers, {INVENTORY_NODES} nodes x {CONTAINERS_PER_NODE} containers,"
        f" node latencies 100..{slowest * 1000:.0f} ms:"
        f" median {inventory['median_s'] * 1000:.0f} ms, max {inventory['max_s'] * 1000:.0f} ms;"
        f" ratio to the slowest node {inventory['median_s'] / slowest:.2f}"
    )
    return 0


async def _redis_calls_per_vmid_check(stack: Stack, node_id: str, headers: dict[str, str]) -> int:
    """Count the Redis commands one VMID check costs (INFO commandstats before and after).

    The counters are server-wide, so the fewest of five tries is taken: anything else talking
    to the same Redis can only add to a try.
    """
    redis = Redis.from_url(stack.servers.redis_url)
    counts = []
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(5):
                before = await _total_calls(redis)
                await client.get(f"{stack.api}/api/nodes/{node_id}/vmids/150", headers=headers)
                counts.append(await _total_calls(redis) - before - 1)  # minus our INFO
    finally:
        await redis.aclose()
    return min(counts)


async def _total_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(value["calls"]) for value in stats.values())


if __name__ == "__main__":
    raise SystemExit(main())
