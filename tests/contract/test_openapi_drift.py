"""The committed spec is exactly what the app serves."""

from __future__ import annotations

import json

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.api.openapi import EXPORT_COMMAND, SPEC_PATH


async def test_committed_spec_matches_the_served_one(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    served = response.json()
    committed = json.loads(SPEC_PATH.read_text())
    assert served == committed, (
        f"openapi/openapi.json is stale; regenerate it with: {EXPORT_COMMAND}"
    )


async def test_spec_is_openapi_3_1_with_stable_operation_ids(
    client: AsyncTestClient[Litestar],
) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    operation_ids = [
        operation["operationId"]
        for path in spec["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert operation_ids and len(operation_ids) == len(set(operation_ids))
    assert all(op_id[0].isupper() and op_id.isalnum() for op_id in operation_ids)


async def test_interactive_docs_page_is_served(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
