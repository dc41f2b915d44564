"""Fixtures: one simulator per test session (two nodes, fast tasks), reset between tests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest

from services.pvesim import SimulatorConfig, SimulatorHandle, start_simulator
from services.pvesim.testing import admin_client, api_client

# Tasks run 50x faster than on real PVE; lock timeouts shrink by the same factor.
TEST_TASK_SPEED = 0.02
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


@pytest.fixture(scope="session")
async def pvesim() -> AsyncIterator[SimulatorHandle]:
    """A running two-node simulator on free ports; ``pvesim.info`` has the connection data."""
    handle = await start_simulator(SimulatorConfig(
        api_port=0, ssh_port=0, admin_port=0, nodes=2, task_speed=TEST_TASK_SPEED, seed=1234,
        auth_failure_delay=0.05,
    ))
    yield handle
    await handle.stop()


@pytest.fixture(autouse=True)
async def _reset_faults(pvesim: SimulatorHandle) -> AsyncIterator[None]:
    yield
    async with admin_client(pvesim.info) as admin:
        await admin.post("/faults/reset")
        await admin.post("/clock", json={"advance": -pvesim.cluster.clock.offset})


@pytest.fixture
async def api(pvesim: SimulatorHandle) -> AsyncIterator[httpx.AsyncClient]:
    """HTTPS client authenticated with the API token, certificate pinned."""
    async with api_client(pvesim.info) as client:
        yield client


@pytest.fixture
async def anonymous_api(pvesim: SimulatorHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pvesim.info, token=False) as client:
        yield client


@pytest.fixture
async def admin(pvesim: SimulatorHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(pvesim.info) as client:
        yield client


_vmids = itertools.count(300)


@pytest.fixture
def new_vmid() -> int:
    """A VMID no other test uses."""
    return next(_vmids)
