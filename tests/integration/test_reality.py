"""Reconciliation with the node: a guest deleted (or replaced) directly on the simulator makes
its container `missing`; the same guest coming back makes it `ready`; a missing container's
record can be deleted. Only the node's owner may reconcile it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import insert

from services.pvesim.process import RunningSimulator
from services.pvesim.testing import api_client
from services.pvesim.testing import wait_for_task as pve_wait
from services.worker.context import WorkerContext
from services.worker.jobs import cron_jobs, reconcile_nodes
from shared.core.settings import Settings
from shared.db import Container, create_engine
from shared.domain.containers.base import build_marker
from tests.integration.helpers import Session
from tests.integration.test_pipeline import make_template, register, wait_until_done

pytestmark = pytest.mark.usefixtures("running_worker")

VMID = 8640
OS_TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


async def destroy(api: httpx.AsyncClient, vmid: int) -> None:
    status = (await api.get(f"/nodes/pve/lxc/{vmid}/status/current")).json()["data"]
    if status["status"] == "running":
        stop = await api.post(f"/nodes/pve/lxc/{vmid}/status/stop")
        await pve_wait(api, "pve", stop.json()["data"])
    gone = await api.delete(f"/nodes/pve/lxc/{vmid}", params={"purge": 1})
    assert gone.status_code == 200, gone.text
    await pve_wait(api, "pve", gone.json()["data"])


async def make_guest(api: httpx.AsyncClient, vmid: int, **config: Any) -> None:
    made = await api.post(
        "/nodes/pve/lxc",
        data={"vmid": vmid, "ostemplate": OS_TEMPLATE, "rootfs": "local-lvm:1", **config},
    )
    assert made.status_code == 200, made.text
    await pve_wait(api, "pve", made.json()["data"])


async def reconcile(session: Session, node_id: str) -> dict[str, Any]:
    response = await session.call("POST", f"/api/nodes/{node_id}/reconcile")
    assert response.status_code == 200, response.text
    return response.json()


async def lifecycle(session: Session, container_id: str) -> str:
    response = await session.call("GET", f"/api/containers/{container_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["lifecycle"])


async def test_a_guest_deleted_outside_infrahaus_is_marked_missing_and_can_come_back(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    template_id = await make_template(alice, packages=[], files=[], scripts=[])
    body = {"hostname": "real-01", "nodeId": node_id, "templateId": template_id, "vmid": VMID}
    response = await alice.call("POST", "/api/containers", json=body)
    assert response.status_code == 202, response.text
    container_id = response.json()["id"]
    assert (await wait_until_done(alice, container_id))["lifecycle"] == "ready"

    # the record and the node agree: nothing changes
    clean = await reconcile(alice, node_id)
    assert clean["checked"] == 1 and clean["missing"] == [] and clean["restored"] == []
    # someone else's node is not yours to reconcile
    assert (await bob.call("POST", f"/api/nodes/{node_id}/reconcile")).status_code == 404

    async with api_client(pve.info) as api:
        # deleted directly on the node
        await destroy(api, VMID)
        found = await reconcile(alice, node_id)
        assert [(d["containerId"], d["vmid"]) for d in found["missing"]] == [(container_id, VMID)]
        assert "no longer exists" in found["missing"][0]["reason"]
        assert await lifecycle(alice, container_id) == "missing"
        listed = await alice.call("GET", "/api/containers", params={"lifecycle": "missing"})
        assert [c["id"] for c in listed.json()["items"]] == [container_id]
        start = await alice.call("POST", f"/api/containers/{container_id}/start")
        assert start.status_code == 409 and "missing" in start.json()["detail"]
        # asking again changes nothing
        assert (await reconcile(alice, node_id))["missing"] == []

        # another guest takes the VMID: still missing, never "restored"
        await make_guest(api, VMID, hostname="theirs")
        assert (await reconcile(alice, node_id))["restored"] == []
        assert await lifecycle(alice, container_id) == "missing"
        await destroy(api, VMID)

        # the same guest comes back (restored from a backup, marker and all): ready again
        await make_guest(api, VMID, hostname="real-01", description=build_marker(container_id))
        back = await reconcile(alice, node_id)
        assert [d["containerId"] for d in back["restored"]] == [container_id]
        assert await lifecycle(alice, container_id) == "ready"

        # a ready container whose VMID now holds someone else's guest is missing too
        await destroy(api, VMID)
        await make_guest(api, VMID, hostname="theirs")
        reused = await reconcile(alice, node_id)
        assert [d["containerId"] for d in reused["missing"]] == [container_id]
        assert "VMID reused" in reused["missing"][0]["reason"]

        # a missing container's record can be deleted; the foreign guest is left alone
        assert (await alice.call("DELETE", f"/api/containers/{container_id}")).status_code == 202
        deadline = time.monotonic() + 60
        while (await alice.call("GET", f"/api/containers/{container_id}")).status_code != 404:
            assert time.monotonic() < deadline, await lifecycle(alice, container_id)
            await asyncio.sleep(0.3)
        theirs = await api.get(f"/nodes/pve/lxc/{VMID}/config")
        assert theirs.status_code == 200 and theirs.json()["data"]["hostname"] == "theirs"
        await destroy(api, VMID)

    audited = await alice.call(
        "GET", "/api/audit", params={"action": "container.reconcile", "targetId": container_id}
    )
    moves = [(r["detail"]["previous"], r["detail"]["lifecycle"]) for r in audited.json()["items"]]
    # newest first: reused, back, deleted outside
    assert moves == [("ready", "missing"), ("missing", "ready"), ("ready", "missing")]


async def test_the_worker_sweep_marks_missing_containers_on_every_node(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    """The cron's function, run directly: a record whose VMID never existed on the node."""
    node_id = await register(alice, pve)
    container_id = uuid.uuid4()
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(
            insert(Container).values(
                id=container_id, node_id=uuid.UUID(node_id), created_by=uuid.UUID(alice.user_id),
                vmid=8650, hostname="ghost-01", lifecycle="ready",
            )
        )  # fmt: skip
    await engine.dispose()
    app = WorkerContext.build(settings, "test-node-sweep")
    try:
        totals = await reconcile_nodes({"app": app})
        again = await reconcile_nodes({"app": app})
    finally:
        await app.aclose()
    assert totals["nodes"] >= 1 and totals["missing"] >= 1
    assert again["missing"] == 0
    assert await lifecycle(alice, str(container_id)) == "missing"
    rows = (await alice.call("GET", "/api/audit", params={"targetId": str(container_id)})).json()[
        "items"
    ]
    # the creator's row, and no request asked for it
    assert [(r["action"], r["requestId"]) for r in rows] == [("container.reconcile", None)]
    assert (await alice.call("DELETE", f"/api/containers/{container_id}")).status_code == 202


def test_the_node_sweep_is_scheduled_unless_turned_off(settings: Settings) -> None:
    on = msgspec.structs.replace(settings, node_reconcile_seconds=300)
    assert "reconcile_nodes" in [job.name for job in cron_jobs(on)]
    assert "reconcile_nodes" not in [job.name for job in cron_jobs(settings)]  # tests: 0
