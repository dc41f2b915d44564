"""End to end, as a user sees it: the example template (`templates/web-basic`) built by a real
worker process through a real API process on the simulator, followed with a real SSE client
that disconnects and resumes."""

from __future__ import annotations

import asyncio
import json
import shlex
import uuid
from typing import Any

import asyncssh
import httpx
import pytest
from httpx_sse import aconnect_sse
from sqlalchemy import select

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.db import ContainerEvent, create_engine

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("running_worker")]


async def _login(api: httpx.AsyncClient, pve: RunningSimulator) -> dict[str, str]:
    user = pve.info["users"][0]
    port = httpx.URL(pve.info["apiUrl"]).port
    response = await api.post("/api/auth/login", json={
        "host": "127.0.0.1", "port": port, "username": user["username"], "realm": user["realm"],
        "password": user["password"]})  # fmt: skip
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _read(
    api: httpx.AsyncClient, url: str, headers: dict[str, str], stop_after: int | None = None
) -> list[dict[str, Any]]:
    """Events of the stream (`id` and `event` checked against the data), until it ends or
    `stop_after` events were read (then the client hangs up)."""
    received = []
    async with aconnect_sse(api, "GET", url, headers=headers, timeout=120) as source:
        assert source.response.status_code == 200, await source.response.aread()
        async for sse in source.aiter_sse():
            if not sse.data:  # the `retry:` hint frame
                continue
            data = json.loads(sse.data)
            assert int(sse.id) == data["seq"] and sse.event == data["type"]
            received.append(data)
            if stop_after is not None and len(received) == stop_after:
                break
    return received


async def test_the_example_template_builds_and_streams_to_complete(
    api_server: str, pve: RunningSimulator, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=api_server, timeout=60) as api:
        headers = await _login(api, pve)
        info = pve.info
        node = await api.post("/api/nodes", headers=headers, json={
            "name": "pve2", "host": "127.0.0.1", "port": httpx.URL(info["apiUrl"]).port,
            "tokenId": info["tokenId"], "tokenSecret": info["tokenSecret"],
            "sshUser": info["sshUser"], "sshPort": info["sshPorts"]["pve2"],
            "sshPassword": info["sshPassword"]})  # fmt: skip
        assert node.status_code == 201, node.text
        discovered = await api.post("/api/templates/discover", headers=headers)
        assert discovered.status_code == 200, discovered.text
        listing = (await api.get("/api/templates?q=web-basic", headers=headers)).json()
        template = next(t for t in listing["items"] if t["name"] == "web-basic")
        created = await api.post("/api/containers", headers=headers, json={
            "hostname": "web-basic-01", "nodeId": node.json()["id"], "vmid": 7960,
            "templateId": template["id"]})  # fmt: skip
        assert created.status_code == 202, created.text
        body = created.json()
        stream = body["eventsUrl"]

        first = await _read(api, stream, headers, stop_after=5)
        assert [e["seq"] for e in first] == [1, 2, 3, 4, 5]
        rest = await _read(api, stream, {**headers, "Last-Event-ID": "5"})
        streamed = first + rest
        # 6..N exactly once, in order, ending with the terminal event
        assert [e["seq"] for e in streamed] == list(range(1, len(streamed) + 1))
        assert streamed[-1]["type"] == "complete", streamed[-1]
        percents = [e["percent"] for e in streamed if e.get("percent") is not None]
        assert percents == sorted(percents) and percents[-1] == 100
        steps = [e["step"] for e in streamed if e["type"] in ("step", "complete")]
        assert steps == sorted(
            steps, key=["creating", "starting", "deploying", "syncing", "finalizing"].index
        )
        script_lines = [e for e in streamed if e.get("scriptName") == "20-enable-nginx.sh"]
        assert script_lines and all(e["scriptTotal"] == 2 for e in script_lines)

        # the database holds exactly what was streamed
        engine = create_engine(settings, pooled=False)
        async with engine.connect() as connection:
            rows = list(await connection.execute(
                select(ContainerEvent.seq, ContainerEvent.type, ContainerEvent.message)
                .where(ContainerEvent.container_id == uuid.UUID(body["id"]))
                .order_by(ContainerEvent.seq)
            ))  # fmt: skip
        await engine.dispose()
        assert [(r.seq, r.type, r.message) for r in rows] == [
            (e["seq"], e["type"], e["message"]) for e in streamed
        ]

        # a client that comes after completion gets the whole replay, then the stream ends
        late = await asyncio.wait_for(_read(api, stream, headers), 30)
        assert late == streamed

        # the container runs with the template's files, packages and service
        detail = (await api.get(f"/api/containers/{body['id']}", headers=headers)).json()
        assert detail["lifecycle"] == "ready" and detail["live"]["status"] == "running"
        check = (
            "cat /var/www/infrahaus/index.html | head -c 200; echo;"
            " ls /etc/nginx/conf.d; systemctl is-active nginx;"
            " stat -c '%a' /etc/infrahaus/credentials/nginx.env;"
            " cut -d= -f1 /etc/infrahaus/credentials/nginx.env"
        )
        out = await _in_container(pve, "pve2", detail["vmid"], check)
        assert "infrahaus.conf" in out
        assert "\nactive\n" in out
        assert "600\nusername\npassword" in out
        # the saved password never reached an event
        credentials = "grep ^password= /etc/infrahaus/credentials/nginx.env"
        secret = (await _in_container(pve, "pve2", detail["vmid"], credentials)).strip()
        secret = secret.split("=", 1)[1]
        assert len(secret) >= 8
        assert not any(secret in e["message"] for e in streamed)


async def _in_container(pve: RunningSimulator, node: str, vmid: int, script: str) -> str:
    info = pve.info
    async with asyncssh.connect(
        "127.0.0.1", info["sshPorts"][node], username=info["sshUser"],
        password=info["sshPassword"], known_hosts=None, config=None, agent_path=None,
    ) as ssh:  # fmt: skip
        result = await ssh.run(
            shlex.join(["pct", "exec", str(vmid), "--", "bash", "-c", script]), check=False
        )
    return str(result.stdout)
