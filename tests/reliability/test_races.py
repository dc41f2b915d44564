"""Races across two API replicas: one VMID wanted 50 times, one container acted on 20 times.
The bearer session of replica A is used on replica B too (sessions valid on both APIs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from services.pvesim.process import RunningSimulator
from services.pvesim.testing import api_client
from shared.core.settings import Settings
from tests.figures import record
from tests.integration.helpers import Session
from tests.integration.test_containers import our_row, pve_container
from tests.integration.test_pipeline import register

pytestmark = pytest.mark.reliability


@pytest.fixture
async def token_api(pve: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pve.info) as client:
        yield client


async def test_50_concurrent_creates_for_one_vmid_have_one_winner(
    alice: Session, replica_b: AsyncTestClient, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    vmid = 7940  # clear of the low VMIDs other tests take in turn
    body = {"hostname": "race50", "nodeId": node_id, "osTemplate": "debian-12-standard",
            "vmid": vmid}  # fmt: skip
    on_b = Session(replica_b, alice.headers, alice.user_id)
    answers = await asyncio.gather(
        *((alice if i % 2 else on_b).call("POST", "/api/containers", json=body) for i in range(50))
    )
    codes = [a.status_code for a in answers]
    winners = codes.count(202)
    record("50 concurrent creates, one VMID, 2 API replicas", "winners", winners, 1)
    record("50 concurrent creates, one VMID, 2 API replicas", "5xx answers",
           sum(c >= 500 for c in codes), 0)  # fmt: skip
    assert winners == 1, sorted(codes)
    assert sorted(codes) == [202] + [409] * 49, [a.text for a in answers if a.status_code != 409]


async def test_20_concurrent_lifecycle_actions_run_once(
    alice: Session,
    replica_b: AsyncTestClient,
    pve: RunningSimulator,
    settings: Settings,
    token_api: httpx.AsyncClient,
    pve_admin: httpx.AsyncClient,
    api_server: str,
) -> None:
    """10 stops through the API process, 10 through a second replica: the lock in Redis,
    not PVE, must refuse 19 of them."""
    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, await pve_container(token_api, "pve"))
    path = f"/api/containers/{container_id}/stop"
    await pve_admin.put("/faults/pve", json={"task_slowdown": 50})  # the stop takes ~0.5 s
    on_b = Session(replica_b, alice.headers, alice.user_id)
    async with httpx.AsyncClient(base_url=api_server, headers=alice.headers, timeout=30) as http:
        answers = await asyncio.gather(
            *(http.post(path) for _ in range(10)), *(on_b.call("POST", path) for _ in range(10))
        )
    codes = sorted(a.status_code for a in answers)
    ran = codes.count(200)
    record("20 concurrent lifecycle actions, 2 API replicas", "actions run", ran, 1)
    assert ran == 1 and codes == [200] + [409] * 19, codes
