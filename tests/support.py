"""Test helpers: child processes that see given settings, and waiting for a worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
from redis.asyncio import Redis

from shared.adapters import heartbeat
from shared.core.settings import Settings


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment a child process needs to see exactly these settings."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES}
    for field_info in msgspec.structs.fields(Settings):
        value = getattr(settings, field_info.name)
        if value is not None:
            env[field_info.name.upper()] = str(value)
    return env


_SETTING_NAMES = {f.name.upper() for f in msgspec.structs.fields(Settings)}


def start_process(module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m module` with its output in `log_path` (read it when a test fails)."""
    log_file = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", module], env=env, stdout=log_file, stderr=subprocess.STDOUT
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


async def wait_for_worker(redis_url: str, queue_name: str) -> None:
    """Return once a worker on `queue_name` has sent a heartbeat (callers bound the wait)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        while await client.zcard(heartbeat.workers_key(queue_name)) == 0:
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()


async def forget_login_attempts(redis: Redis, settings: Settings) -> None:
    """Drop this run's login-throttle counters (its keys sit under the run's queue name)."""
    keys = await redis.keys(f"{settings.queue_name}:login-attempts:*")
    if keys:
        await redis.delete(*keys)
