"""Test helpers: child processes that see given settings, and waiting for a worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from shared import heartbeat
from shared.settings import Settings


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


class RunningSimulator:
    """A `python -m services.pvesim` process; `info` is its info file."""

    def __init__(self, process: subprocess.Popen[bytes], info: dict[str, Any]) -> None:
        self.process = process
        self.info = info

    def stop(self) -> None:
        stop_process(self.process)


def start_simulator_process(directory: Path, nodes: int = 2) -> RunningSimulator:
    info_file = directory / "info.json"
    command = [
        sys.executable, "-m", "services.pvesim",
        "--api-port", "0", "--ssh-port", "0", "--admin-port", "0",
        "--nodes", str(nodes), "--task-speed", "0.02", "--auth-failure-delay", "0.05",
        "--seed", "4242", "--data-dir", str(directory / "data"), "--info-file", str(info_file),
    ]  # fmt: skip
    log = (directory / "pvesim.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not info_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"simulator did not start; see {directory / 'pvesim.log'}")
        time.sleep(0.05)
    return RunningSimulator(process, json.loads(info_file.read_text()))
