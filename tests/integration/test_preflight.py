"""Permission preflight against the simulator: the limited token (privilege-separated, a narrow
ACL: no VM.Config.CPU, no SDN.Use) makes the privilege findings, the full token the node's
own (storage, bridge, OS template, root-only feature flags). POST /api/containers refuses the
same build with the same messages before anything is stored."""

from __future__ import annotations

from typing import Any

import pytest

from services.pvesim.process import RunningSimulator
from services.pvesim.testing import admin_client
from tests.integration.helpers import Session, node_body
from tests.integration.test_pipeline import make_template, register

pytestmark = pytest.mark.usefixtures("running_worker")

VMID = 8670


async def register_limited(session: Session, pve: RunningSimulator) -> str:
    limited = pve.info["limitedToken"]
    body = node_body(pve, tokenId=limited["tokenId"], tokenSecret=limited["tokenSecret"])
    response = await session.call("POST", "/api/nodes", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def preflight(session: Session, node_id: str, **body: Any) -> dict[str, Any]:
    response = await session.call("POST", f"/api/nodes/{node_id}/preflight", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def found(answer: dict[str, Any]) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(p["code"], p["field"], p["path"], p["privilege"]) for p in answer["problems"]]


async def test_the_limited_token_lacks_cpu_and_bridge_privileges(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    node_id = await register_limited(alice, pve)
    template_id = await make_template(alice)
    answer = await preflight(alice, node_id, templateId=template_id, vmid=VMID)
    assert answer["ok"] is False and answer["vmid"] == VMID
    assert found(answer) == [
        ("privilege_missing", "cores", f"/vms/{VMID}", "VM.Config.CPU"),
        ("bridge_not_permitted", "bridge", "/sdn/zones/localnetwork/vmbr0", "SDN.Use"),
    ]
    assert "deploy@pve!limited lacks VM.Config.CPU" in answer["problems"][0]["message"]
    # without a VMID: the next free one is what the checks are made for
    auto = await preflight(alice, node_id, templateId=template_id)
    assert auto["vmid"] >= 100 and f"/vms/{auto['vmid']}" == auto["problems"][0]["path"]

    # the node computes the privileges: an ACL granted on the bridge clears its finding
    grant = {"path": "/sdn/zones/localnetwork/vmbr0", "ugid": pve.info["limitedToken"]["tokenId"],
             "role": "PVESDNUser"}  # fmt: skip
    async with admin_client(pve.info) as admin:
        assert (await admin.put("/acl", json=grant)).status_code == 200
        try:
            granted = await preflight(alice, node_id, templateId=template_id, vmid=VMID)
        finally:
            await admin.put("/acl", json={**grant, "delete": 1})
    assert [p["code"] for p in granted["problems"]] == ["privilege_missing"]

    # a privileged template: Sys.Modify on /, and no feature flag at all for a token
    privileged = await make_template(alice, unprivileged=False, nesting=True)
    codes = found(await preflight(alice, node_id, templateId=privileged, vmid=VMID))
    assert ("privilege_missing", "templateId", "/", "Sys.Modify") in codes
    assert ("root_only_feature", "templateId", None, None) in codes

    # POST /api/containers refuses the same build, with the same messages, and stores nothing
    body = {"hostname": "pre-01", "nodeId": node_id, "templateId": template_id, "vmid": VMID}
    refused = await alice.call("POST", "/api/containers", json=body)
    assert refused.status_code == 422, refused.text
    assert [(e["field"], e["message"]) for e in refused.json()["errors"]] == [
        (p["field"], p["message"]) for p in answer["problems"]
    ]
    assert "would refuse this build" in refused.json()["detail"]
    listed = await alice.call("GET", "/api/containers", params={"node": node_id})
    assert listed.json()["items"] == []

    # someone else's node is not found; bad input is a 4xx
    assert (
        await bob.call("POST", f"/api/nodes/{node_id}/preflight", json={"templateId": template_id})
    ).status_code == 404
    other = await alice.call(
        "POST", f"/api/nodes/{node_id}/preflight",
        json={"templateId": template_id, "nodeId": "00000000-0000-4000-8000-000000000000"},
    )  # fmt: skip
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "nodeId"
    for bad in ({"templateId": "x"}, {"templateId": template_id, "bogus": 1}, {"vmid": 5}):
        response = await alice.call("POST", f"/api/nodes/{node_id}/preflight", json=bad)
        assert response.status_code == 400, (bad, response.text)
    unknown = await alice.call(
        "POST", f"/api/nodes/{node_id}/preflight",
        json={"templateId": "00000000-0000-4000-8000-000000000000"},
    )  # fmt: skip
    assert unknown.status_code == 404
    neither = await alice.call("POST", f"/api/nodes/{node_id}/preflight", json={})
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "osTemplate"


async def test_the_nodes_storages_bridges_templates_and_root_only_features(
    alice: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    template_id = await make_template(alice)
    clean = await preflight(alice, node_id, templateId=template_id, hostname="ok-01")
    assert (clean["ok"], clean["problems"]) == (True, [])

    keyctl = await make_template(alice, keyctl=True, fuse=True)
    features = await preflight(alice, node_id, templateId=keyctl)
    assert found(features) == [("root_only_feature", "templateId", None, None)]
    assert "only root@pam set keyctl/fuse" in features["problems"][0]["message"]

    cases = {
        "storage_no_rootdir": ({"storage": "local"}, "storage"),
        "storage_unknown": ({"storage": "nosuch"}, "storage"),
        "bridge_unknown": ({"bridge": "vmbr7"}, "bridge"),
        "os_template_missing": ({"osTemplate": "ubuntu-99-standard"}, "osTemplate"),
        "vmid_taken": ({"vmid": 100}, "vmid"),  # the simulator's own VM
    }
    for code, (change, field) in cases.items():
        answer = await preflight(alice, node_id, templateId=template_id, **change)
        assert [(p["code"], p["field"]) for p in answer["problems"]] == [(code, field)], change
    no_rootdir = await preflight(alice, node_id, templateId=template_id, storage="local")
    assert "does not support container directories" in no_rootdir["problems"][0]["message"]

    # a create the node would refuse is refused up front with the preflight's message
    body = {"hostname": "pre-02", "nodeId": node_id, "templateId": keyctl}
    refused = await alice.call("POST", "/api/containers", json=body)
    assert refused.status_code == 422, refused.text
    assert [(e["field"], e["message"]) for e in refused.json()["errors"]] == [
        ("templateId", features["problems"][0]["message"])
    ]
