"""Secrets sweep after a full session through the real processes: the node's token secret, its
SSH password, a service credential saved by a script and the session's bearer token are found
in no response (but the credentials route's own), no log line, no event and no database row."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.dev.embedded import free_port
from tests.figures import record
from tests.integration.helpers import forget_nodes, node_body
from tests.integration.test_pipeline import template_body
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

pytestmark = pytest.mark.reliability


async def test_no_secret_is_found_in_responses_logs_events_or_the_database(
    settings: Settings, pve: RunningSimulator, scratch_dir: Path
) -> None:
    port = free_port()
    own = msgspec.structs.replace(
        settings, api_port=port, queue_name=f"secrets-{uuid.uuid4().hex[:8]}"
    )
    env = settings_environment(own)
    worker = start_process("services.worker", env, scratch_dir / "worker.log")
    api = start_process("services.api", env, scratch_dir / "api.log")
    bodies: list[str] = []
    try:
        await asyncio.wait_for(wait_for_worker(own.redis_url or "", own.queue_name), 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and api.poll() is None
                await asyncio.sleep(0.2)
            user = pve.info["users"][0]
            login = await http.post("/api/auth/login", json={
                "host": "127.0.0.1", "port": httpx.URL(pve.info["apiUrl"]).port,
                "username": user["username"], "realm": user["realm"], "password": user["password"],
            })  # fmt: skip
            assert login.status_code == 200, login.text
            token = login.json()["token"]
            http.headers["Authorization"] = f"Bearer {token}"
            http.cookies.clear()

            async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
                answer = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
                bodies.append(f"{answer.headers}\n{answer.text}")
                return answer

            # what an earlier test left (a node is not deletable while it holds containers)
            await forget_nodes(own, login.json()["user"]["id"])
            node = await call("POST", "/api/nodes", json=node_body(pve))
            assert node.status_code == 201, node.text
            node_id = node.json()["id"]
            # the script makes the secret up on the node: only the build ever sees it
            content = "#!/bin/bash\nset -eu\nsave_credential app password $(generate_password 24)\n"
            script = {"name": "10-cred.sh", "order": 10, "content": content}
            name = f"secrets-{uuid.uuid4().hex[:6]}"
            template = await call("POST", "/api/templates", json=template_body(
                name, packages=[], files=[], scripts=[script]))  # fmt: skip
            assert template.status_code == 201, template.text
            created = await call("POST", "/api/containers", json={
                "hostname": "secrets", "nodeId": node_id, "templateId": template.json()["id"],
                "vmid": 7936})  # fmt: skip
            assert created.status_code == 202, created.text
            container_id = created.json()["id"]
            deadline = time.monotonic() + 90
            while (detail := await call("GET", f"/api/containers/{container_id}")).json()[
                "lifecycle"
            ] == "creating":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.3)
            assert detail.json()["lifecycle"] == "ready", detail.text
            for path in ("", "/events", "/services"):
                await call("GET", f"/api/containers/{container_id}{path}")
            await call("GET", f"/api/nodes/{node_id}")
            await call("POST", f"/api/nodes/{node_id}/test")
            # the one place it is meant to be: its own route (not swept)
            shown = await http.get(f"/api/containers/{container_id}/services/app/credentials")
            assert shown.status_code == 200, shown.text
            credential = shown.json()["values"]["password"]
            assert len(credential) == 24, shown.text
            await call("DELETE", f"/api/nodes/{node_id}")
    finally:
        stop_process(api)
        stop_process(worker)
    connection = await asyncpg.connect(own.database_url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        dump = [
            # table names come from pg_tables, not from input
            str(await connection.fetch(f'SELECT row_to_json(t)::text FROM "{row[0]}" t'))  # noqa: S608
            for row in tables
        ]
    finally:
        await connection.close()
    haystacks = {
        "responses": "\n".join(bodies),
        "logs": (scratch_dir / "api.log").read_text() + (scratch_dir / "worker.log").read_text(),
        "database rows (events included)": "\n".join(dump),
    }
    secrets = {
        "node token": pve.info["tokenSecret"], "SSH password": pve.info["sshPassword"],
        "service credential": credential, "session token": token,
    }  # fmt: skip
    found = [f"{name} in {where}" for name, secret in secrets.items()
             for where, text in haystacks.items() if secret in text]  # fmt: skip
    record("secrets sweep after a full session", "secrets found", len(found), 0)
    assert found == [], found
