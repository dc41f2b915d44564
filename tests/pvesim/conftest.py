"""Fixtures: one simulator per test session (two nodes, fast tasks), reset between tests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest

from services.pvesim import SimulatorHandle
from services.pvesim.testing import admin_client, api_client, running_simulator


@pytest.fixture(scope="session")
async def pvesim() -> AsyncIterator[SimulatorHandle]:
    """A running two-node simulator on free ports with tasks 50x faster than PVE.

    ``pvesim.info`` holds the connection data (the same content as the CLI's ``--info-file``).
    """
    async with running_simulator(nodes=2, seed=1234) as handle:
        yield handle


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
