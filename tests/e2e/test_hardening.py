"""Issue 12 at the process level: the supervisor restarts a crashed child instead of stopping
the service (item 2); an API reachable beyond loopback must name its Proxmox hosts (item 3);
forwarded headers count only from TRUSTED_PROXIES (item 5)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from shared.adapters import heartbeat
from shared.core.settings import Settings
from shared.dev.embedded import free_port
from tests.support import settings_environment, start_process, stop_process

pytestmark = pytest.mark.slow


async def _worker_pids(redis: Redis, queue_name: str) -> set[int]:
    members = await redis.zrangebyscore(heartbeat.workers_key(queue_name), time.time() - 10, "+inf")
    return {int(member.decode().split(":")[1]) for member in members}


async def test_the_supervisor_restarts_a_crashed_worker_and_keeps_serving(
    settings: Settings, tmp_path: Path, redis: Redis
) -> None:
    port = free_port()
    own = msgspec.structs.replace(
        settings, api_port=port, queue_name=f"sup-{uuid.uuid4().hex[:8]}",
        worker_heartbeat_seconds=1.0,
    )  # fmt: skip
    log_path = tmp_path / "run.log"
    supervisor = start_process("services.run", settings_environment(own), log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            async with asyncio.timeout(90):
                while True:
                    assert supervisor.poll() is None, log_path.read_text()[-3000:]
                    try:
                        if (await http.get(f"{base}/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.3)
            (first,) = await _worker_pids(redis, own.queue_name)
            os.kill(first, signal.SIGKILL)  # a crash: no clean stop, no goodbye

            async with asyncio.timeout(90):
                while True:
                    # the service did not stop: the supervisor and the API carry on
                    assert supervisor.poll() is None, log_path.read_text()[-3000:]
                    assert (await http.get(f"{base}/health")).status_code == 200
                    pids = await _worker_pids(redis, own.queue_name)
                    if pids - {first}:
                        break
                    await asyncio.sleep(0.3)
            async with asyncio.timeout(60):
                while (await http.get(f"{base}/ready")).status_code != 200:
                    await asyncio.sleep(0.3)
    finally:
        code = stop_process(supervisor, timeout=60)
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert '"process exited unexpectedly; restarting it"' in log
    assert '"restarting process"' in log


@pytest.mark.parametrize("module", ["services.api", "services.run"])
def test_beyond_loopback_pve_allowed_hosts_must_be_set(module: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PVE_ALLOWED_HOSTS", "API_HOST"}}
    env.update(API_HOST="0.0.0.0", DATA_DIR=str(tmp_path), API_PORT=str(free_port()))
    result = subprocess.run(
        [sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("PVE_ALLOWED_HOSTS: must be set when API_HOST (0.0.0.0)")


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
async def test_forwarded_for_counts_only_from_trusted_proxies(
    settings: Settings, tmp_path: Path, redis: Redis, trusted: str
) -> None:
    """The per-client login throttle keys on the client address; a client that rotates
    X-Forwarded-For must not get a fresh count each time, unless it is a trusted proxy
    (then the header names the client)."""
    keys = await redis.keys(f"{settings.queue_name}:login-attempts:*client:*")
    if keys:
        await redis.delete(*keys)
    port = free_port()
    own = msgspec.structs.replace(
        settings, api_port=port, login_max_failures_per_client=3, trusted_proxies=trusted
    )
    api = start_process("services.api", settings_environment(own), tmp_path / "api.log")
    url = f"http://127.0.0.1:{port}/api/auth/login"
    body = {"host": "pve.invalid", "port": 8006, "username": "x", "password": "y"}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await http.get(f"http://127.0.0.1:{port}/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and api.poll() is None
                    await asyncio.sleep(0.2)
            codes = []
            for i in range(5):
                forged = {"X-Forwarded-For": f"198.51.100.{i + 1}"}
                response = await http.post(url, json=body, headers=forged)
                codes.append(response.status_code)
        if not trusted:
            # unreachable hosts count against the client (item 3), and the client is the peer
            assert codes == [422, 422, 422, 429, 429], codes
            assert await redis.exists(f"{settings.queue_name}:login-attempts:client:127.0.0.1")
            assert not await redis.exists(
                f"{settings.queue_name}:login-attempts:client:198.51.100.1"
            )
        else:
            # behind a trusted proxy, each forwarded address is a client of its own
            assert codes == [422] * 5, codes
            assert await redis.exists(f"{settings.queue_name}:login-attempts:client:198.51.100.5")
            assert not await redis.exists(f"{settings.queue_name}:login-attempts:client:127.0.0.1")
    finally:
        stop_process(api)
        keys = await redis.keys(f"{settings.queue_name}:login-attempts:*client:*")
        if keys:
            await redis.delete(*keys)
