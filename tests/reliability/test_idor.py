"""IDOR sweep generated from the OpenAPI document: every operation whose path names a node or a
container (the event stream included), called by user B on user A's objects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from tests.figures import record
from tests.integration.helpers import Session
from tests.integration.test_containers import our_row
from tests.integration.test_pipeline import register

pytestmark = pytest.mark.reliability

SPEC = json.loads((Path(__file__).parents[2] / "openapi" / "openapi.json").read_text())
OWNED = ("{node_id}", "{container_id}")


async def test_no_route_serves_user_a_objects_to_user_b(
    alice: Session, bob: Session, pve: RunningSimulator, settings: Settings, api_server: str
) -> None:
    node_id = await register(alice, pve)
    container_id = await our_row(settings, alice, node_id, 7731)
    values = {"node_id": node_id, "container_id": container_id, "vmid": "7731", "name": "nginx"}
    routes = [
        (method.upper(), path)
        for path, ops in SPEC["paths"].items()
        for method in ops
        if any(owned in path for owned in OWNED)
    ]
    assert len(routes) >= 20, routes  # the sweep follows the document; it must find them
    leaking: list[str] = []
    async with httpx.AsyncClient(base_url=api_server, timeout=30) as http:
        # the control: user A reads her own objects through the same process
        for own in (f"/api/nodes/{node_id}", f"/api/containers/{container_id}"):
            assert (await http.get(own, headers=alice.headers)).status_code == 200
        for method, path in routes:
            url = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)
            body = None if method in ("GET", "DELETE") else {}
            async with http.stream(method, url, json=body, headers=bob.headers) as answer:
                # a refusal names the path it refused (`instance`), never her container's data
                text = "" if answer.status_code < 400 else (await answer.aread()).decode()
                if answer.status_code < 400 or "ct7731" in text:
                    leaking.append(f"{method} {path} {answer.status_code}")
    # and nothing was done to her objects meanwhile
    async with httpx.AsyncClient(base_url=api_server, timeout=30) as http:
        for own in (f"/api/nodes/{node_id}", f"/api/containers/{container_id}"):
            assert (await http.get(own, headers=alice.headers)).status_code == 200
    record("IDOR sweep from the OpenAPI document", "routes swept", len(routes))
    record("IDOR sweep from the OpenAPI document", "routes leaking", len(leaking), 0)
    assert leaking == []
