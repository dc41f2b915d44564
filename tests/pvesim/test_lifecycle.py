"""Container lifecycle through UPID tasks, with config locks and the per-VMID flock."""

from __future__ import annotations

import asyncio

import httpx

from services.pvesim.tasks import UPID_PATTERN
from services.pvesim.testing import wait_for_task
from tests.pvesim.helpers import TEMPLATE, create_container, run_task


async def test_full_lifecycle(api: httpx.AsyncClient, new_vmid: int) -> None:
    vmid, base = new_vmid, f"/nodes/pve/lxc/{new_vmid}"
    create = await api.post(
        "/nodes/pve/lxc",
        data={
            "vmid": vmid,
            "ostemplate": TEMPLATE,
            "rootfs": "local-lvm:8",
            "hostname": "web1",
            "net0": "name=eth0,bridge=vmbr0,ip=dhcp",
            "memory": 1024,
            "tags": "B;a,web",
        },
    )
    upid = create.json()["data"]
    match = UPID_PATTERN.match(upid)
    assert match and match[6] == "vzcreate" and match[7] == str(vmid)
    assert match[8] == "root@pam!infrahaus"

    # While the create task runs the config only holds the create lock.
    during = (await api.get(f"{base}/config")).json()["data"]
    assert during["lock"] == "create"
    locked = await api.delete(base)
    assert locked.status_code == 500 and locked.json()["message"] == "CT is locked (create)\n"
    again = await api.post(
        "/nodes/pve/lxc", data={"vmid": vmid, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8"}
    )
    assert again.json()["message"] == f"CT {vmid} already exists on node 'pve'\n"

    status = await wait_for_task(api, "pve", upid)
    assert status["exitstatus"] == "OK" and status["type"] == "vzcreate"
    assert status["user"] == "root@pam" and status["tokenid"] == "infrahaus"
    log = (await api.get(f"/nodes/pve/tasks/{upid}/log")).json()
    assert log["data"][0] == {"n": 1, "t": f'  Logical volume "vm-{vmid}-disk-0" created.'}
    assert {
        "n": 2,
        "t": "extracting archive "
        "'/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst'",
    } in log["data"]
    assert log["data"][-1]["t"] == "TASK OK" and log["total"] == len(log["data"])

    config = (await api.get(f"{base}/config")).json()["data"]
    assert "lock" not in config
    assert config["hostname"] == "web1" and config["memory"] == 1024
    assert config["rootfs"] == f"local-lvm:vm-{vmid}-disk-0,size=8G"
    assert config["net0"].startswith("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:")
    assert config["net0"].endswith(",ip=dhcp,type=veth")
    assert config["tags"] == "a;b;web" and config["unprivileged"] == 1
    assert len(config["digest"]) == 40

    stopped = (await api.get(f"{base}/status/current")).json()["data"]
    assert stopped["status"] == "stopped" and stopped["uptime"] == 0
    assert (await api.get(f"{base}/interfaces")).json() == {"data": None}
    assert (await api.post(f"{base}/status/stop")).json()["message"] == f"CT {vmid} not running\n"
    assert (await api.post(f"{base}/status/reboot")).json()["message"] == f"VM {vmid} not running\n"

    assert (await run_task(api, f"{base}/status/start"))["exitstatus"] == "OK"
    running = (await api.get(f"{base}/status/current")).json()["data"]
    assert running["status"] == "running" and running["maxmem"] == 1024 * 1024**2
    assert running["mem"] > 0 and {"cpu", "disk", "uptime", "maxdisk"} <= running.keys()
    interfaces = (await api.get(f"{base}/interfaces")).json()["data"]
    eth0 = next(i for i in interfaces if i["name"] == "eth0")
    assert eth0["inet"].startswith("10.10.")
    assert eth0["hwaddr"] == config["net0"].split("hwaddr=")[1].split(",")[0].lower()
    again_start = await api.post(f"{base}/status/start")
    assert again_start.status_code == 500
    assert again_start.reason_phrase == f"CT {vmid} already running"

    assert (await run_task(api, f"{base}/status/reboot"))["exitstatus"] == "OK"
    busy = await api.delete(base)
    assert busy.json()["message"] == f"unable to destroy CT {vmid} - container is running\n"
    assert (await run_task(api, f"{base}/status/shutdown", timeout=30))["exitstatus"] == "OK"
    assert (await api.get(f"{base}/status/current")).json()["data"]["status"] == "stopped"

    assert (await run_task(api, f"DELETE {base}", purge=1))["exitstatus"] == "OK"
    gone = await api.get(f"{base}/config")
    assert gone.status_code == 500
    assert (
        gone.json()["message"] == f"Configuration file 'nodes/pve/lxc/{vmid}.conf' does not exist\n"
    )
    ids = [c["vmid"] for c in (await api.get("/nodes/pve/lxc")).json()["data"]]
    assert vmid not in ids


async def test_concurrent_creates_of_one_vmid_have_one_winner(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    body = {"vmid": new_vmid, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8"}
    responses = await asyncio.gather(*(api.post("/nodes/pve/lxc", data=body) for _ in range(6)))
    winners = [r for r in responses if r.status_code == 200]
    losers = [r for r in responses if r.status_code != 200]
    assert len(winners) == 1
    for loser in losers:
        assert loser.status_code == 500
        message = loser.json()["message"]
        assert (
            f"CT {new_vmid} already exists on node 'pve'" in message
            or message
            == f"can't lock file '/run/lock/lxc/pve-config-{new_vmid}.lock' - got timeout\n"
        )
    assert (await wait_for_task(api, "pve", winners[0].json()["data"]))["exitstatus"] == "OK"


async def test_concurrent_creates_across_nodes_share_vmid_space(
    api: httpx.AsyncClient, new_vmid: int
) -> None:
    body = {"vmid": new_vmid, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8"}
    first, second = await asyncio.gather(
        api.post("/nodes/pve/lxc", data=body), api.post("/nodes/pve2/lxc", data=body)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 500]


async def test_config_update_under_flock(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid)
    base = f"/nodes/pve/lxc/{new_vmid}/config"
    digest = (await api.get(base)).json()["data"]["digest"]
    ok = await api.put(base, data={"memory": 2048, "digest": digest, "delete": "tags"})
    assert ok.status_code == 200 and ok.json() == {"data": None}
    stale = await api.put(base, data={"cores": 2, "digest": digest})
    assert stale.json()["message"].startswith("detected modified configuration")
    assert (await api.put(base, data={})).json()["message"] == "no options specified\n"
    assert (await api.put(base, data={"delete": "memory"})).json()[
        "message"
    ] == "unable to delete required option 'memory'\n"
    assert (await api.put(base, data={"unprivileged": 0})).json()[
        "message"
    ] == "unable to modify read-only option: 'unprivileged'\n"
    assert (await api.get(base)).json()["data"]["memory"] == 2048

    # A slow create holds the flock longer than PUT waits for it.
    await admin.put("/faults/pve", json={"task_slowdown": 20})
    slow_vmid = new_vmid + 1000
    upid = await create_container(api, slow_vmid, wait=False)
    blocked = await api.put(f"/nodes/pve/lxc/{slow_vmid}/config", data={"memory": 256})
    assert blocked.status_code == 500
    assert (
        blocked.reason_phrase
        == f"can't lock file '/run/lock/lxc/pve-config-{slow_vmid}.lock' - got timeout"
    )
    start = await api.post(f"/nodes/pve/lxc/{slow_vmid}/status/start")
    await admin.delete("/faults/pve")
    start_status = await wait_for_task(api, "pve", start.json()["data"])
    assert start_status["exitstatus"] in (
        "CT is locked (create)",
        f"can't lock file '/run/lock/lxc/pve-config-{slow_vmid}.lock' - got timeout",
    )
    assert (await wait_for_task(api, "pve", upid))["exitstatus"] == "OK"


async def test_static_ip_shows_in_interfaces(api: httpx.AsyncClient, new_vmid: int) -> None:
    await create_container(
        api, new_vmid, start=1, net0="name=eth0,bridge=vmbr0,ip=192.168.50.7/24,gw=192.168.50.1"
    )
    interfaces = (await api.get(f"/nodes/pve/lxc/{new_vmid}/interfaces")).json()["data"]
    assert next(i for i in interfaces if i["name"] == "eth0")["inet"] == "192.168.50.7/24"


async def test_task_list_and_unknown_task(api: httpx.AsyncClient) -> None:
    listed = (await api.get("/nodes/pve/tasks", params={"limit": 5})).json()["data"]
    assert all(t["status"] and "endtime" in t for t in listed)
    bad = await api.get("/nodes/pve/tasks/garbage/status")
    assert bad.json()["errors"] == {"upid": "unable to parse worker upid"}
    unknown = await api.get(
        "/nodes/pve/tasks/UPID:pve:00000001:00000001:00000001:vzstart:1:root@pam:/status"
    )
    assert unknown.json()["errors"] == {"upid": "no such task"}
