"""The creation pipeline end to end: API → queue → a real worker process → the simulator over
HTTPS and SSH, with events in PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import asyncssh
import pytest
from sqlalchemy import select

from services.pvesim.process import RunningSimulator
from shared.db import Container, ContainerEvent, create_engine
from shared.settings import Settings
from tests.integration.helpers import Session, node_body

pytestmark = pytest.mark.usefixtures("running_worker")

_vmids = itertools.count(7000)

NGINX_CONF = "server { listen 80; root /var/www/infrahaus; }\n"


def template_body(name: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "osTemplate": "debian-12-standard",
        "cores": 1,
        "memory": 256,
        "disk": 2,
        "storage": "local-lvm",
        "bridge": "vmbr0",
        "unprivileged": True,
        "nesting": True,
        "packages": [{"manager": "apt", "name": "nginx"}, {"manager": "pip", "name": "requests"}],
        "files": [
            {"name": "site.conf", "targetPath": "/etc/nginx/conf.d", "content": NGINX_CONF,
             "mode": "0640", "owner": "root:www-data", "policy": "replace"},
            {"name": "keep.txt", "targetPath": "/etc/infrahaus-test", "content": "from template\n",
             "policy": "default"},
            {"name": "old.txt", "targetPath": "/etc/infrahaus-test", "content": "new\n",
             "policy": "backup"},
        ],  # fmt: skip
        "scripts": [
            {"name": "10-credentials.sh", "order": 10, "content": (
                "#!/bin/bash\nset -eu\npw=$(generate_password 20)\n"
                "save_credential web password \"$pw\"\necho \"the password is $pw\"\n"
                "log_info 'saved'\n")},
            {"name": "20-nginx.sh", "order": 20, "content": (
                "#!/bin/bash\nset -eu\nsystemctl enable nginx\nsystemctl restart nginx\n"
                "for i in 1 2 3; do echo line $i; done\n")},
        ],  # fmt: skip
    }
    body.update(changes)
    return body


async def register(session: Session, pve: RunningSimulator, name: str = "pve") -> str:
    response = await session.call("POST", "/api/nodes", json=node_body(pve, name))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def make_template(session: Session, **changes: Any) -> str:
    name = f"pipeline-{uuid.uuid4().hex[:8]}"
    response = await session.call("POST", "/api/templates", json=template_body(name, **changes))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def wait_until_done(session: Session, container_id: str, limit: float = 120) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        detail = (await session.call("GET", f"/api/containers/{container_id}")).json()
        if detail["lifecycle"] in ("ready", "error"):
            return detail
        await asyncio.sleep(0.3)
    raise AssertionError(f"build still running after {limit} s: {detail}")


async def stored_events(settings: Settings, container_id: str) -> list[ContainerEvent]:
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(ContainerEvent)
            .where(ContainerEvent.container_id == uuid.UUID(container_id))
            .order_by(ContainerEvent.seq)
        )
        found = list(rows)
    await engine.dispose()
    return found


async def in_container(pve: RunningSimulator, node: str, vmid: int, command: str) -> str:
    info = pve.info
    async with asyncssh.connect(
        "127.0.0.1", info["sshPorts"][node], username=info["sshUser"],
        password=info["sshPassword"], known_hosts=None, config=None, agent_path=None,
    ) as connection:  # fmt: skip
        import shlex

        result = await connection.run(
            shlex.join(["pct", "exec", str(vmid), "--", "bash", "-c", command]), check=False
        )
    return str(result.stdout)


async def test_a_template_builds_to_ready_with_files_packages_and_scripts(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    template_id = await make_template(alice)
    vmid = next(_vmids)
    response = await alice.call(
        "POST", "/api/containers",
        json={"hostname": "web-01", "nodeId": node_id, "templateId": template_id, "vmid": vmid},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/containers/{body['id']}"
    assert body["eventsUrl"] == f"/api/containers/{body['id']}/events/stream"
    detail = await wait_until_done(alice, body["id"])
    events = await stored_events(settings, body["id"])
    messages = [e.message for e in events]
    assert detail["lifecycle"] == "ready", messages[-3:]
    assert detail["lastCompletedPhase"] == "finalizing"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "complete"
    steps = [e.step for e in events if e.type == "step"]
    assert steps.index("creating") < steps.index("starting") < steps.index("deploying")
    assert steps.index("deploying") < steps.index("syncing") < steps.index("finalizing")
    # script output lines carry the script's name and position
    lines = [e for e in events if e.script_name == "20-nginx.sh" and e.type == "log"]
    assert [e.message for e in lines if e.message.startswith("line")] == [
        "line 1", "line 2", "line 3",
    ]  # fmt: skip
    assert {(e.script_index, e.script_total) for e in lines} == {(2, 2)}
    # the credential's value never reaches an event
    password = (await in_container(pve, "pve", vmid, "cat /etc/infrahaus/credentials/web.env"))
    value = password.strip().split("=", 1)[1]
    assert len(value) == 20
    assert not any(value in m for m in messages)
    assert "the password is [redacted]" in messages
    mode = await in_container(
        pve, "pve", vmid, "stat -c '%a %U:%G' /etc/nginx/conf.d/site.conf /etc/infrahaus/credentials/web.env"
    )
    assert mode.split("\n")[:2] == ["640 root:www-data", "600 root:root"]
    assert "active" in await in_container(pve, "pve", vmid, "systemctl is-active nginx")
    assert "requests" in await in_container(pve, "pve", vmid, "/opt/infrahaus/venv/bin/pip list")
