"""Session-wide real infrastructure: PostgreSQL (a fresh, migrated database), Redis, the app."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.api.app import create_app
from services.pvesim.process import RunningSimulator, start_simulator_process
from services.pvesim.testing import admin_client
from shared.core.crypto import generate_key
from shared.core.settings import Settings, load_settings
from shared.db.migrate import upgrade_to_head
from shared.dev.embedded import (
    LocalServers,
    create_database,
    drop_database,
    find_or_start_servers,
    free_port,
)
from tests.figures import print_figures
from tests.support import (
    settings_environment,
    start_process,
    stop_process,
    wait_for_worker,
)


@pytest.fixture(scope="session")
def test_servers() -> Iterator[LocalServers]:
    # Not under pytest's temp root: another pytest run on the machine resets that root to
    # 0700, which locks the embedded PostgreSQL (running as its own OS user) out of its data.
    scratch = Path(tempfile.mkdtemp(prefix="infrahaus-test-servers-"))
    servers = find_or_start_servers(scratch)
    yield servers
    servers.stop()
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A temporary directory outside pytest's temp root (see `test_servers`)."""
    path = Path(tempfile.mkdtemp(prefix="infrahaus-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(test_servers: LocalServers) -> Iterator[str]:
    """A database of this run only, brought to head by the real migrations."""
    url = create_database(test_servers.postgres_admin_url)
    upgrade_to_head(url)
    yield url
    drop_database(test_servers.postgres_admin_url, url)


@pytest.fixture(scope="session")
def settings(database_url: str, test_servers: LocalServers) -> Settings:
    """Settings of this run; a private queue name keeps parallel runs apart in Redis."""
    return load_settings(
        {},
        database_url=database_url,
        redis_url=test_servers.redis_url,
        queue_name=f"test-{uuid.uuid4().hex[:8]}",
        secret_keys=generate_key("test"),
        log_format="json",
        # Tests leave rows in `creating` on purpose (fake nodes, event streams); a reconciler
        # would try to build them. Its function is tested directly (test_build_jobs.py).
        reconcile_seconds=0,
        # likewise the node sweep (missing containers): tested directly (test_reality.py)
        node_reconcile_seconds=0,
        # the simulator's root and the bearer sessions of tests/bearer.py edit templates;
        # tests of the refusal use other users
        template_editors="root@pam,tests@pve",
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url or "")
    yield client
    await client.aclose()


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="https://testserver.local") as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def running_worker(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[None]:
    """A real worker process on this run's queue, for tests that need a ready stack."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_process("services.worker", settings_environment(settings), log_path)
    try:
        async with asyncio.timeout(30):
            await wait_for_worker(settings.redis_url or "", settings.queue_name)
        yield
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def pve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """The project's Proxmox VE simulator (three nodes, fast tasks) over real HTTPS and SSH.

    It runs as its own process, like a real node: the app under test (which the test client
    runs on another thread) and the simulator never share an event loop.
    """
    simulator = start_simulator_process(tmp_path_factory.mktemp("pvesim"))
    yield simulator
    simulator.stop()


@pytest.fixture
async def pve_admin(pve: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's fault-injection API; every fault is reset after the test."""
    async with admin_client(pve.info) as admin:
        yield admin
        await admin.post("/faults/reset")


@pytest.fixture(scope="session")
def api_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API as its own uvicorn process (true concurrency, unlike the in-process client)."""
    port = free_port()
    env = settings_environment(msgspec.structs.replace(settings, api_port=port))
    process = start_process("services.api", env, tmp_path_factory.mktemp("api") / "api.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError("the API process did not start")
        time.sleep(0.1)
    yield url
    stop_process(process)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures any test recorded (tests/figures.py), as the table docs/reliability.md keeps."""
    print_figures(terminalreporter)
