"""Where the test suite finds PostgreSQL and Redis, and how it makes a private database.

Order of preference: TEST_DATABASE_URL / TEST_REDIS_URL when set; the machine's own servers on
127.0.0.1:5432 / :6379 when they answer; otherwise embedded servers started for this run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import msgspec

from shared import heartbeat
from shared.embedded import EmbeddedPostgres, EmbeddedRedis, port_open
from shared.settings import Settings

MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS = "redis://127.0.0.1:6379/15"


@dataclass
class TestServers:
    """Admin URLs of the servers this run uses, and how to stop what it started."""

    postgres_admin_url: str
    redis_url: str
    started: list[EmbeddedPostgres | EmbeddedRedis] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.started):
            server.stop()


def find_or_start_servers(scratch: Path) -> TestServers:
    force_embedded = os.environ.get("INFRAHAUS_TEST_EMBEDDED") == "1"
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    postgres_url = os.environ.get("TEST_DATABASE_URL")
    if not postgres_url:
        if not force_embedded and port_open("127.0.0.1", 5432):
            postgres_url = MACHINE_POSTGRES
        else:
            postgres = EmbeddedPostgres(scratch / "postgres")
            postgres_url = postgres.start()
            started.append(postgres)
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        if not force_embedded and port_open("127.0.0.1", 6379):
            redis_url = MACHINE_REDIS
        else:
            redis = EmbeddedRedis(scratch / "redis", persist=False)
            redis_url = redis.start()
            started.append(redis)
    return TestServers(postgres_url, redis_url, started)


def _database_url(admin_url: str, name: str) -> str:
    """The admin URL with its database name replaced (works for TCP and socket URLs)."""
    base, _, query = admin_url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


def create_database(admin_url: str) -> str:
    name = f"infrahaus_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return _database_url(admin_url, name)


def drop_database(admin_url: str, database_url: str) -> None:
    name = database_url.partition("?")[0].rsplit("/", 1)[1]

    async def drop() -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


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


async def wait_for_worker(redis_url: str, queue_name: str, timeout: float = 30) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while await client.zcard(heartbeat.workers_key(queue_name)) == 0:
            if time.monotonic() > deadline:
                raise TimeoutError("no worker heartbeat appeared")
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()
