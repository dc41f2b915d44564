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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from redis.asyncio import Redis
from sqlalchemy import insert

from bench.proc import tcp_local_ports_to
from services.pvesim.process import RunningSimulator, start_simulator_process
from shared.core.crypto import generate_key
from shared.db import Container, create_engine
from shared.db.migrate import upgrade_to_head
from shared.dev.embedded import create_database, drop_database, find_or_start_servers, free_port

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


WRK_SCRIPT = ROOT / "bench" / "wrk_report.lua"
PYTHON_LOAD_PROCESSES = 2


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load(
    url: str, seconds: float, connections: int, headers: list[str], server_pid: int
) -> dict[str, float]:
    """One round of load on `url`, with the CPU the server and the load generator used.

    wrk (C, `apt-get install wrk`) when it is installed: one thread on its own CPU costs far
    less per request than the server does. Otherwise several processes of `bench.load`
    share the connections (its p50/p99 are then those of the slowest process).
    """
    server_before, load_before = _cpu_seconds(server_pid), _children_cpu_seconds()
    if shutil.which("wrk"):
        duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds
        command = ["wrk", "-t1", f"-c{connections}", duration, "-s", str(WRK_SCRIPT)]
        command += [arg for header in headers for arg in ("-H", header)]
        output = subprocess.run(
            [*command, url], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
        result["rps"] = result["requests"] / result["seconds"]
    else:
        share = max(1, connections // PYTHON_LOAD_PROCESSES)
        loads = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.load", url, str(seconds), str(share), *headers],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(PYTHON_LOAD_PROCESSES)
        ]
        parts = [json.loads(load.communicate()[0]) for load in loads]
        result = {
            "requests": sum(p["requests"] for p in parts),
            "errors": sum(p["errors"] for p in parts),
            "rps": sum(p["rps"] for p in parts),
            "p50_ms": max(p["p50_ms"] for p in parts),
            "p99_ms": max(p["p99_ms"] for p in parts),
        }
    # CPU used per second of the round: 1.0 is one whole core
    result["server_cpu"] = (_cpu_seconds(server_pid) - server_before) / seconds
    result["load_cpu"] = (_children_cpu_seconds() - load_before) / seconds
    return result


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _throughput(
    targets: dict[str, tuple[str, list[str], int]], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    for url, headers, pid in targets.values():  # warm up every target before measuring
        _load(url, 1, args.connections, headers, pid)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, (url, headers, pid) in targets.items():
            runs[name].append(_load(url, args.seconds, args.connections, headers, pid))
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
    from shared.core.settings import load_settings

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
    parser.add_argument(
        "--no-inventory", dest="inventory", action="store_false", help="skip the container list"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="servers on one CPU, the load on the other (Redis then shares a CPU with one)",
    )
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="infrahaus-bench-")))
    try:
        stack.start()
        api_pid, bare_pid = (process.pid for process in stack.processes)
        cpus = sorted(os.sched_getaffinity(0))
        if args.pin and len(cpus) > 1:  # the servers on one CPU, the load generator on the rest
            for pid in (api_pid, bare_pid):
                os.sched_setaffinity(pid, cpus[:1])
            os.sched_setaffinity(0, cpus[1:])
        headers, nodes = _login_and_register(stack)
        me = httpx.get(f"{stack.api}/api/auth/me", headers=headers).json()
        first = nodes[0]["id"]
        httpx.post(
            f"{stack.api}/api/nodes/{first}/vmids/refresh", headers=headers
        ).raise_for_status()
        auth = [f"Authorization: {headers['Authorization']}"]
        throughput = _throughput(
            {
                "bare Litestar route": (stack.bare, [], bare_pid),
                "GET /health": (f"{stack.api}/health", [], api_pid),
                "GET /api/auth/me": (f"{stack.api}/api/auth/me", auth, api_pid),
                "GET vmid check": (f"{stack.api}/api/nodes/{first}/vmids/150", auth, api_pid),
            },
            args,
        )
        round_trips = asyncio.run(_round_trips_per_vmid_check(stack, api_pid, first, headers))
        if args.inventory:
            asyncio.run(_seed_containers(stack, me["user"]["id"], nodes))
            slowest = asyncio.run(_set_latencies(stack))
            inventory = _inventory(stack, headers, args.rounds)
    finally:
        stack.stop()

    python_load = f"{PYTHON_LOAD_PROCESSES} bench.load processes"
    load_tool = "wrk -t1" if shutil.which("wrk") else python_load
    with open("/proc/loadavg") as loadavg:
        machine_load = " ".join(loadavg.read().split()[:3])
    print(
        f"{args.rounds} rounds x {args.seconds:.0f} s, {args.connections} connections,"
        f" one uvicorn process per server, load: {load_tool}"
        f"{' (servers on one CPU, load on the other)' if args.pin else ''};"
        f" load average {machine_load}"
    )
    print(
        f"{'target':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
        f"{'server CPU':>12}{'load CPU':>10}"
    )
    for name, result in throughput.items():
        print(
            f"{name:<22}{result['rps']:>10.0f}{result['p50_ms']:>10.2f}"
            f"{result['p99_ms']:>10.2f}{result['errors']:>8.0f}"
            f"{result['server_cpu']:>11.0%} {result['load_cpu']:>9.0%}"
        )
    bare = throughput["bare Litestar route"]
    for name, result in throughput.items():
        if result is not bare:
            print(f"ratio {name} / bare route: throughput {result['rps'] / bare['rps']:.2f}")
    check = throughput["GET vmid check"]
    print(f"GET vmid check: p99 / p50 = {check['p99_ms'] / check['p50_ms']:.1f}")
    print(
        "Redis round trips per VMID check (MONITOR, the API's connections): "
        + ", ".join(f"{name}: {count}" for name, count in round_trips.items())
    )
    if args.inventory:
        print(
            f"GET /api/containers, {INVENTORY_NODES} nodes x {CONTAINERS_PER_NODE} containers,"
            f" node latencies 100..{slowest * 1000:.0f} ms:"
            f" median {inventory['median_s'] * 1000:.0f} ms,"
            f" max {inventory['max_s'] * 1000:.0f} ms;"
            f" ratio to the slowest node {inventory['median_s'] / slowest:.2f}"
        )
    return 0


async def _round_trips_per_vmid_check(
    stack: Stack, api_pid: int, node_id: str, headers: dict[str, str]
) -> dict[str, int]:
    """Commands the API sends Redis for one VMID check, read from MONITOR: only those on the
    API's command connections count (not its pub/sub subscribers, not commands a Lua script
    runs inside Redis), so the figure is round trips, whatever else uses the same Redis."""
    url = f"{stack.api}/api/nodes/{node_id}/vmids/150"
    counts: dict[str, int] = {}
    async with httpx.AsyncClient() as client:
        await client.get(url, headers=headers)  # the pool's connections are open now
        counts["repeated (cached)"] = await _monitored(
            stack.servers.redis_url, api_pid, lambda: client.get(url, headers=headers)
        )
        # a session this process has not cached yet (the set is cached): its GETEX only
        assert stack.simulator is not None
        info, pve = stack.simulator.info, httpx.URL(stack.simulator.info["apiUrl"])
        user = info["users"][0]
        login = await client.post(f"{stack.api}/api/auth/login", json={
            "host": pve.host, "port": pve.port, "username": user["username"],
            "realm": user["realm"], "password": user["password"],
        })  # fmt: skip
        fresh = {"Authorization": f"Bearer {login.json()['token']}"}
        counts["new session"] = await _monitored(
            stack.servers.redis_url, api_pid, lambda: client.get(url, headers=fresh)
        )
        # the set just refreshed (invalidated everywhere), the session cached: the set's read
        refresh = f"{stack.api}/api/nodes/{node_id}/vmids/refresh"
        (await client.post(refresh, headers=headers)).raise_for_status()
        counts["set just refreshed"] = await _monitored(
            stack.servers.redis_url, api_pid, lambda: client.get(url, headers=headers)
        )
    return counts


async def _monitored(redis_url: str, api_pid: int, request: Callable[[], Awaitable[Any]]) -> int:
    parts = urlsplit(redis_url)
    if parts.scheme != "redis":
        raise SystemExit("counting round trips needs Redis over TCP (REDIS_URL=redis://...)")
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"MONITOR\r\n")
        await reader.readline()  # +OK
        await request()
        await asyncio.sleep(0.3)
        ports = tcp_local_ports_to(api_pid, port) - await _subscriber_ports(redis_url)
        count = 0
        while True:
            try:
                async with asyncio.timeout(0.2):
                    line = await reader.readline()
            except TimeoutError:
                break
            # +1700000000.123456 [15 127.0.0.1:54321] "getex" ... ; scripts' commands: [15 lua]
            source = line.split(b"[", 1)[1].split(b"]", 1)[0].split()[-1]
            if source != b"lua" and int(source.rsplit(b":", 1)[-1]) in ports:
                count += 1
        return count
    finally:
        writer.close()


async def _subscriber_ports(redis_url: str) -> set[int]:
    """Local ports of the API's pub/sub connections (named `infrahaus-...` by the API)."""
    redis = Redis.from_url(redis_url)
    try:
        clients = await redis.client_list()
    finally:
        await redis.aclose()
    return {
        int(client["addr"].rsplit(":", 1)[1])
        for client in clients
        if client.get("name", "").startswith("infrahaus-")
    }


if __name__ == "__main__":
    raise SystemExit(main())
