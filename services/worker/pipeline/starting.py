"""Phase 2: start the container and wait until it has an IPv4 address.

The address comes from the API's `interfaces` first, then from `ip` inside the container
(`pct exec`). DHCP can take a while, or never answer: progress says so, and the wait is bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable

from services.worker.pipeline.build import Build, BuildFailed
from shared.adapters.node_time import on_node
from shared.adapters.proxmox import NodeFailure
from shared.adapters.proxmox.tasks import run_task
from shared.core.lifecycle import Phase

# Probes start fast (an address is often there at once) and back off to once a second.
_FIRST_POLL_SECONDS = 0.1
_MAX_POLL_SECONDS = 1.0
_REPORT_EVERY_SECONDS = 5.0


async def run(build: Build) -> None:
    await build.step("Starting the container")
    status = await build.client.get(f"{build.lxc_path}/status/current")
    if status.get("status") != "running":
        await run_task(build.client, build.node.name, f"{build.lxc_path}/status/start")
    await build.step("Started; waiting for the network", 0.3)
    address = await wait_for_ipv4(build)
    await build.checkpoint(Phase.STARTING, f"Container is up at {address}", ip_address=address)


async def wait_for_ipv4(build: Build) -> str:
    # The guest configuring its network is the node's time; our progress events inside are
    # a few milliseconds and are counted with it.
    with on_node():
        if build.request.ip != "dhcp":
            static = str(ipaddress.IPv4Interface(build.request.ip).ip)
            await _until(build, lambda: _from_container(build, wanted=static))
            return static
        return await _until(build, lambda: _from_api_then_container(build))


async def _until(build: Build, probe: Callable[[], Awaitable[str | None]]) -> str:
    limit = build.service.settings.build_network_timeout_seconds
    started = time.monotonic()
    next_report = started + _REPORT_EVERY_SECONDS
    delay = _FIRST_POLL_SECONDS
    while True:
        address = await probe()
        if address:
            return address
        now = time.monotonic()
        if now - started > limit:
            raise BuildFailed(
                f"the container got no IPv4 address within {limit:g} s: is a DHCP server"
                f" answering on bridge {build.plan.bridge if build.plan else '?'}?"
            )
        if now >= next_report:
            waited = int(now - started)
            await build.step(
                f"Waiting for network ({waited} s)", 0.3 + 0.6 * min(waited / limit, 1)
            )
            next_report = now + _REPORT_EVERY_SECONDS
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_POLL_SECONDS)


async def _from_api_then_container(build: Build) -> str | None:
    try:
        interfaces = await build.client.get(f"{build.lxc_path}/interfaces")
    except NodeFailure:
        interfaces = None
    for interface in interfaces or []:
        if interface.get("name") == "lo":
            continue
        inet = interface.get("inet")
        if inet:
            return str(inet).split("/")[0]
    return await _from_container(build)


async def _from_container(build: Build, wanted: str | None = None) -> str | None:
    """The first global IPv4 address inside the container (`ip -j`), or `wanted` once seen."""
    status, out, _ = await build.pct().run("ip -4 -j addr show scope global", limit_seconds=20)
    if status != 0:
        return None
    try:
        links = json.loads(out or "[]")
    except json.JSONDecodeError:
        return None
    found = [
        str(info.get("local"))
        for link in links
        if isinstance(link, dict)
        for info in link.get("addr_info") or []
        if isinstance(info, dict) and info.get("local")
    ]
    if wanted is not None:
        return wanted if wanted in found else None
    return found[0] if found else None
