"""Wire format, authentication, permissions and parameter validation of the HTTPS API."""

from __future__ import annotations

import asyncio
import re

import httpx

from services.pvesim import SimulatorHandle
from services.pvesim.testing import api_client, running_simulator, wait_for_task
from tests.pvesim.helpers import TEMPLATE, create_container


async def test_version_with_token_has_envelope_and_pve_headers(api: httpx.AsyncClient) -> None:
    response = await api.get("/version")
    assert response.status_code == 200
    assert response.headers["server"] == "pve-api-daemon/3.0"
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    data = response.json()["data"]
    assert data["release"] == "9.1" and data["version"].startswith("9.1.")


async def test_unknown_path_and_format_are_501(
    api: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    response = await api.get("/nodes/pve/nonsense")
    assert response.status_code == 501
    assert response.json()["message"] == "Method 'GET /nodes/pve/nonsense' not implemented\n"
    other = await api.get(pvesim.info["apiUrl"].replace("/json", "/yaml") + "/version")
    assert other.status_code == 501


async def test_missing_and_bad_credentials_give_empty_401(
    anonymous_api: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    response = await anonymous_api.get("/version")
    assert response.status_code == 401
    assert response.content == b""
    assert response.reason_phrase == "No ticket"
    bad = await anonymous_api.get(
        "/version", headers={"Authorization": f"PVEAPIToken={pvesim.info['tokenId']}=wrong"}
    )
    assert bad.status_code == 401
    assert bad.reason_phrase == "Authentication failed!"


async def test_ticket_login_requires_csrf_on_writes(
    anonymous_api: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    root = pvesim.info["users"][0]
    login = await anonymous_api.post(
        "/access/ticket",
        data={"username": root["username"], "realm": root["realm"], "password": root["password"]},
    )
    assert login.status_code == 200
    ticket = login.json()["data"]
    assert ticket["username"] == "root@pam"
    assert re.fullmatch(r"PVE:root@pam:[0-9A-F]{8}::\S+", ticket["ticket"])
    assert re.fullmatch(r"[0-9A-F]{8}:\S{43}", ticket["CSRFPreventionToken"])
    cookie = {"Cookie": f"PVEAuthCookie={ticket['ticket']}"}

    read = await anonymous_api.get("/nodes", headers=cookie)
    assert read.status_code == 200

    no_csrf = await anonymous_api.post("/nodes/pve/lxc", headers=cookie, data={"vmid": 99})
    assert no_csrf.status_code == 401
    assert no_csrf.reason_phrase == "Permission denied - invalid csrf token"

    with_csrf = await anonymous_api.post(
        "/nodes/pve/lxc",
        data={"vmid": 99, "ostemplate": TEMPLATE},
        headers={**cookie, "CSRFPreventionToken": ticket["CSRFPreventionToken"]},
    )
    assert with_csrf.status_code == 400  # authenticated; now it is the vmid that is wrong


async def test_ticket_expires_after_two_hours(
    anonymous_api: httpx.AsyncClient, admin: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    user = pvesim.info["users"][1]
    login = await anonymous_api.post(
        "/access/ticket",
        data={"username": f"{user['username']}@{user['realm']}", "password": user["password"]},
    )
    cookie = {"Cookie": f"PVEAuthCookie={login.json()['data']['ticket']}"}
    await admin.post("/clock", json={"advance": 2 * 3600 - 60})
    assert (await anonymous_api.get("/version", headers=cookie)).status_code == 200
    await admin.post("/clock", json={"advance": 120})
    expired = await anonymous_api.get("/version", headers=cookie)
    assert expired.status_code == 401
    assert expired.reason_phrase == "Authentication failed!"


async def test_wrong_password_is_generic_401(anonymous_api: httpx.AsyncClient) -> None:
    response = await anonymous_api.post(
        "/access/ticket", data={"username": "root@pam", "password": "nope"}
    )
    assert response.status_code == 401
    assert response.json() == {"data": None, "message": "authentication failure\n"}


async def test_token_cannot_request_ticket(api: httpx.AsyncClient) -> None:
    response = await api.post("/access/ticket", data={"username": "root@pam", "password": "x"})
    assert response.status_code == 403
    assert response.json()["message"].startswith(
        "Permission check failed (URI '/access/ticket' not available with API token"
    )


async def test_auditor_is_denied_power_actions(
    anonymous_api: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    auditor = next(u for u in pvesim.info["users"] if u["username"] == "auditor")
    login = await anonymous_api.post(
        "/access/ticket", data={"username": "auditor@pve", "password": auditor["password"]}
    )
    data = login.json()["data"]
    response = await anonymous_api.post(
        "/nodes/pve/lxc/101/status/stop",
        headers={
            "Cookie": f"PVEAuthCookie={data['ticket']}",
            "CSRFPreventionToken": data["CSRFPreventionToken"],
        },
    )
    assert response.status_code == 403
    assert response.reason_phrase == "Permission check failed (/vms/101, VM.PowerMgmt)"
    status = await anonymous_api.get(
        "/nodes/pve/lxc/101/status/current",
        headers={"Authorization": f"PVEAuthCookie={data['ticket']}"},
    )
    assert status.status_code == 200


async def test_unknown_parameter_and_bad_vmid_get_400_errors(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/nodes/pve/lxc", data={"vmid": 99, "ostemplate": TEMPLATE, "bogus": "1"}
    )
    assert response.status_code == 400
    assert response.reason_phrase == "Parameter verification failed."
    body = response.json()
    assert body["data"] is None
    assert body["message"] == "Parameter verification failed.\n"
    assert body["errors"] == {
        "vmid": "invalid format - value does not look like a valid VM ID\n",
        "bogus": "property is not defined in schema and the schema does not allow additional "
        "properties",
    }


async def test_types_ranges_and_formats_are_checked(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/nodes/pve/lxc",
        data={
            "vmid": 150,
            "ostemplate": TEMPLATE,
            "memory": "8",
            "cores": "abc",
            "hostname": "bad_name",
            "onboot": "true",
            "arch": "sparc",
            "net0": "name=eth0,ip=not-an-ip",
        },
    )
    errors = response.json()["errors"]
    assert errors["memory"] == "value must have a minimum value of 16"
    assert errors["cores"] == "type check ('integer') failed - got 'abc'"
    assert errors["hostname"] == "invalid format - value does not look like a valid DNS name\n"
    assert errors["onboot"] == "type check ('boolean') failed - got 'true'"
    assert errors["arch"].startswith("value 'sparc' does not have a value in the enumeration")
    assert "net0.ip" in errors["net0"]
    missing = await api.post("/nodes/pve/lxc", data={"vmid": 150})
    assert missing.json()["errors"] == {"ostemplate": "property is missing and it is not optional"}


async def test_json_bodies_and_path_conflicts(api: httpx.AsyncClient) -> None:
    response = await api.post("/nodes/pve/lxc", json={"vmid": 99, "ostemplate": TEMPLATE})
    assert response.json()["errors"]["vmid"].startswith("invalid format")
    conflict = await api.get("/nodes/pve/lxc/101/config", params={"vmid": 102})
    assert conflict.status_code == 400
    assert conflict.json()["errors"]["vmid"].startswith("duplicate parameter")


async def test_duplicate_create_is_500_with_reason_phrase(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/nodes/pve/lxc", data={"vmid": 101, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8"}
    )
    assert response.status_code == 500
    assert response.reason_phrase == "CT 101 already exists on node 'pve'"
    assert response.json() == {"data": None, "message": "CT 101 already exists on node 'pve'\n"}
    on_vm = await api.post(
        "/nodes/pve2/lxc", data={"vmid": 100, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8"}
    )
    assert on_vm.json()["message"] == "VM 100 already exists on node 'pve'\n"


async def test_nextid_is_a_string_and_rejects_used_ids(api: httpx.AsyncClient) -> None:
    free = await api.get("/cluster/nextid")
    assert isinstance(free.json()["data"], str)
    assert int(free.json()["data"]) >= 102
    used = await api.get("/cluster/nextid", params={"vmid": 100})
    assert used.status_code == 400
    assert used.json()["errors"] == {"vmid": "VM 100 already exists"}


async def test_token_cannot_set_keyctl_but_root_ticket_can(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, pvesim: SimulatorHandle, new_vmid: int
) -> None:
    body = {
        "vmid": new_vmid,
        "ostemplate": TEMPLATE,
        "rootfs": "local-lvm:8",
        "features": "keyctl=1,nesting=1",
    }
    denied = await api.post("/nodes/pve/lxc", data=body)
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        "Permission check failed (changing feature flags (except nesting) is only allowed "
        "for root@pam)\n"
    )
    nesting_only = await api.post("/nodes/pve/lxc/101/config", data={"features": "nesting=1"})
    assert nesting_only.status_code == 501  # POST on config is not a method PVE has
    root = pvesim.info["users"][0]
    login = (
        await anonymous_api.post(
            "/access/ticket", data={"username": "root@pam", "password": root["password"]}
        )
    ).json()["data"]
    allowed = await anonymous_api.post(
        "/nodes/pve/lxc",
        data=body,
        headers={
            "Cookie": f"PVEAuthCookie={login['ticket']}",
            "CSRFPreventionToken": login["CSRFPreventionToken"],
        },
    )
    assert allowed.status_code == 200
    assert allowed.json()["data"].startswith("UPID:pve:")


async def test_cluster_views_share_one_vmid_space(api: httpx.AsyncClient) -> None:
    resources = (await api.get("/cluster/resources")).json()["data"]
    ids = {item["id"] for item in resources}
    assert {"qemu/100", "lxc/101", "node/pve", "node/pve2", "storage/pve/local-lvm"} <= ids
    vms = (await api.get("/cluster/resources", params={"type": "vm"})).json()["data"]
    assert {item["type"] for item in vms} == {"qemu", "lxc"}
    nodes = (await api.get("/nodes")).json()["data"]
    assert [n["node"] for n in nodes] == ["pve", "pve2"]
    assert all(n["status"] == "online" and n["ssl_fingerprint"] for n in nodes)
    containers = (await api.get("/nodes/pve/lxc")).json()["data"]
    assert any(c["vmid"] == 101 and c["status"] == "running" for c in containers)
    assert all(isinstance(c["vmid"], int) for c in containers)


async def test_storage_templates_and_network(api: httpx.AsyncClient) -> None:
    storages = (await api.get("/nodes/pve/storage", params={"content": "rootdir"})).json()
    assert [s["storage"] for s in storages["data"]] == ["local-lvm"]
    content = (
        await api.get("/nodes/pve/storage/local/content", params={"content": "vztmpl"})
    ).json()["data"]
    assert {c["volid"] for c in content} == {
        "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
        "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz",
    }
    assert {c["format"] for c in content} == {"tzst", "txz"}
    bridges = (await api.get("/nodes/pve/network", params={"type": "bridge"})).json()["data"]
    assert [b["iface"] for b in bridges] == ["vmbr0"]
    status = (await api.get("/nodes/pve/status")).json()["data"]
    assert status["memory"]["total"] > 0 and len(status["loadavg"]) == 3


async def test_unknown_node_is_500_hostname_lookup(api: httpx.AsyncClient) -> None:
    response = await api.get("/nodes/nosuch/lxc")
    assert response.status_code == 500
    assert response.json()["message"].startswith("hostname lookup 'nosuch' failed")


async def test_certificate_is_pinned_not_trusted_blindly(pvesim: SimulatorHandle) -> None:
    async with api_client(pvesim.info) as client:
        assert (await client.get("/version")).status_code == 200
    async with httpx.AsyncClient(base_url=pvesim.info["apiUrl"]) as unpinned:
        try:
            await unpinned.get("/version")
        except httpx.ConnectError as exc:
            assert "CERTIFICATE_VERIFY_FAILED" in str(exc)
        else:
            raise AssertionError("self-signed certificate was accepted without pinning")


async def test_ticket_can_be_renewed_with_itself(
    anonymous_api: httpx.AsyncClient, pvesim: SimulatorHandle
) -> None:
    password = pvesim.info["users"][0]["password"]
    first = (
        await anonymous_api.post(
            "/access/ticket", data={"username": "root@pam", "password": password}
        )
    ).json()["data"]
    renewed = await anonymous_api.post(
        "/access/ticket", data={"username": "root@pam", "password": first["ticket"]}
    )
    assert renewed.status_code == 200
    assert renewed.json()["data"]["ticket"].startswith("PVE:root@pam:")


async def test_cluster_resources_can_lag_like_pvestatd(new_vmid: int) -> None:
    async with running_simulator(rrd_lag=1.0) as handle, api_client(handle.info) as client:
        upid = await create_container(client, new_vmid, wait=False)
        fresh = await client.get("/cluster/resources", params={"type": "vm"})
        item = next(i for i in fresh.json()["data"] if i["vmid"] == new_vmid)
        assert item["status"] == "unknown" and "maxmem" not in item
        await wait_for_task(client, "pve", upid)
        await asyncio.sleep(1.0)
        settled = await client.get("/cluster/resources", params={"type": "vm"})
        item = next(i for i in settled.json()["data"] if i["vmid"] == new_vmid)
        assert item["status"] == "stopped"


async def test_plain_http_is_redirected_to_https(pvesim: SimulatorHandle) -> None:
    plain_url = pvesim.info["apiUrl"].replace("https://", "http://")
    async with httpx.AsyncClient() as client:
        get = await client.get(f"{plain_url}/version")
        post = await client.post(f"{plain_url}/nodes/pve/lxc", data={"vmid": 1})
    assert get.status_code == 301 and get.headers["location"] == f"{pvesim.info['apiUrl']}/version"
    assert post.status_code == 308
    assert get.headers["connection"] == "close"


def test_status_line_phrase_defaults_to_the_standard_one() -> None:
    from services.pvesim.httpserver import reason_phrase

    assert reason_phrase(409, None) == b"Conflict"  # any IANA status, not only a listed few
    assert reason_phrase(595, None) == b"Connection refused"  # PVE's own proxy status
    assert reason_phrase(599, None) == b"Unknown"
    assert reason_phrase(500, "CT 100 already exists\nmore") == b"CT 100 already exists"
