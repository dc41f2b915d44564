"""Issue 9, API side: the simulator behaves like Proxmox VE 9 where it used to be lenient.

Each test pins one behaviour read in the PVE sources (pve-container ``LXC.pm`` /
``API2/LXC.pm``, pve-access-control ``RPCEnvironment.pm``, pve-http-server ``AnyEvent.pm``,
pve-common ``JSONSchema.pm``); each one failed against the simulator before.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest

from services.pvesim import SimulatorHandle
from services.pvesim.simulator import DEFAULT_RRD_LAG
from services.pvesim.testing import api_client, running_simulator, wait_for_task
from shared.adapters.proxmox.client import ProxmoxClient, TokenAuth
from shared.adapters.proxmox.tls import PinnedCertificate
from tests.pvesim.helpers import TEMPLATE, create_container, start_task_of

EXCEPT_NESTING = (
    "Permission check failed (changing feature flags (except nesting) is only allowed for "
    "root@pam)\n"
)
PRIVILEGED = (
    "Permission check failed (changing feature flags for privileged container is only allowed "
    "for root@pam)\n"
)


def _limited_client(info: dict[str, Any]) -> httpx.AsyncClient:
    return api_client(info, limited=True)


async def _root_ticket(anonymous_api: httpx.AsyncClient, info: dict[str, Any]) -> dict[str, str]:
    password = info["users"][0]["password"]
    login = await anonymous_api.post(
        "/access/ticket", data={"username": "root@pam", "password": password}
    )
    data = login.json()["data"]
    return {
        "Cookie": f"PVEAuthCookie={data['ticket']}",
        "CSRFPreventionToken": data["CSRFPreventionToken"],
    }


def _create_body(vmid: int, **params: Any) -> dict[str, Any]:
    return {"vmid": vmid, "ostemplate": TEMPLATE, "rootfs": "local-lvm:1", **params}


# -- 1. feature flags ----------------------------------------------------------------------


@pytest.mark.parametrize("features", ["keyctl=0", "keyctl=1", "nesting=1,fuse=1", "mknod=0"])
async def test_token_may_not_name_any_feature_but_nesting_on_create(
    api: httpx.AsyncClient, new_vmid: int, features: str
) -> None:
    response = await api.post("/nodes/pve/lxc", data=_create_body(new_vmid, features=features))
    assert response.status_code == 403
    assert response.json()["message"] == EXCEPT_NESTING
    assert (await api.get("/cluster/nextid", params={"vmid": new_vmid})).status_code == 200


async def test_privileged_container_features_are_root_only_even_nesting(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    body = _create_body(new_vmid, unprivileged=0, features="nesting=1")
    response = await api.post("/nodes/pve/lxc", data=body)
    assert response.status_code == 403 and response.json()["message"] == PRIVILEGED
    # Without features the token (root's privileges, Sys.Modify on /) may create it ...
    await create_container(api, new_vmid, unprivileged=0)
    config = (await api.get(f"/nodes/pve/lxc/{new_vmid}/config")).json()["data"]
    # ... and PVE writes no `unprivileged` line for a privileged container.
    assert "unprivileged" not in config
    nesting = await api.put(f"/nodes/pve/lxc/{new_vmid}/config", data={"features": "nesting=1"})
    assert nesting.status_code == 403 and nesting.json()["message"] == PRIVILEGED


async def test_put_compares_old_and_new_features_and_checks_delete(
    api: httpx.AsyncClient,
    anonymous_api: httpx.AsyncClient,
    pvesim: SimulatorHandle,
    new_vmid: int,
) -> None:
    root = await _root_ticket(anonymous_api, pvesim.info)
    created = await anonymous_api.post(
        "/nodes/pve/lxc",
        data=_create_body(new_vmid, features="keyctl=1,nesting=1"),
        headers=root,
    )
    assert created.status_code == 200, created.text
    await wait_for_task(api, "pve", created.json()["data"])
    config_path = f"/nodes/pve/lxc/{new_vmid}/config"
    # Only nesting changes: allowed (VM.Allocate), keyctl is carried over unchanged.
    same_keyctl = await api.put(config_path, data={"features": "keyctl=1,nesting=0"})
    assert same_keyctl.status_code == 200, same_keyctl.text
    # Dropping keyctl is a change of a non-nesting flag.
    dropped = await api.put(config_path, data={"features": "nesting=1"})
    assert dropped.status_code == 403 and dropped.json()["message"] == EXCEPT_NESTING
    deleted = await api.put(config_path, data={"delete": "features"})
    assert deleted.status_code == 403 and deleted.json()["message"] == EXCEPT_NESTING
    # root@pam (a ticket, or `pct set` on the node) may.
    by_root = await anonymous_api.put(config_path, data={"delete": "features"}, headers=root)
    assert by_root.status_code == 200, by_root.text
    assert "features" not in (await api.get(config_path)).json()["data"]


async def test_property_string_booleans_accept_yes_true_on(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid, features="nesting=yes")
    config_path = f"/nodes/pve/lxc/{new_vmid}/config"
    for value in ("true", "on", "off", "FALSE", "1"):
        response = await api.put(config_path, data={"features": f"nesting={value}"})
        assert response.status_code == 200, (value, response.text)
    bad = await api.put(config_path, data={"features": "nesting=maybe"})
    assert bad.status_code == 400 and "features" in bad.json()["errors"]


# -- 6. create errors inside the task, start=1 -----------------------------------------------


async def test_missing_template_fails_inside_the_create_task(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    volid = "local:vztmpl/nonexistent-13-standard_13.0-1_amd64.tar.zst"
    response = await api.post("/nodes/pve/lxc", data=_create_body(new_vmid, ostemplate=volid))
    assert response.status_code == 200, response.text
    status = await wait_for_task(api, "pve", response.json()["data"])
    assert status["exitstatus"] == f"unable to create CT {new_vmid} - can't find file '{volid}'"
    assert (await api.get("/cluster/nextid", params={"vmid": new_vmid})).status_code == 200


async def test_start_after_create_is_a_separate_vzstart_task(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    upid = await create_container(api, new_vmid, wait=False, start=1)
    created = await wait_for_task(api, "pve", upid)
    assert created["exitstatus"] == "OK" and created["type"] == "vzcreate"
    start_upid = await start_task_of(api, "pve", new_vmid)
    assert start_upid != upid and ":vzstart:" in start_upid
    started = await wait_for_task(api, "pve", start_upid)
    assert started["exitstatus"] == "OK"
    current = (await api.get(f"/nodes/pve/lxc/{new_vmid}/status/current")).json()["data"]
    assert current["status"] == "running"


# -- 7. form bodies ------------------------------------------------------------------------


async def test_form_bodies_split_on_semicolons_and_raw_equals_cut_values(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid)
    config_path = f"/nodes/pve/lxc/{new_vmid}/config"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    raw = await api.put(config_path, content=b"description=a=b;memory=256", headers=form)
    assert raw.status_code == 200, raw.text
    config = (await api.get(config_path)).json()["data"]
    assert config["description"] == "a" and config["memory"] == 256
    encoded = await api.put(config_path, content=b"description=a%3Db%3Bc%26d+e", headers=form)
    assert encoded.status_code == 200
    assert (await api.get(config_path)).json()["data"]["description"] == "a=b;c&d e"


async def test_our_client_percent_encodes_form_values(
    pvesim: SimulatorHandle, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid)
    info = pvesim.info
    pem = await asyncio.to_thread(Path(info["tlsCertFile"]).read_text)
    pinned = PinnedCertificate(pem=pem, fingerprint=info["tlsFingerprint"])
    host, port = httpx.URL(info["apiUrl"]).host, httpx.URL(info["apiUrl"]).port
    assert port is not None
    text = "owner=ops; tier=web&db + x%y"
    async with ProxmoxClient(
        host, port, pinned, TokenAuth(info["tokenId"], info["tokenSecret"])
    ) as client:
        await client.put(f"/nodes/pve/lxc/{new_vmid}/config", description=text)
        config = await client.get(f"/nodes/pve/lxc/{new_vmid}/config")
    assert config["description"] == text


# -- 8. permissions ------------------------------------------------------------------------


async def test_privsep_token_gets_the_intersection_of_user_and_token_acls(
    pvesim: SimulatorHandle, admin: httpx.AsyncClient
) -> None:
    limited = pvesim.info["limitedToken"]
    assert limited["privsep"] == 1
    async with _limited_client(pvesim.info) as client:
        vms = (await client.get("/access/permissions", params={"path": "/vms/101"})).json()
        assert "VM.Allocate" in vms["data"]["/vms/101"]
        assert "VM.Config.CPU" not in vms["data"]["/vms/101"]
        # Grant the token Administrator on /: its user (PVEAdmin) still lacks Sys.Modify.
        grant = {"path": "/", "ugid": limited["tokenId"], "role": "Administrator"}
        assert (await admin.put("/acl", json=grant)).status_code == 200
        try:
            root = (await client.get("/access/permissions", params={"path": "/"})).json()
            assert "Sys.Audit" in root["data"]["/"] and "Sys.Modify" not in root["data"]["/"]
        finally:
            await admin.put("/acl", json={**grant, "delete": 1})
        tree = (await client.get("/access/permissions")).json()["data"]
        assert "/vms" in tree and "SDN.Use" not in tree.get("/", {})


async def test_access_permissions_of_others_needs_sys_audit(
    pvesim: SimulatorHandle, api: httpx.AsyncClient
) -> None:
    limited = pvesim.info["limitedToken"]["tokenId"]
    mine = await api.get("/access/permissions", params={"userid": limited, "path": "/vms"})
    assert mine.status_code == 200 and "VM.Audit" in mine.json()["data"]["/vms"]
    async with _limited_client(pvesim.info) as client:
        other = await client.get("/access/permissions", params={"userid": "root@pam"})
        # the limited token has PVEAuditor on /, so Sys.Audit on /access
        assert other.status_code == 200
        bridge = "/sdn/zones/localnetwork/vmbr0"
        inherited = await client.get("/access/permissions", params={"path": bridge})
        # PVEAuditor on / propagates down: SDN.Audit, but no SDN.Use
        assert "SDN.Audit" in inherited.json()["data"][bridge]
        assert "SDN.Use" not in inherited.json()["data"][bridge]
    # a path without any privilege is still answered, with an empty map (PVE's `if ($perms)`
    # tests a hash reference, which is true even when empty)
    nothing = await api.get(
        "/access/permissions", params={"userid": "nobody@pve!none", "path": "/vms"}
    )
    assert nothing.status_code == 200 and nothing.json()["data"] == {"/vms": {}}


async def test_create_checks_each_key_storage_and_bridge(
    pvesim: SimulatorHandle, admin: httpx.AsyncClient, new_vmid: int
) -> None:
    async with _limited_client(pvesim.info) as client:
        cpu = await client.post("/nodes/pve/lxc", data=_create_body(new_vmid, cores=2))
        assert cpu.status_code == 403
        assert (
            cpu.json()["message"] == f"Permission check failed (/vms/{new_vmid}, VM.Config.CPU)\n"
        )
        net = await client.post(
            "/nodes/pve/lxc",
            data=_create_body(new_vmid, net0="name=eth0,bridge=vmbr0,ip=dhcp"),
        )
        assert net.status_code == 403
        assert net.json()["message"] == (
            "Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)\n"
        )
        storage_acl = {
            "path": "/storage/local-lvm",
            "ugid": pvesim.info["limitedToken"]["tokenId"],
            "role": "PVEDatastoreUser",
        }
        await admin.put("/acl", json={**storage_acl, "delete": 1})
        try:
            space = await client.post("/nodes/pve/lxc", data=_create_body(new_vmid))
        finally:
            await admin.put("/acl", json=storage_acl)
        assert space.status_code == 403
        assert space.json()["message"] == (
            "Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)\n"
        )
        # Within its ACL the limited token creates fine (nesting needs only VM.Allocate).
        ok = await client.post("/nodes/pve/lxc", data=_create_body(new_vmid, memory=256))
        assert ok.status_code == 200, ok.text
        assert (await wait_for_task(client, "pve", ok.json()["data"]))["exitstatus"] == "OK"
        # PUT checks per key as well: memory is fine, cores is not.
        config_path = f"/nodes/pve/lxc/{new_vmid}/config"
        assert (await client.put(config_path, data={"memory": 384})).status_code == 200
        cores = await client.put(config_path, data={"cores": 2})
        assert cores.status_code == 403
        assert cores.json()["message"] == (
            f"Permission check failed (/vms/{new_vmid}, VM.Config.CPU)\n"
        )
        # Without VM.Audit elsewhere it only sees what its ACL allows.
        privileged = await client.post(
            "/nodes/pve/lxc", data=_create_body(new_vmid + 1000, unprivileged=0)
        )
        assert privileged.json()["message"] == "Permission check failed (/, Sys.Modify)\n"


async def test_pools_list_create_get_and_the_pool_parameter(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    unknown = await api.post("/nodes/pve/lxc", data=_create_body(new_vmid, pool="nosuch"))
    assert unknown.status_code == 403
    assert unknown.json()["message"] == "Permission check failed (pool 'nosuch' does not exist)\n"
    name = f"ci{new_vmid}"
    assert (await api.post("/pools", data={"poolid": name, "comment": "CI"})).status_code == 200
    again = await api.post("/pools", data={"poolid": name})
    assert again.status_code == 500 and "already exists" in again.json()["message"]
    pools = (await api.get("/pools")).json()["data"]
    assert {"poolid": name, "comment": "CI"} in pools
    await create_container(api, new_vmid, pool=name)
    pool = (await api.get(f"/pools/{name}")).json()["data"]
    assert [m["id"] for m in pool["members"]] == [f"lxc/{new_vmid}"]
    assert pool["comment"] == "CI"
    listed = (await api.get("/pools", params={"poolid": name})).json()["data"]
    assert listed[0]["members"][0]["vmid"] == new_vmid
    resources = (await api.get("/cluster/resources", params={"type": "vm"})).json()["data"]
    assert next(r for r in resources if r["vmid"] == new_vmid)["pool"] == name
    missing = await api.get("/pools/nosuchpool")
    assert missing.status_code == 500
    assert missing.json()["message"] == "pool 'nosuchpool' does not exist\n"


# -- 10. status lag ------------------------------------------------------------------------


async def test_cluster_resources_lags_by_default_but_lists_new_guests_at_once(
    new_vmid: int,
) -> None:
    assert DEFAULT_RRD_LAG >= 2
    async with running_simulator() as handle, api_client(handle.info) as client:  # the default
        await create_container(client, new_vmid, start=1)
        live = (await client.get(f"/nodes/pve/lxc/{new_vmid}/status/current")).json()["data"]
        assert live["status"] == "running"
        resources = (await client.get("/cluster/resources", params={"type": "vm"})).json()
        item = next(i for i in resources["data"] if i["vmid"] == new_vmid)
        assert item["status"] != "running"  # pvestatd has not seen it yet
    async with running_simulator(rrd_lag=0) as handle, api_client(handle.info) as client:
        await create_container(client, new_vmid, start=1)
        resources = (await client.get("/cluster/resources", params={"type": "vm"})).json()
        item = next(i for i in resources["data"] if i["vmid"] == new_vmid)
        assert item["status"] == "running"


# -- 11. destroy ---------------------------------------------------------------------------


async def test_destroy_locks_config_and_a_second_delete_fails_in_its_task(new_vmid: int) -> None:
    # Slower tasks than the session simulator, so the second DELETE's flock wait (10 s scaled,
    # here 5 s) outlasts the first destroy (0.5 s) even on a busy machine, as on a real node.
    async with running_simulator(task_speed=0.5) as handle, api_client(handle.info) as api:
        await create_container(api, new_vmid)
        path = f"/nodes/pve/lxc/{new_vmid}"
        first = (await api.delete(path, params={"purge": 1})).json()["data"]
        second = await api.delete(path)
        assert second.status_code == 200, second.text
        seen_lock = None
        while seen_lock is None:
            config = await api.get(f"{path}/config")
            if config.status_code != 200:
                break
            seen_lock = config.json()["data"].get("lock")
            await asyncio.sleep(0.005)
        assert seen_lock == "destroyed"
        assert (await wait_for_task(api, "pve", first))["exitstatus"] == "OK"
        log = (await api.get(f"/nodes/pve/tasks/{first}/log")).json()["data"]
        assert f"purging CT {new_vmid} from related configurations.." in [i["t"] for i in log]
        failed = await wait_for_task(api, "pve", second.json()["data"])
        assert failed["exitstatus"] == (
            f"Configuration file 'nodes/pve/lxc/{new_vmid}.conf' does not exist"
        )


# -- 12. smaller ones ----------------------------------------------------------------------


async def test_authentication_comes_before_routing(
    anonymous_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    unknown = await anonymous_api.get("/nodes/pve/nosuch")
    assert unknown.status_code == 401 and unknown.content == b""
    assert unknown.reason_phrase == "No ticket"
    assert (await api.get("/nodes/pve/nosuch")).status_code == 501


async def test_skiplock_from_a_token_is_a_parameter_error(api: httpx.AsyncClient) -> None:
    response = await api.post("/nodes/pve/lxc/101/status/stop", data={"skiplock": 1})
    assert response.status_code == 400
    assert response.json()["errors"] == {"skiplock": "Only root may use this option."}


async def test_interfaces_of_a_missing_container_are_null(api: httpx.AsyncClient) -> None:
    response = await api.get("/nodes/pve/lxc/999999/interfaces")
    assert response.status_code == 200 and response.json() == {"data": None}


async def test_ssh_keys_with_an_options_prefix_are_accepted(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    keys = f'from="10.0.0.0/8",no-pty {key} ops@example\n{key}\n'
    await create_container(api, new_vmid, **{"ssh-public-keys": keys})
    bad = await api.post(
        "/nodes/pve/lxc",
        data=_create_body(new_vmid + 1000, **{"ssh-public-keys": "ssh-ed25519 nonsense"}),
    )
    assert bad.status_code == 500
    assert bad.json()["message"] == "SSH public key validation error\n"


@pytest.mark.parametrize("ip", ["10.1.2.3/7", "10.1.2.3/33", "10.1.2.3"])
async def test_ipv4_prefix_must_be_8_to_32(api: httpx.AsyncClient, new_vmid: int, ip: str) -> None:
    net0 = f"name=eth0,bridge=vmbr0,ip={ip}"
    response = await api.post("/nodes/pve/lxc", data=_create_body(new_vmid, net0=net0))
    assert response.status_code == 400
    assert (
        "value does not look like a valid ipv4 network configuration"
        in (response.json()["errors"]["net0"])
    )


async def test_rootfs_on_a_storage_without_rootdir_is_a_400(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    response = await api.post("/nodes/pve/lxc", data=_create_body(new_vmid, rootfs="local:8"))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "storage": "storage 'local' does not support container directories"
    }


async def test_a_stopped_task_says_received_interrupt(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, new_vmid: int
) -> None:
    await admin.put("/faults/pve", json={"task_slowdown": 100})  # still running when stopped
    upid = await create_container(api, new_vmid, wait=False)
    assert (await api.delete(f"/nodes/pve/tasks/{upid}")).json() == {"data": None}
    status = await wait_for_task(api, "pve", upid)
    assert status["exitstatus"] == "received interrupt"
