"""`python -m bench` (or `make bench`): API routes against a bare Litestar route, side by side.

Both servers run as their own uvicorn processes with the same options, on real PostgreSQL and
Redis; the load comes from a third process over loopback. Rounds alternate between the targets
so drift in the machine's speed hits both alike; each figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from shared.crypto import generate_key
from shared.db.migrate import upgrade_to_head
from shared.embedded import create_database, drop_database, find_or_start_servers, free_port

ROOT = Path(__file__).resolve().parents[1]
UVICORN_OPTIONS = ["--log-level", "warning", "--no-access-log", "--loop", "uvloop"]


def _serve(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start: {command}")


def _load(url: str, seconds: float, connections: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.load", url, str(seconds), str(connections)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="infrahaus-bench-"))
    servers = find_or_start_servers(scratch)
    database_url = create_database(servers.postgres_admin_url, prefix="infrahaus_bench")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upgrade_to_head(database_url)
        api_port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": servers.redis_url,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "warning",
            "SECRET_KEYS": generate_key("bench"),
        }
        uvicorn = [sys.executable, "-m", "uvicorn", *UVICORN_OPTIONS]
        processes.append(
            _serve(
                [*uvicorn, "--factory", "services.api.app:create_app", "--port", str(api_port)],
                env,
                api_port,
            )
        )
        processes.append(
            _serve([*uvicorn, "bench.bare_app:app", "--port", str(bare_port)], env, bare_port)
        )

        targets = {
            "bare Litestar route": f"http://127.0.0.1:{bare_port}/bare",
            "GET /health": f"http://127.0.0.1:{api_port}/health",
        }
        for url in targets.values():  # warm up both before measuring
            _load(url, 0.5, args.connections)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                runs[name].append(_load(url, args.seconds, args.connections))
        results = {name: _median(samples) for name, samples in runs.items()}
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        drop_database(servers.postgres_admin_url, database_url)
        servers.stop()

    print(
        f"{args.rounds} rounds x {args.seconds:.0f} s, {args.connections} connections,"
        f" one uvicorn process per server, load from a separate process"
    )
    print(f"{'target':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, result in results.items():
        print(
            f"{name:<22}{result['rps']:>10.0f}{result['p50_ms']:>10.2f}"
            f"{result['p99_ms']:>10.2f}{result['errors']:>8.0f}"
        )
    bare = results["bare Litestar route"]
    for name, result in results.items():
        if result is not bare:
            print(f"ratio {name} / bare route: throughput {result['rps'] / bare['rps']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
