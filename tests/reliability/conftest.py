"""The reliability suite's fixtures. Each scenario records what it measured with `record()`
(and asserts its "must be" value itself); `tests/figures.py` prints the table at the end."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from tests.integration.helpers import Session, forget_nodes, login
from tests.support import settings_environment, start_process


@pytest.fixture
async def alice(
    client: AsyncTestClient, pve: RunningSimulator, settings: Settings
) -> AsyncIterator[Session]:
    session = await login(client, pve, 0, "127.0.0.1")
    await forget_nodes(settings, session.user_id)
    yield session
    await forget_nodes(settings, session.user_id)


@pytest.fixture
async def replica_b(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    """A second API replica (its own app instance) on the same PostgreSQL and Redis."""
    async with AsyncTestClient(create_app(settings), base_url="https://testserver.local") as other:
        yield other


@pytest.fixture
async def bob(pve: RunningSimulator, settings: Settings) -> AsyncIterator[Session]:
    async with AsyncTestClient(create_app(settings), base_url="https://testserver.local") as other:
        session = await login(other, pve, 1, "127.0.0.1")
        await forget_nodes(settings, session.user_id)
        yield session
        await forget_nodes(settings, session.user_id)


async def start_api(settings: Settings, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """An API process on `settings.api_port`, once its `/health` answers; and its base URL."""
    process = start_process("services.api", settings_environment(settings), log_path)
    url = f"http://127.0.0.1:{settings.api_port}"
    await wait_healthy(process, url, log_path)
    return process, url


async def wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Return once the API process at `url` answers `/health` (at most 30 s)."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        while True:
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert process.poll() is None, f"the API process exited (see {log_path})"
            assert time.monotonic() < deadline, "the API process did not start"
            await asyncio.sleep(0.2)


async def bearer_login(http: httpx.AsyncClient, pve: RunningSimulator, index: int = 0) -> str:
    """Log in through a real API process; the bearer token (no cookies kept)."""
    user = pve.info["users"][index]
    answer = await http.post("/api/auth/login", json={
        "host": "127.0.0.1", "port": httpx.URL(pve.info["apiUrl"]).port,
        "username": user["username"], "realm": user["realm"], "password": user["password"],
    })  # fmt: skip
    assert answer.status_code == 200, answer.text
    http.cookies.clear()
    token: str = answer.json()["token"]
    return token
