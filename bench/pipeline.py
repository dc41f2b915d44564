"""`python -m bench.pipeline`: what the build pipeline itself costs (issue 10, bench 2).

20 builds across 4 simulated nodes whose tasks take no time (`--task-speed 0`), run by one real
worker process against a real API process, PostgreSQL and Redis. Each build measures its wall
time and the time it spent waiting on the node (every API call and SSH command, see
`shared.adapters.node_time`); the difference is Infrahaus's own cost: events, checkpoints, queueing
inside the job, polling. It is printed per build (median, p90, max) next to the node time.
Goal: overhead < 100 ms per build.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from shared.core.crypto import generate_key
from shared.core.settings import load_settings
from shared.db import ContainerEvent, create_engine
from shared.db.migrate import upgrade_to_head
from shared.dev.embedded import create_database, drop_database, find_or_start_servers, free_port

ROOT = Path(__file__).resolve().parents[1]

TEMPLATE = {
    "osTemplate": "debian-12-standard", "cores": 1, "memory": 256, "disk": 2,
    "storage": "local-lvm", "bridge": "vmbr0", "unprivileged": True, "nesting": True,
    "packages": [{"manager": "apt", "name": "nginx"}],
    "files": [
        {"name": "site.conf", "targetPath": "/etc/nginx/conf.d", "content": "server {}\n"},
        {"name": "index.html", "targetPath": "/var/www/html", "content": "<h1>hi</h1>\n",
         "policy": "default"},
    ],
    "scripts": [
        {"name": "10-hello.sh", "order": 10, "content": "#!/bin/bash\necho hello\n"},
        {"name": "20-nginx.sh", "order": 20,
         "content": "#!/bin/bash\nsystemctl enable nginx\nsystemctl restart nginx\n"},
    ],
}  # fmt: skip


def _start(module: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    output = log.open("wb")
    return subprocess.Popen([sys.executable, *module], env=env, cwd=ROOT, stdout=output,
                            stderr=output)  # fmt: skip


def _wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _info(path: Path, seconds: float = 60) -> dict:
    import json

    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("simulator did not start")
        time.sleep(0.05)
    return json.loads(path.read_text())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _timings(database_url: str, ids: list[str]) -> list[dict]:
    engine = create_engine(load_settings({}, database_url=database_url), pooled=False)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(ContainerEvent.container_id, ContainerEvent.metadata_).where(
                ContainerEvent.container_id.in_([uuid.UUID(i) for i in ids]),
                ContainerEvent.type == "complete",
            )
        )
        found = [dict(row.metadata) for row in rows]
        if os.environ.get("BENCH_TIMELINE"):
            timeline = await connection.execute(
                select(ContainerEvent.created_at, ContainerEvent.message)
                .where(ContainerEvent.container_id == uuid.UUID(ids[0]))
                .order_by(ContainerEvent.seq)
            )
            previous = None
            for at, message in timeline:
                gap = (at - previous).total_seconds() * 1000 if previous else 0.0
                print(f"{gap:8.1f} ms  {message[:70]}")
                previous = at
    await engine.dispose()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--builds", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=4)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="infrahaus-bench-pipeline-"))
    servers = find_or_start_servers(scratch)
    database_url = create_database(servers.postgres_admin_url, "infrahaus_bench_pipeline")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upgrade_to_head(database_url)
        info_file = scratch / "pvesim.json"
        processes.append(_start(
            ["-m", "services.pvesim", "--api-port", "0", "--ssh-port", "0", "--admin-port", "0",
             "--nodes", str(args.nodes), "--task-speed", "0", "--auth-failure-delay", "0.05",
             "--rrd-lag", "0", "--data-dir", str(scratch / "pvesim"),
             "--info-file", str(info_file)],
            dict(os.environ), scratch / "pvesim.log",
        ))  # fmt: skip
        info = _info(info_file)
        port = free_port()
        env = {
            **os.environ, "DATABASE_URL": database_url, "REDIS_URL": servers.redis_url,
            "SECRET_KEYS": generate_key("bench"), "QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
            "API_PORT": str(port), "LOG_FORMAT": "json", "LOG_LEVEL": "warning",
            "BUILDS_PER_NODE": str(args.builds),
        }  # fmt: skip
        processes.append(_start(["-m", "services.api"], env, scratch / "api.log"))
        processes.append(_start(["-m", "services.worker"], env, scratch / "worker.log"))
        api = f"http://127.0.0.1:{port}"
        _wait_http(f"{api}/health")
        _wait_http(f"{api}/ready")
        pve = httpx.URL(info["apiUrl"])
        user = info["users"][0]
        token = httpx.post(f"{api}/api/auth/login", json={
            "host": pve.host, "port": pve.port, "username": user["username"],
            "realm": user["realm"], "password": user["password"]}).json()["token"]  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        nodes = []
        for name in info["nodes"]:
            response = httpx.post(f"{api}/api/nodes", headers=headers, timeout=30, json={
                "name": name, "host": pve.host, "port": pve.port, "tokenId": info["tokenId"],
                "tokenSecret": info["tokenSecret"], "sshUser": info["sshUser"],
                "sshPort": info["sshPorts"][name], "sshPassword": info["sshPassword"]})  # fmt: skip
            response.raise_for_status()
            nodes.append(response.json()["id"])
        template = httpx.post(f"{api}/api/templates", headers=headers,
                              json={"name": "bench", **TEMPLATE})  # fmt: skip
        template.raise_for_status()
        template_id = template.json()["id"]
        worker_pid = processes[-1].pid
        cpu_before = _cpu_seconds(worker_pid)
        started = time.perf_counter()
        ids = []
        for n in range(args.builds):
            response = httpx.post(f"{api}/api/containers", headers=headers, timeout=30, json={
                "hostname": f"bench-{n}", "nodeId": nodes[n % len(nodes)],
                "templateId": template_id})  # fmt: skip
            response.raise_for_status()
            ids.append(response.json()["id"])
        pending = set(ids)
        while pending:
            for container_id in list(pending):
                state = httpx.get(f"{api}/api/containers/{container_id}", headers=headers,
                                  timeout=30).json()  # fmt: skip
                if state["lifecycle"] == "error":
                    raise RuntimeError(f"build failed: {state.get('failureReason')}")
                if state["lifecycle"] == "ready":
                    pending.discard(container_id)
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        worker_cpu = _cpu_seconds(worker_pid) - cpu_before
        timings = asyncio.run(_timings(database_url, ids))
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_database(servers.postgres_admin_url, database_url)
        servers.stop()

    overhead = sorted(t["wallSeconds"] - t["nodeSeconds"] for t in timings)
    node = sorted(t["nodeSeconds"] for t in timings)
    wall = sorted(t["wallSeconds"] for t in timings)

    def p90(values: list[float]) -> float:
        return values[max(0, round(0.9 * len(values)) - 1)]

    print(f"{len(timings)} builds on {args.nodes} simulated nodes (task time 0), one worker;"
          f" all done in {elapsed:.1f} s")  # fmt: skip
    print(f"{'per build':<28}{'median':>10}{'p90':>10}{'max':>10}")
    rows = [
        ("wall time (s)", wall),
        ("waiting on the node (s)", node),
        ("overhead = wall - node (ms)", [v * 1000 for v in overhead]),
    ]
    for name, values in rows:
        print(
            f"{name:<28}{statistics.median(values):>10.3f}{p90(values):>10.3f}{values[-1]:>10.3f}"
        )
    print(f"worker CPU per build: {worker_cpu / len(timings) * 1000:.0f} ms"
          " (user + system time of the worker process, divided by the builds)")  # fmt: skip
    verdict = "met" if statistics.median(overhead) < 0.1 else "NOT met"
    print(f"overhead goal < 100 ms per build (median): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
