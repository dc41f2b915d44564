"""Helpers for tests: start a simulator, and talk to it over real HTTPS and SSH.

The clients pin the simulator's certificate and SSH host key instead of disabling verification,
so the tests exercise the same trust setup production code needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import httpx

from services.pvesim.simulator import SimulatorConfig, SimulatorHandle, start_simulator
from services.pvesim.tls import certificate_fingerprint

# Free ports, tasks 50x faster than PVE, and no 3 s penalty on every 401.
TEST_DEFAULTS: dict[str, Any] = {
    "api_port": 0,
    "ssh_port": 0,
    "admin_port": 0,
    "task_speed": 0.02,
    "auth_failure_delay": 0.05,
}


@contextlib.asynccontextmanager
async def running_simulator(**overrides: Any) -> AsyncIterator[SimulatorHandle]:
    """Run a simulator with :data:`TEST_DEFAULTS` (plus ``overrides``) for the ``with`` block."""
    handle = await start_simulator(SimulatorConfig(**{**TEST_DEFAULTS, **overrides}))
    try:
        yield handle
    finally:
        await handle.stop()


def ssl_context_for(info: dict[str, Any]) -> ssl.SSLContext:
    """Trust exactly the simulator's self-signed certificate (checked against the fingerprint)."""
    cert_file = Path(info["tlsCertFile"])
    if certificate_fingerprint(cert_file) != info["tlsFingerprint"]:
        raise ssl.SSLError("simulator certificate does not match the advertised fingerprint")
    return ssl.create_default_context(cafile=str(cert_file))


def token_header(info: dict[str, Any], *, limited: bool = False) -> dict[str, str]:
    """``Authorization`` for the root-privileged token, or with ``limited`` for the
    privilege-separated ``limitedToken`` and its narrow ACL."""
    token = info["limitedToken"] if limited else info
    return {"Authorization": f"PVEAPIToken={token['tokenId']}={token['tokenSecret']}"}


def api_client(
    info: dict[str, Any], *, token: bool = True, limited: bool = False, timeout: float = 15.0
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` rooted at ``apiUrl``, with the API token unless ``token=False``
    (the limited token with ``limited=True``)."""
    return httpx.AsyncClient(
        base_url=info["apiUrl"],
        verify=ssl_context_for(info),
        headers=token_header(info, limited=limited) if token else {},
        timeout=timeout,
    )


def admin_client(info: dict[str, Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=info["adminUrl"], timeout=15.0)


def known_hosts_for(info: dict[str, Any], node: str | None = None) -> asyncssh.SSHKnownHosts:
    port = info["sshPorts"][node] if node else info["sshPort"]
    return asyncssh.import_known_hosts(f"[{info['sshHost']}]:{port} {info['sshHostKey']}")


async def ssh_connect(
    info: dict[str, Any], node: str | None = None, *, use_key: bool = False, **kwargs: Any
) -> asyncssh.SSHClientConnection:
    """Connect to a node's SSH side with the password (or the generated client key)."""
    port = info["sshPorts"][node] if node else info["sshPort"]
    credentials: dict[str, Any] = (
        {"client_keys": [info["sshClientKeyFile"]]}
        if use_key
        else {"password": info["sshPassword"], "client_keys": None}
    )
    return await asyncssh.connect(
        info["sshHost"],
        port,
        username=info["sshUser"],
        known_hosts=known_hosts_for(info, node),
        connect_timeout=10,
        **credentials,
        **kwargs,
    )


async def wait_for_task(
    client: httpx.AsyncClient, node: str, upid: str, max_wait: float = 20.0
) -> dict[str, Any]:
    """Poll ``tasks/{upid}/status`` until the task stopped; returns the final status object."""
    async with asyncio.timeout(max_wait):
        while True:
            response = await client.get(f"/nodes/{node}/tasks/{upid}/status")
            response.raise_for_status()
            status = response.json()["data"]
            if status["status"] == "stopped":
                return status
            await asyncio.sleep(0.02)
