"""Shared steps for the simulator tests."""

from __future__ import annotations

from typing import Any

import httpx

from services.pvesim.testing import wait_for_task

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


async def create_container(
    api: httpx.AsyncClient, vmid: int, *, node: str = "pve", wait: bool = True, **params: Any
) -> str:
    """POST a create with sensible defaults; returns the UPID (after the task ended if wait)."""
    body = {
        "vmid": vmid,
        "ostemplate": TEMPLATE,
        "rootfs": "local-lvm:8",
        "net0": "name=eth0,bridge=vmbr0,ip=dhcp",
        "hostname": f"ct{vmid}",
        **params,
    }
    response = await api.post(f"/nodes/{node}/lxc", data=body)
    assert response.status_code == 200, response.text
    upid = response.json()["data"]
    if wait:
        status = await wait_for_task(api, node, upid)
        assert status["exitstatus"] == "OK", status
        if str(params.get("start", 0)) == "1":
            started = await wait_for_task(api, node, await start_task_of(api, node, vmid))
            assert started["exitstatus"] == "OK", started
    return upid


async def start_task_of(api: httpx.AsyncClient, node: str, vmid: int) -> str:
    """The UPID of the ``vzstart`` task a ``start=1`` create forked (PVE runs it separately)."""
    response = await api.get(
        f"/nodes/{node}/tasks",
        params={"vmid": vmid, "typefilter": "vzstart", "source": "all"},
    )
    tasks = response.json()["data"]
    assert tasks, f"no vzstart task for {vmid}"
    return tasks[0]["upid"]


async def run_task(
    api: httpx.AsyncClient, path: str, node: str = "pve", **params: Any
) -> dict[str, Any]:
    """POST/DELETE something that returns a UPID and wait for the task to stop."""
    if path.startswith("DELETE "):
        response = await api.delete(path.removeprefix("DELETE "), params=params)
    else:
        response = await api.post(path, data=params)
    assert response.status_code == 200, response.text
    return await wait_for_task(api, node, response.json()["data"])
