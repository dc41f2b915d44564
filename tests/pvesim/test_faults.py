"""Every fault mode, observed from the client side."""

from __future__ import annotations

import asyncio
import time

import asyncssh
import httpx
import pytest

from services.pvesim import SimulatorHandle
from services.pvesim.testing import api_client, ssh_connect, wait_for_task
from tests.pvesim.helpers import create_container, run_task


async def test_latency(api: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await admin.put("/faults/pve2", json={"latency_ms": 600})
    started = time.monotonic()
    assert (await api.get("/nodes/pve2/status")).status_code == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    await api.get("/nodes/pve/status")
    assert time.monotonic() - started < 0.6


async def test_error_rate_is_deterministic(
    api: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    async def pattern() -> list[int]:
        await admin.delete("/faults/pve2")
        await admin.put(
            "/faults/pve2", json={"error_rate": 0.5, "error_message": "simulated outage"}
        )
        return [(await api.get("/nodes/pve2/lxc")).status_code for _ in range(16)]

    first = await pattern()
    assert set(first) == {200, 500}
    assert await pattern() == first
    failing = await api.get("/nodes/pve2/lxc")
    while failing.status_code == 200:
        failing = await api.get("/nodes/pve2/lxc")
    assert failing.json() == {"data": None, "message": "simulated outage\n"}


async def test_other_node_down(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    await admin.put("/faults/pve2", json={"down": True})
    response = await api.get("/nodes/pve2/lxc")
    assert response.status_code == 595
    nodes = {n["node"]: n["status"] for n in (await api.get("/nodes")).json()["data"]}
    assert nodes == {"pve": "online", "pve2": "offline"}
    with pytest.raises(OSError):
        await ssh_connect(pvesim.info, "pve2")
    await admin.delete("/faults/pve2")
    async with await ssh_connect(pvesim.info, "pve2") as conn:
        assert (await conn.run("pct list")).exit_status == 0


async def test_entry_node_down_refuses_connections(
    admin: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    await admin.put("/faults/pve", json={"down": True})
    async with api_client(pvesim.info) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/version")
    with pytest.raises(OSError):
        await ssh_connect(pvesim.info)
    await admin.post("/faults/reset")
    async with api_client(pvesim.info) as client:
        assert (await client.get("/version")).status_code == 200


async def test_failing_tasks(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, new_vmid: int
) -> None:
    await admin.put(
        "/faults/pve",
        json={
            "task_failure_rate": 1.0,
            "task_failure_types": ["vzcreate"],
            "task_error": "disk full",
        },
    )
    response = await api.post(
        "/nodes/pve/lxc",
        data={
            "vmid": new_vmid,
            "ostemplate": "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz",
            "rootfs": "local-lvm:2",
        },
    )
    upid = response.json()["data"]
    status = await wait_for_task(api, "pve", upid)
    # Every error inside the create task carries create_vm's prefix.
    assert status["exitstatus"] == f"unable to create CT {new_vmid} - disk full"
    log = (await api.get(f"/nodes/pve/tasks/{upid}/log")).json()["data"]
    assert log[-1]["t"] == f"TASK ERROR: unable to create CT {new_vmid} - disk full"
    # A failed create frees the VMID again.
    assert (await api.get("/cluster/nextid", params={"vmid": new_vmid})).status_code == 200


async def test_slow_tasks(api: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await admin.put("/faults/pve", json={"task_slowdown": 25})
    response = await api.post("/nodes/pve/lxc/101/status/reboot")
    upid = response.json()["data"]
    started = time.monotonic()
    status = await wait_for_task(api, "pve", upid)
    assert status["exitstatus"] == "OK"
    assert time.monotonic() - started >= 2.0 * 0.02 * 25 * 0.9


async def test_lock_contention(api: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await admin.put("/faults/pve", json={"lock_contention": True})
    response = await api.put("/nodes/pve/lxc/101/config", data={"description": "x"})
    assert response.status_code == 500
    assert (
        response.json()["message"]
        == "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout\n"
    )


async def test_shutdown_that_never_finishes(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid, start=1)
    base = f"/nodes/pve/lxc/{new_vmid}/status"
    await admin.put("/faults/pve", json={"shutdown_hangs": True})
    failed = await run_task(api, f"{base}/shutdown", timeout=5)
    assert failed["exitstatus"] == "container did not stop"
    assert (await api.get(f"{base}/current")).json()["data"]["status"] == "running"
    forced = await run_task(api, f"{base}/shutdown", timeout=5, forceStop=1)
    assert forced["exitstatus"] == "OK"
    assert (await api.get(f"{base}/current")).json()["data"]["status"] == "stopped"


async def test_faults_api_rejects_unknown_settings_and_resets(admin: httpx.AsyncClient) -> None:
    bad = await admin.put("/faults/pve", json={"explode": True})
    assert bad.status_code == 400
    await admin.put("/faults/pve", json={"latency_ms": 5})
    assert (await admin.get("/faults")).json()["data"]["pve"]["latency_ms"] == 5
    await admin.post("/reset")
    assert (await admin.get("/faults")).json()["data"]["pve"]["latency_ms"] == 0


async def test_ssh_latency_applies_to_commands(
    admin: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    await admin.put("/faults/pve", json={"latency_ms": 200})
    conn: asyncssh.SSHClientConnection = await ssh_connect(pvesim.info)
    async with conn:
        started = time.monotonic()
        await conn.run("pct status 101", check=True)
        assert time.monotonic() - started >= 0.2


async def test_concurrent_fault_changes_leave_the_listeners_as_the_faults_say(
    pvesim: SimulatorHandle, admin: httpx.AsyncClient
) -> None:
    """Admin requests that take a node down and up at once (as a fault suite does): without a
    lock, one request's pause and another's resume interleave (two resumes bind one port, a
    pause lands after the last resume), leaving a listener closed while the node is up."""
    for _ in range(5):
        answers = await asyncio.gather(
            *(admin.put("/faults/pve", json={"down": down}) for down in (1, 0, 1, 0, 1, 0))
        )
        assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
        await admin.put("/faults/pve", json={"down": 0})
        async with api_client(pvesim.info) as api:
            assert (await api.get("/version")).status_code == 200
        connection = await ssh_connect(pvesim.info, "pve")
        connection.close()
