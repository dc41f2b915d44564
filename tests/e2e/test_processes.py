"""The real processes: API and worker as started in production, and `make run`'s supervisor."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from shared.adapters import heartbeat
from shared.core.settings import Settings
from shared.dev.embedded import free_port
from tests.support import settings_environment, start_process, stop_process

pytestmark = pytest.mark.slow


def _wait_ready(url: str, timeout: float, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        assert process.poll() is None, "process exited before becoming ready"
        try:
            last = httpx.get(url, timeout=2)
            if last.status_code == 200:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready within {timeout}s: {last and last.text}")


async def test_api_and_worker_processes_serve_and_stop_cleanly(
    settings: Settings, tmp_path: Path, redis: Redis
) -> None:
    port = free_port()
    own = msgspec.structs.replace(settings, api_port=port, queue_name=f"{settings.queue_name}-e2e")
    env = settings_environment(own)
    worker = start_process("services.worker", env, tmp_path / "worker.log")
    api = start_process("services.api", env, tmp_path / "api.log")
    try:
        ready = _wait_ready(f"http://127.0.0.1:{port}/ready", 30, api)
        assert ready.json()["status"] == "ready"
        assert "x-request-id" in ready.headers
    finally:
        api_code, worker_code = stop_process(api), stop_process(worker)
    # uvicorn re-raises the signal once its graceful shutdown is complete
    assert api_code in (0, -signal.SIGTERM)
    assert worker_code == 0
    # the worker left the heartbeat set on its way out
    assert await redis.zcard(heartbeat.workers_key(own.queue_name)) == 0
    log = (tmp_path / "api.log").read_text()
    assert '"event": "api started"' in log  # JSON lines, since stdout is not a TTY
    assert "Application shutdown complete" in log


def test_bad_setting_stops_with_exit_2_and_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": "nonsense", "DATA_DIR": str(tmp_path)}
    for module in ("services.run", "services.api", "services.worker"):
        result = subprocess.run(
            [sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, module
        assert result.stderr.strip() == "REDIS_URL: not a redis:// URL", module
        assert result.stdout == ""


def test_make_run_with_embedded_servers_keeps_data_across_restarts(
    tmp_path: Path, scratch_dir: Path
) -> None:
    """No URLs configured: embedded PostgreSQL + Redis, ready within 90 s, data kept."""
    data_dir = scratch_dir / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATA_DIR=str(data_dir), API_PORT=str(port), LOG_FORMAT="json")
    socket_url = f"postgresql://postgres@/postgres?host={data_dir / 'postgres'}"

    def run_once(log_name: str) -> None:
        process = start_process("services.run", env, tmp_path / log_name)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/ready", 90, process)
            assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            yield_marker(first=log_name == "run1.log")
        finally:
            assert stop_process(process, timeout=60) == 0

    def yield_marker(first: bool) -> None:
        import asyncio

        async def touch() -> None:
            connection = await asyncpg.connect(socket_url)
            try:
                if first:
                    await connection.execute(
                        "INSERT INTO users (id, host_identity, userid)"
                        " VALUES (gen_random_uuid(), 'keep-me', 'root@pam')"
                    )
                count = await connection.fetchval(
                    "SELECT count(*) FROM users WHERE host_identity = 'keep-me'"
                )
                assert count == 1
            finally:
                await connection.close()
            redis = Redis.from_url(f"unix://{data_dir / 'redis' / 'redis.sock'}")
            try:
                if first:
                    await redis.set("keep-me", "1")
                assert await redis.get("keep-me") == b"1"
            finally:
                await redis.aclose()

        asyncio.run(touch())

    run_once("run1.log")
    # everything it started is gone: the socket is closed, the port is free
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    run_once("run2.log")


def test_make_demo_serves_the_api_with_a_simulator_beside_it(
    tmp_path: Path, scratch_dir: Path
) -> None:
    """`make demo`: log in to the simulator through the API and register its node; after a
    restart the same node still answers (same ports, certificate and seeded secrets).

    Its API port is taken (as by a demo already running): it picks free ports, says which,
    and keeps them for the restart."""
    data_dir = scratch_dir / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATA_DIR=str(data_dir), API_PORT=str(port), LOG_FORMAT="json")
    busy = socket.create_server(("127.0.0.1", 0))
    busy_port = busy.getsockname()[1]
    env.update(
        PVESIM_API_PORT=str(busy_port),
        PVESIM_SSH_PORT=str(free_port()),
        PVESIM_ADMIN_PORT=str(free_port()),
    )
    api = f"http://127.0.0.1:{port}"
    seen_api_urls: list[str] = []

    def run(log_name: str, first: bool) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.run", "--demo"],
            env=env, stdout=(tmp_path / log_name).open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_ready(f"{api}/ready", 90, process)
            info = json.loads((data_dir / "pvesim.json").read_text())
            pve = httpx.URL(info["apiUrl"])
            assert pve.port != busy_port
            seen_api_urls.append(info["apiUrl"])
            output = (tmp_path / log_name).read_text()
            assert f"Port(s) {busy_port} taken" in output and f"API {pve.port}" in output
            user = info["users"][0]
            login = httpx.post(f"{api}/api/auth/login", json={
                "host": pve.host, "port": pve.port, "username": user["username"],
                "realm": user["realm"], "password": user["password"],
            })  # fmt: skip
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            if first:
                created = httpx.post(f"{api}/api/nodes", headers=headers, timeout=30, json={
                    "name": "pve", "host": pve.host, "port": pve.port,
                    "tokenId": info["tokenId"], "tokenSecret": info["tokenSecret"],
                    "sshUser": info["sshUser"], "sshPort": info["sshPorts"]["pve"],
                    "sshPassword": info["sshPassword"],
                })  # fmt: skip
                assert created.status_code == 201, created.text
            nodes = httpx.get(f"{api}/api/nodes", headers=headers).json()
            report = httpx.post(f"{api}/api/nodes/{nodes[0]['id']}/test", headers=headers)
            assert report.json()["ok"] is True, report.text
            assert "Infrahaus demo" in (tmp_path / log_name).read_text()
        finally:
            assert stop_process(process, timeout=60) == 0

    try:
        run("demo1.log", first=True)
        run("demo2.log", first=False)
    finally:
        busy.close()
    assert seen_api_urls[0] == seen_api_urls[1]
