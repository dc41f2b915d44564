"""VMIDs, the inventory across nodes, and lifecycle actions, against the simulator."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from services.pvesim.testing import wait_for_task
from shared.core.settings import Settings
from shared.db import Container, ContainerEvent, create_engine
from shared.domain.containers.base import build_marker
from tests.integration.helpers import Session, node_body

DEBIAN = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
_vmids = iter(range(5000, 6000))


@pytest.fixture
async def token_api(pve: RunningSimulator) -> Any:
    from services.pvesim.testing import api_client

    async with api_client(pve.info) as client:
        yield client


async def pve_container(api: httpx.AsyncClient, node: str, *, running: bool = True) -> int:
    """A container that really exists on the simulator (the pipeline is not built yet)."""
    vmid = next(_vmids)
    created = await api.post(
        f"/nodes/{node}/lxc",
        data={"vmid": vmid, "ostemplate": DEBIAN, "hostname": f"ct{vmid}", "rootfs": "local-lvm:1",
              "net0": "name=eth0,bridge=vmbr0,ip=dhcp"},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    await wait_for_task(api, node, created.json()["data"])
    if running:
        started = await api.post(f"/nodes/{node}/lxc/{vmid}/status/start")
        await wait_for_task(api, node, started.json()["data"])
    return vmid


async def our_row(
    settings: Settings, session: Session, node_id: str, vmid: int,
    *, mark: httpx.AsyncClient | None = None, node: str = "pve",
) -> str:  # fmt: skip
    """The record the creation pipeline would have written; with `mark` (a client of the
    node's API), also the build marker the pipeline writes into the guest's description,
    without which a delete leaves the guest alone (it is not provably ours)."""
    container_id = uuid.uuid4()
    if mark is not None:
        marked = await mark.put(
            f"/nodes/{node}/lxc/{vmid}/config", data={"description": build_marker(container_id)}
        )
        assert marked.status_code == 200, marked.text
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(
            Container.__table__.insert().values(
                id=container_id, node_id=uuid.UUID(node_id), created_by=uuid.UUID(session.user_id),
                vmid=vmid, hostname=f"ct{vmid}", lifecycle="ready",
            )
        )  # fmt: skip
    await engine.dispose()
    return str(container_id)


async def set_lifecycle(settings: Settings, container_id: str, lifecycle: str) -> None:
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(
            Container.__table__.update()
            .where(Container.id == uuid.UUID(container_id))
            .values(lifecycle=lifecycle)
        )
    await engine.dispose()


async def register(session: Session, pve: RunningSimulator, name: str = "pve") -> str:
    response = await session.call("POST", "/api/nodes", json=node_body(pve, name))
    assert response.status_code == 201, response.text
    return response.json()["id"]


# -- VMIDs ---------------------------------------------------------------------------------


async def test_vmid_check_uses_the_cluster_wide_cache(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    base = f"/api/nodes/{node_id}/vmids"
    unknown = (await alice.call("GET", f"{base}/4999")).json()
    assert unknown["status"] == "unknown" and unknown["checkedAt"]

    reserved = next(_vmids)  # one of our rows holds it, PVE does not know it yet
    await our_row(settings, alice, node_id, reserved)
    refreshed = await alice.call("POST", f"{base}/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["count"] >= 3

    statuses = {
        vmid: (await alice.call("GET", f"{base}/{vmid}")).json()["status"]
        for vmid in (100, 101, reserved, 4999)
    }
    assert statuses == {100: "taken", 101: "taken", reserved: "taken", 4999: "available"}

    assert (await alice.call("GET", f"{base}/next", params={"from": 100})).json()["vmid"] == 102
    assert (await alice.call("GET", f"{base}/next", params={"from": reserved})).json()[
        "vmid"
    ] == reserved + 1


async def test_vmids_outside_the_range_are_400(alice: Session, pve: RunningSimulator) -> None:
    node_id = await register(alice, pve)
    for vmid in (99, 1_000_000_000):
        response = await alice.call("GET", f"/api/nodes/{node_id}/vmids/{vmid}")
        assert response.status_code == 400, vmid
    bad_from = await alice.call("GET", f"/api/nodes/{node_id}/vmids/next", params={"from": 42})
    assert bad_from.status_code == 400


async def test_vmids_of_another_users_node_are_404(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    assert (await alice.call("POST", f"/api/nodes/{node_id}/vmids/refresh")).status_code == 200
    for method, path in (
        ("GET", f"/api/nodes/{node_id}/vmids/150"),
        ("POST", f"/api/nodes/{node_id}/vmids/refresh"),
        ("GET", f"/api/nodes/{node_id}/vmids/next"),
    ):
        assert (await bob.call(method, path)).status_code == 404, path


# -- inventory -----------------------------------------------------------------------------


async def test_one_node_down_and_one_slow_never_fail_the_list(
    alice: Session,
    pve: RunningSimulator,
    settings: Settings,
    token_api: httpx.AsyncClient,
    pve_admin: httpx.AsyncClient,
) -> None:
    nodes = {name: await register(alice, pve, name) for name in ("pve", "pve2", "pve3")}
    rows = {}
    for name in nodes:
        vmid = await pve_container(token_api, name)
        rows[name] = await our_row(settings, alice, nodes[name], vmid)

    await pve_admin.put("/faults/pve2", json={"down": True})
    await pve_admin.put("/faults/pve3", json={"latency_ms": 5000})
    fast = msgspec.structs.replace(settings, inventory_node_timeout_seconds=1.0)
    async with AsyncTestClient(create_app(fast), base_url="https://testserver.local") as client:
        started = time.monotonic()
        response = await client.get("/api/containers", headers=alice.headers)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 3.0, f"the list waited {elapsed:.1f}s for the slow node"
    body = response.json()
    by_node = {item["nodeName"]: item for item in body["items"]}
    assert by_node["pve"]["statusUnknown"] is False
    assert by_node["pve"]["live"]["status"] == "running"
    assert by_node["pve"]["live"]["maxmem"] > 0
    assert by_node["pve2"]["statusUnknown"] is True and by_node["pve3"]["statusUnknown"] is True
    errors = {error["nodeName"]: error["error"] for error in body["nodeErrors"]}
    assert set(errors) == {"pve2", "pve3"}
    assert "no answer within 1 s" in errors["pve3"]


async def test_list_filters_and_detail(
    alice: Session, pve: RunningSimulator, settings: Settings, token_api: httpx.AsyncClient
) -> None:
    node_id = await register(alice, pve)
    running = await pve_container(token_api, "pve")
    stopped = await pve_container(token_api, "pve", running=False)
    running_id = await our_row(settings, alice, node_id, running)
    await our_row(settings, alice, node_id, stopped)

    everything = (await alice.call("GET", "/api/containers")).json()["items"]
    assert {item["vmid"] for item in everything} == {running, stopped}
    by_text = (await alice.call("GET", "/api/containers", params={"q": f"ct{running}"})).json()
    assert [item["vmid"] for item in by_text["items"]] == [running]
    # `_` and `%` match themselves: `c_` would match both hostnames as a LIKE wildcard.
    wildcards = (await alice.call("GET", "/api/containers", params={"q": "c_"})).json()
    assert wildcards["items"] == []
    none_in_error = await alice.call("GET", "/api/containers", params={"lifecycle": "error"})
    assert none_in_error.json()["items"] == []

    detail = (await alice.call("GET", f"/api/containers/{running_id}")).json()
    assert detail["live"]["status"] == "running"
    assert detail["config"]["hostname"] == f"ct{running}"
    assert detail["ipAddress"] and detail["ipAddress"].count(".") == 3


async def test_another_users_container_is_404_everywhere(
    alice: Session, bob: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, next(_vmids))
    base = f"/api/containers/{container_id}"
    for method, path in [
        ("GET", base),
        ("POST", f"{base}/start"),
        ("POST", f"{base}/stop"),
        ("POST", f"{base}/shutdown"),
        ("POST", f"{base}/reboot"),
        ("DELETE", base),
    ]:
        response = await bob.call(method, path)
        assert response.status_code == 404, (method, path, response.text)
    assert (await bob.call("GET", "/api/containers")).json()["items"] == []


# -- lifecycle -----------------------------------------------------------------------------


async def test_concurrent_actions_on_one_container_run_exactly_once(
    alice: Session,
    pve: RunningSimulator,
    settings: Settings,
    token_api: httpx.AsyncClient,
    pve_admin: httpx.AsyncClient,
    api_server: str,
) -> None:
    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, await pve_container(token_api, "pve"))
    url = f"{api_server}/api/containers/{container_id}/stop"
    await pve_admin.put("/faults/pve", json={"task_slowdown": 50})  # the stop takes ~0.5 s

    # 20 requests at once against the API process: the lock, not PVE, must refuse 19.
    async with httpx.AsyncClient(headers=alice.headers, timeout=30) as http:
        responses = await asyncio.gather(*(http.post(url) for _ in range(20)))
    await pve_admin.put("/faults/pve", json={"task_slowdown": 1})
    codes = sorted(response.status_code for response in responses)
    assert codes == [200] + [409] * 19, codes
    refused = next(r for r in responses if r.status_code == 409)
    assert "'stop' action is already running" in refused.json()["detail"]

    # released after success: the next action goes through
    started = await alice.call("POST", f"/api/containers/{container_id}/start")
    assert started.status_code == 200 and started.json()["exitStatus"] == "OK"
    # released after failure too: starting a running container is refused by PVE...
    again = await alice.call("POST", f"/api/containers/{container_id}/start")
    assert again.status_code == 409 and "already running" in again.json()["detail"]
    # ...and the lock does not linger
    assert (await alice.call("POST", f"/api/containers/{container_id}/stop")).status_code == 200

    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        actions = (
            await connection.execute(
                select(ContainerEvent.metadata_).where(
                    ContainerEvent.container_id == uuid.UUID(container_id)
                ).order_by(ContainerEvent.seq)
            )
        ).scalars().all()  # fmt: skip
    await engine.dispose()
    assert [(m["action"], m["outcome"]) for m in actions] == [
        ("stop", "success"), ("start", "success"), ("start", "failure"), ("stop", "success"),
    ]  # fmt: skip


async def test_an_action_waits_for_a_build_that_is_letting_go_of_its_lock(
    alice: Session, pve: RunningSimulator, settings: Settings, token_api: httpx.AsyncClient
) -> None:
    """The build marks the container ready a moment before it releases its lock: an action
    then waits for the lock instead of a 409 naming a build the user sees as done."""
    from redis.asyncio import Redis

    from shared.adapters.locks import ContainerLocks

    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, await pve_container(token_api, "pve"))
    redis = Redis.from_url(settings.redis_url or "")
    locks = ContainerLocks(redis, ttl_seconds=1)  # the build's lock, gone in a second
    try:
        async with locks.hold(uuid.UUID(container_id), "build"):
            # (the in-process client blocks this loop: the lock's own expiry lets it go)
            started = time.monotonic()
            stopped = await alice.call("POST", f"/api/containers/{container_id}/stop")
        assert stopped.status_code == 200, stopped.text
        assert time.monotonic() - started >= 0.5  # it waited for the build to let go
    finally:
        await redis.aclose()


async def test_shutdown_that_never_completes_falls_back_to_stop(
    alice: Session,
    pve: RunningSimulator,
    settings: Settings,
    token_api: httpx.AsyncClient,
    pve_admin: httpx.AsyncClient,
) -> None:
    node_id = await register(alice, pve)
    vmid = await pve_container(token_api, "pve")
    container_id = await our_row(settings, alice, node_id, vmid)
    await pve_admin.put("/faults/pve", json={"shutdown_hangs": True})

    response = await alice.call(
        "POST", f"/api/containers/{container_id}/shutdown", params={"timeout": 5}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forced"] is True and "stopped instead" in body["message"]
    status = await token_api.get(f"/nodes/pve/lxc/{vmid}/status/current")
    assert status.json()["data"]["status"] == "stopped"


async def test_graceful_shutdown_is_not_forced(
    alice: Session, pve: RunningSimulator, settings: Settings, token_api: httpx.AsyncClient
) -> None:
    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, await pve_container(token_api, "pve"))
    response = await alice.call("POST", f"/api/containers/{container_id}/shutdown")
    assert response.status_code == 200 and response.json()["forced"] is False


@pytest.mark.usefixtures("running_worker")
async def test_delete_purges_on_proxmox_and_forgets_the_row(
    alice: Session, pve: RunningSimulator, settings: Settings, token_api: httpx.AsyncClient
) -> None:
    node_id = await register(alice, pve)
    vmid = await pve_container(token_api, "pve")
    present = await our_row(settings, alice, node_id, vmid, mark=token_api)
    missing = await our_row(settings, alice, node_id, next(_vmids))  # never existed on PVE

    for container_id in (present, missing):
        accepted = await alice.call("DELETE", f"/api/containers/{container_id}")
        assert accepted.status_code == 202
        assert accepted.json() == {"id": container_id, "lifecycle": "deleting"}

    async with asyncio.timeout(30):
        while (await alice.call("GET", "/api/containers")).json()["items"]:
            await asyncio.sleep(0.2)
    gone = await token_api.get(f"/nodes/pve/lxc/{vmid}/status/current")
    assert gone.status_code == 500 and "does not exist" in gone.text


@pytest.mark.usefixtures("running_worker")
async def test_a_delete_never_destroys_a_guest_without_our_marker(
    alice: Session, pve: RunningSimulator, settings: Settings, token_api: httpx.AsyncClient
) -> None:
    """A record with no build request (adopted, or `missing` after its VMID was reused)
    whose VMID now holds a guest that does not carry its marker: the row goes, the guest
    stays (a colleague's new container at the lowest free VMID is not ours to purge)."""
    node_id = await register(alice, pve)
    vmid = await pve_container(token_api, "pve")
    container_id = await our_row(settings, alice, node_id, vmid)  # no marker on the guest
    assert (await alice.call("DELETE", f"/api/containers/{container_id}")).status_code == 202
    async with asyncio.timeout(30):
        while (await alice.call("GET", f"/api/containers/{container_id}")).status_code != 404:
            await asyncio.sleep(0.2)
    kept = await token_api.get(f"/nodes/pve/lxc/{vmid}/status/current")
    assert kept.status_code == 200 and kept.json()["data"]["status"] == "running", kept.text


async def test_delete_is_refused_while_an_action_runs(
    alice: Session, pve: RunningSimulator, settings: Settings, redis
) -> None:
    from shared.adapters.locks import ContainerLocks

    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, next(_vmids))
    async with ContainerLocks(redis).hold(uuid.UUID(container_id), "reboot"):
        refused = await alice.call("DELETE", f"/api/containers/{container_id}")
    assert refused.status_code == 409 and "'reboot'" in refused.json()["detail"]


async def test_deleting_a_node_forgets_its_vmid_cache(
    alice: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    assert (await alice.call("POST", f"/api/nodes/{node_id}/vmids/refresh")).status_code == 200
    assert (await alice.call("GET", f"/api/nodes/{node_id}/vmids/100")).json()["status"] == "taken"
    assert (await alice.call("DELETE", f"/api/nodes/{node_id}")).status_code == 204
    assert (await alice.call("GET", f"/api/nodes/{node_id}/vmids/100")).status_code == 404


@pytest.mark.usefixtures("running_worker")
async def test_a_delete_proxmox_refuses_leaves_the_container_in_error(
    alice: Session, pve: RunningSimulator, settings: Settings, token_api: httpx.AsyncClient
) -> None:
    node_id = await register(alice, pve)
    vmid = await pve_container(token_api, "pve", running=False)
    protect = await token_api.put(f"/nodes/pve/lxc/{vmid}/config", data={"protection": 1})
    assert protect.status_code == 200, protect.text
    container_id = await our_row(settings, alice, node_id, vmid, mark=token_api)

    assert (await alice.call("DELETE", f"/api/containers/{container_id}")).status_code == 202
    async with asyncio.timeout(30):
        while (detail := (await alice.call("GET", f"/api/containers/{container_id}")).json())[
            "lifecycle"
        ] != "error":
            await asyncio.sleep(0.2)
    assert detail["live"]["status"] == "stopped"  # still there, kept for inspection
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        messages = (
            await connection.execute(
                select(ContainerEvent.message).where(
                    ContainerEvent.container_id == uuid.UUID(container_id),
                    ContainerEvent.type == "error",
                )
            )
        ).scalars().all()  # fmt: skip
    await engine.dispose()
    assert any("protection mode enabled" in message for message in messages)
    await token_api.put(f"/nodes/pve/lxc/{vmid}/config", data={"protection": 0})


async def test_the_delete_job_retries_a_down_node_then_gives_up_into_error(
    alice: Session,
    pve: RunningSimulator,
    settings: Settings,
    token_api: httpx.AsyncClient,
    pve_admin: httpx.AsyncClient,
) -> None:
    from arq import Retry

    from services.worker import jobs
    from services.worker.context import WorkerContext

    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, await pve_container(token_api, "pve"))
    # Marked `deleting` as DELETE would, but with no job queued: the session's real worker
    # would otherwise consume the same delete while this test runs the job by hand.
    await set_lifecycle(settings, container_id, "deleting")
    await pve_admin.put("/faults/pve", json={"down": True})

    app = WorkerContext.build(settings, "test-delete")
    payload = {"container_id": container_id}
    try:
        with pytest.raises(Retry):
            await jobs.delete_container({"app": app, "job_try": 1}, payload)
        outcome = await jobs.delete_container({"app": app, "job_try": jobs.MAX_TRIES}, payload)
    finally:
        await app.aclose()
    assert outcome == "failed"
    detail = (await alice.call("GET", f"/api/containers/{container_id}")).json()
    assert detail["lifecycle"] == "error"


async def test_a_delete_job_leaves_a_container_that_is_no_longer_deleting_alone(
    alice: Session, pve: RunningSimulator, settings: Settings, token_api: httpx.AsyncClient
) -> None:
    """A late second job (a retry, a re-enqueue) after another gave up into `error`."""
    from services.worker import jobs
    from services.worker.context import WorkerContext

    node_id = await register(alice, pve)
    vmid = await pve_container(token_api, "pve")
    container_id = await our_row(settings, alice, node_id, vmid)
    await set_lifecycle(settings, container_id, "error")

    app = WorkerContext.build(settings, "test-delete-skip")
    try:
        outcome = await jobs.delete_container(
            {"app": app, "job_try": 1}, {"container_id": container_id}
        )
    finally:
        await app.aclose()
    assert outcome == "skipped: lifecycle is error"
    assert (await token_api.get(f"/nodes/pve/lxc/{vmid}/status/current")).status_code == 200
    detail = (await alice.call("GET", f"/api/containers/{container_id}")).json()
    assert detail["lifecycle"] == "error"
