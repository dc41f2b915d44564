"""A request body must be sent as application/json. Litestar would decode any body as JSON
whatever its Content-Type; the API refuses text/plain, form and other media types with a 415
on every operation that takes a body (a cross-site HTML form can post those)."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.pvesim.process import RunningSimulator
from services.pvesim.testing import api_client
from shared.core.settings import Settings
from tests.bearer import bearer_headers
from tests.integration.helpers import node_body

NOT_JSON = ("text/plain", "application/x-www-form-urlencoded", "application/xml", "text/json")


@pytest.fixture
async def api(client: AsyncTestClient[Litestar], settings: Settings) -> AsyncTestClient[Litestar]:
    client.headers.update(await bearer_headers(settings))
    return client


async def test_a_valid_body_not_sent_as_json_is_a_415_and_changes_nothing(
    api: AsyncTestClient[Litestar],
) -> None:
    name = f"ct-{uuid.uuid4().hex[:10]}"
    body = json.dumps({"name": name})
    for media_type in NOT_JSON:
        refused = await api.post("/api/buckets", content=body, headers={"Content-Type": media_type})
        assert refused.status_code == 415, (media_type, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "application/json" in refused.json()["detail"]
    listed = await api.get("/api/buckets", params={"search": name})
    assert listed.json()["items"] == []
    # the same bytes as application/json (with a charset parameter) are accepted
    made = await api.post(
        "/api/buckets", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert made.status_code == 201, made.text


async def test_every_operation_with_a_body_refuses_other_media_types_and_documents_it(
    api: AsyncTestClient[Litestar],
) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    checked = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            assert "415" in operation["responses"], (method, path)
            url = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), path)
            response = await api.request(
                method.upper(), url, content=b"{}", headers={"Content-Type": "text/plain"}
            )
            assert response.status_code == 415, (method, path, response.text)
            checked.append(operation["operationId"])
    assert {"Login", "CreateNode", "CreateContainer", "UpdateTemplate"} <= set(checked), checked


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "ok", "packages": [{"manager": "apt", "name": "curl", "version": 7}]},
         "packages[0].version", "Expected `str | null`, got `int`"),
        ({"name": 5}, "name", "Expected `str`, got `int`"),
        ({"name": "ok", "extra": 1}, "data", "Object contains unknown field `extra`"),
        ([], "data", "Expected `object`, got `array`"),
    ],
)  # fmt: skip
async def test_body_errors_name_the_field_as_before(
    api: AsyncTestClient[Litestar], body: object, field: str, message: str
) -> None:
    refused = await api.post("/api/buckets", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"] == [{"message": message, "field": field, "source": "body"}]


async def test_a_body_must_have_the_types_the_spec_declares(
    api: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    """msgspec's lax conversion (Litestar's default) took `"101"` and `"true"` for an integer
    or a boolean; the spec says integer and boolean, so they are 400s naming the field. A
    string VMID once adopted the simulator's seeded CT 101 past a test hook that only rewrote
    integers. `8669.0` is an integer to JSON Schema and is taken as one."""
    node = await api.post("/api/nodes", json=node_body(pve))
    assert node.status_code == 201, node.text
    adopt = f"/api/nodes/{node.json()['id']}/adopt"
    for vmid in ("101", 101.5, "0x65", True):
        refused = await api.post(adopt, json={"vmid": vmid})
        assert refused.status_code == 400, (vmid, refused.text)
        assert refused.json()["errors"][0]["field"] == "vmid"
    no_guest = await api.post(adopt, json={"vmid": 8669.0})  # valid, and no guest has it
    assert no_guest.status_code == 422, no_guest.text
    assert "VMID 8669 " in no_guest.json()["detail"]
    created = await api.post(
        "/api/containers",
        json={"hostname": "strict-01", "nodeId": node.json()["id"], "templateId": str(uuid.uuid4()),
              "cleanupOnFailure": "true"},
    )  # fmt: skip
    assert created.status_code == 400, created.text
    assert created.json()["errors"][0]["field"] == "cleanupOnFailure"
    async with api_client(pve.info) as pve_api:  # the seeded guest is untouched
        config = (await pve_api.get("/nodes/pve/lxc/101/config")).json()["data"]
        assert "infrahaus-build" not in str(config.get("description", ""))
