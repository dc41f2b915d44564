"""Unmanaged guests and adoption: a container made directly on the simulator (as root, with
its own API) is listed as unmanaged, can be adopted, and then is a container like a built one
(listed, started, stopped, reconciled, deleted). VMs and managed guests cannot be adopted;
someone else's node is not found."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.pvesim.process import RunningSimulator
from services.pvesim.testing import api_client
from shared.domain.containers.base import markers_in
from tests.integration.helpers import Session
from tests.integration.test_pipeline import register
from tests.integration.test_reality import destroy, make_guest, reconcile

pytestmark = pytest.mark.usefixtures("running_worker")

VMID = 8660
SEEDED_VM = 100  # the simulator's QEMU VM (services/pvesim/cluster.py: seed_guests)


async def unmanaged(session: Session, node_id: str) -> dict[int, dict]:
    response = await session.call("GET", f"/api/nodes/{node_id}/unmanaged")
    assert response.status_code == 200, response.text
    return {guest["vmid"]: guest for guest in response.json()}


async def test_a_guest_made_on_the_node_is_unmanaged_and_can_be_adopted(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    bobs_node = await register(bob, pve)  # the same Proxmox node, registered by someone else
    async with api_client(pve.info) as api:
        await make_guest(
            api, VMID, hostname="handmade.example.org", description="made by hand\nkeep this"
        )
        try:
            before = await unmanaged(alice, node_id)
            assert before[VMID]["type"] == "lxc" and before[VMID]["adoptable"] is True
            assert before[VMID]["name"] == "handmade.example.org"
            assert before[VMID]["status"] == "stopped"
            vm = before[SEEDED_VM]
            assert (vm["type"], vm["adoptable"]) == ("qemu", False) and "QEMU" in vm["reason"]
            assert VMID in await unmanaged(bob, bobs_node)
            # not yours: not found, whichever route
            assert (await bob.call("GET", f"/api/nodes/{node_id}/unmanaged")).status_code == 404
            taken = await bob.call("POST", f"/api/nodes/{node_id}/adopt", json={"vmid": VMID})
            assert taken.status_code == 404

            # bad input and what cannot be adopted
            for body in ({"vmid": 5}, {"vmid": "x"}, {}, {"vmid": VMID, "extra": 1}):
                bad = await alice.call("POST", f"/api/nodes/{node_id}/adopt", json=body)
                assert bad.status_code == 400, (body, bad.text)
            vm_refused = await alice.call(
                "POST", f"/api/nodes/{node_id}/adopt", json={"vmid": SEEDED_VM}
            )
            assert vm_refused.status_code == 409 and "QEMU" in vm_refused.json()["detail"]
            absent = await alice.call("POST", f"/api/nodes/{node_id}/adopt", json={"vmid": 8669})
            assert absent.status_code == 422
            assert absent.json()["errors"][0]["field"] == "vmid"

            adopted = await alice.call("POST", f"/api/nodes/{node_id}/adopt", json={"vmid": VMID})
            assert adopted.status_code == 201, adopted.text
            container = adopted.json()
            container_id = container["id"]
            assert adopted.headers["location"] == f"/api/containers/{container_id}"
            assert (container["vmid"], container["hostname"]) == (VMID, "handmade")
            assert (container["lifecycle"], container["templateId"]) == ("ready", None)
            assert container["live"]["status"] == "stopped"
            # the marker is ours, the description's own text is kept
            config = (await api.get(f"/nodes/pve/lxc/{VMID}/config")).json()["data"]
            assert [str(m) for m in markers_in(config)] == [container_id]
            assert config["description"].startswith("made by hand\nkeep this\n")

            # managed now, for everyone: listed as a container, no longer unmanaged
            listed = await alice.call("GET", "/api/containers", params={"node": node_id})
            assert [c["id"] for c in listed.json()["items"]] == [container_id]
            assert VMID not in await unmanaged(alice, node_id)
            assert VMID not in await unmanaged(bob, bobs_node)
            again = await alice.call("POST", f"/api/nodes/{node_id}/adopt", json={"vmid": VMID})
            assert again.status_code == 409
            theirs = await bob.call("POST", f"/api/nodes/{bobs_node}/adopt", json={"vmid": VMID})
            assert theirs.status_code == 409 and "already managed" in theirs.json()["detail"]
            assert container_id not in theirs.text  # nothing of Alice's record is told

            # lifecycle actions work on it, and reconciliation knows it as ours
            for action in ("start", "stop"):
                done = await alice.call("POST", f"/api/containers/{container_id}/{action}")
                assert done.status_code == 200, done.text
                assert done.json()["exitStatus"] == "OK"
            assert (await reconcile(alice, node_id))["missing"] == []
            retry = await alice.call("POST", f"/api/containers/{container_id}/retry")
            assert retry.status_code == 409  # nothing was built, so nothing to retry

            audit = await alice.call(
                "GET", "/api/audit", params={"action": "container.adopt", "targetId": container_id}
            )
            rows = audit.json()["items"]
            assert [(r["detail"]["vmid"], r["outcome"]) for r in rows] == [(VMID, "success")]
            events = await alice.call("GET", f"/api/containers/{container_id}/events")
            assert events.status_code == 200, events.text
            assert any("Adopted handmade" in e["message"] for e in events.json()["items"])

            # and delete destroys it like a built one
            gone = await alice.call("DELETE", f"/api/containers/{container_id}")
            assert gone.status_code == 202, gone.text
            deadline = time.monotonic() + 60
            while (await alice.call("GET", f"/api/containers/{container_id}")).status_code != 404:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.3)
            assert (await api.get(f"/nodes/pve/lxc/{VMID}/config")).status_code != 200
        finally:
            if (await api.get(f"/nodes/pve/lxc/{VMID}/config")).status_code == 200:
                await destroy(api, VMID)


async def test_two_registrations_adopting_one_guest_at_once_give_one_record(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    """Alice and Bob registered the same Proxmox node; both adopt one guest at once. The
    config's digest lets one write its marker; the other is refused and leaves no record (two
    records for one guest would make one of them `missing`, and its delete destroy the
    guest). The guest's text survives byte for byte."""
    vmid = 8661
    alices, bobs = await register(alice, pve), await register(bob, pve)
    notes = "line one\r\nline two\n\n"
    async with api_client(pve.info) as api:
        await make_guest(api, vmid, hostname="twice", description=notes)
        try:
            answers = await asyncio.gather(
                alice.call("POST", f"/api/nodes/{alices}/adopt", json={"vmid": vmid}),
                bob.call("POST", f"/api/nodes/{bobs}/adopt", json={"vmid": vmid}),
            )
            codes = sorted(a.status_code for a in answers)
            assert codes == [201, 409], [a.text for a in answers]
            winner = next(a for a in answers if a.status_code == 201).json()
            assert winner["hostname"] == "twice"
            config = (await api.get(f"/nodes/pve/lxc/{vmid}/config")).json()["data"]
            assert [str(m) for m in markers_in(config)] == [winner["id"]]
            assert config["description"] == f"{notes}infrahaus-build:{winner['id']}"
            listed = [
                item["id"]
                for who in (alice, bob)
                for item in (await who.call("GET", "/api/containers")).json()["items"]
                if item["vmid"] == vmid
            ]
            assert listed == [winner["id"]]
        finally:
            await destroy(api, vmid)


async def test_notes_too_long_for_the_marker_are_a_409_before_anything_is_stored(
    alice: Session, pve: RunningSimulator
) -> None:
    vmid = 8662
    node_id = await register(alice, pve)
    async with api_client(pve.info) as api:
        await make_guest(api, vmid, description="x" * 8180)
        try:
            refused = await alice.call("POST", f"/api/nodes/{node_id}/adopt", json={"vmid": vmid})
            assert refused.status_code == 409 and "too long" in refused.json()["detail"]
            assert vmid in await unmanaged(alice, node_id)  # no record was left behind
        finally:
            await destroy(api, vmid)


def test_a_hostname_the_node_reports_is_kept_only_as_a_dns_label() -> None:
    from shared.domain.containers.adopt import _hostname

    assert _hostname({"hostname": "web.example.org"}, 200) == "web"
    for odd in ("bad\x00name", "-lead", "x" * 64, "", "under_score"):
        assert _hostname({"hostname": odd}, 200) == "CT200", odd
