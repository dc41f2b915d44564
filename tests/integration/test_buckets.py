"""/api/buckets: CRUD, bulk add and remove of packages, and what templates keep."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.core.settings import Settings
from tests.bearer import bearer_headers


@pytest.fixture
async def api(client: AsyncTestClient[Litestar], settings: Settings) -> AsyncTestClient[Litestar]:
    client.headers.update(await bearer_headers(settings))
    return client


def unique(prefix: str = "bkt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def packages_of(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(p["manager"], p["name"], p["version"]) for p in body["packages"]]


async def create(api: AsyncTestClient[Litestar], **body: Any) -> dict[str, Any]:
    response = await api.post("/api/buckets", json={"name": unique(), **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_read_update_delete(api: AsyncTestClient[Litestar]) -> None:
    created = await create(
        api,
        description="web basics",
        packages=[
            {"manager": "apt", "name": "nginx"},
            {"manager": "pip", "name": "gunicorn", "version": "22.0.0"},
            {"manager": "apt", "name": "nginx", "version": "1.0"},  # a repeat: first wins
        ],
    )
    assert created["description"] == "web basics"
    assert packages_of(created) == [("apt", "nginx", None), ("pip", "gunicorn", "22.0.0")]
    url = f"/api/buckets/{created['id']}"
    assert (await api.get(url)).json() == created

    renamed = await api.patch(url, json={"name": created["name"] + "-x"})
    assert renamed.status_code == 200
    body = renamed.json()
    assert body["name"] == created["name"] + "-x"
    assert body["description"] == "web basics" and body["packages"] == created["packages"]

    replaced = (await api.patch(url, json={"packages": [{"manager": "npm", "name": "pm2"}]})).json()
    assert packages_of(replaced) == [("npm", "pm2", None)]
    assert replaced["updatedAt"] >= created["updatedAt"]

    assert (await api.delete(url)).status_code == 204
    assert (await api.get(url)).status_code == 404
    assert (await api.delete(url)).status_code == 404


async def test_bulk_add_and_remove(api: AsyncTestClient[Litestar]) -> None:
    bucket = await create(api, packages=[{"manager": "apt", "name": "curl"}])
    url = f"/api/buckets/{bucket['id']}/packages"
    added = await api.post(
        url,
        json={
            "packages": [
                {"manager": "apt", "name": "curl", "version": "7.88.1"},  # takes the new version
                {"manager": "apt", "name": "jq"},
                {"manager": "npm", "name": "typescript"},
            ]
        },
    )
    assert added.status_code == 200, added.text
    body = added.json()
    assert packages_of(body) == [
        ("apt", "curl", "7.88.1"),
        ("apt", "jq", None),
        ("npm", "typescript", None),
    ]
    ids = {p["name"]: p["id"] for p in body["packages"]}
    removed = await api.post(
        f"{url}/remove", json={"packageIds": [ids["curl"], ids["typescript"], str(uuid.uuid4())]}
    )
    assert removed.status_code == 200, removed.text
    assert packages_of(removed.json()) == [("apt", "jq", None)]


async def test_packages_of_other_buckets_are_not_removed(api: AsyncTestClient[Litestar]) -> None:
    mine = await create(api, packages=[{"manager": "apt", "name": "curl"}])
    other = await create(api, packages=[{"manager": "apt", "name": "wget"}])
    response = await api.post(
        f"/api/buckets/{mine['id']}/packages/remove",
        json={"packageIds": [other["packages"][0]["id"]]},
    )
    assert packages_of(response.json()) == [("apt", "curl", None)]
    assert packages_of((await api.get(f"/api/buckets/{other['id']}")).json()) == [
        ("apt", "wget", None)
    ]


async def test_names_are_unique(api: AsyncTestClient[Litestar]) -> None:
    first, second = await create(api), await create(api)
    response = await api.post("/api/buckets", json={"name": first["name"]})
    assert response.status_code == 409
    rename = await api.patch(f"/api/buckets/{second['id']}", json={"name": first["name"]})
    assert rename.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "description": "d" * 501},
        {"name": "ok", "packages": [{"manager": "apt", "name": "a"}]},  # apt: 2+ characters
        {"name": "ok", "packages": [{"manager": "apt", "name": "curl", "version": "1 2"}]},
        {"name": "ok", "packages": [{"name": "curl"}]},
        {"name": "ok", "extra": True},
    ],
)
async def test_invalid_buckets_are_400(
    api: AsyncTestClient[Litestar], body: dict[str, Any]
) -> None:
    assert (await api.post("/api/buckets", json=body)).status_code == 400


async def test_list_search_and_page(api: AsyncTestClient[Litestar]) -> None:
    marker = uuid.uuid4().hex[:8]
    for suffix in ("b", "a"):
        await create(
            api, name=f"list-{marker}-{suffix}", packages=[{"manager": "apt", "name": "curl"}]
        )
    page = (await api.get("/api/buckets", params={"search": marker})).json()
    assert page["total"] == 2
    assert [(i["name"], i["packageCount"]) for i in page["items"]] == [
        (f"list-{marker}-a", 1),
        (f"list-{marker}-b", 1),
    ]
    second = (await api.get("/api/buckets", params={"search": marker, "offset": 1})).json()
    assert [i["name"] for i in second["items"]] == [f"list-{marker}-b"]
    assert (await api.get("/api/buckets", params={"limit": 101})).status_code == 400


async def test_missing_bucket_is_404_everywhere(api: AsyncTestClient[Litestar]) -> None:
    url = f"/api/buckets/{uuid.uuid4()}"
    assert (await api.get(url)).status_code == 404
    assert (await api.patch(url, json={"name": unique()})).status_code == 404
    assert (await api.post(f"{url}/packages", json={"packages": []})).status_code == 404
    assert (await api.post(f"{url}/packages/remove", json={"packageIds": []})).status_code == 404


async def test_deleting_a_bucket_keeps_the_templates_copies(
    api: AsyncTestClient[Litestar],
) -> None:
    bucket = await create(api, packages=[{"manager": "pip", "name": "requests"}])
    template = await api.post(
        "/api/templates", json={"name": unique("tpl"), "bucketIds": [bucket["id"]]}
    )
    assert template.status_code == 201
    assert (await api.delete(f"/api/buckets/{bucket['id']}")).status_code == 204
    kept = (await api.get(f"/api/templates/{template.json()['id']}")).json()
    assert packages_of(kept) == [("pip", "requests", None)]


async def test_buckets_need_a_login(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/api/buckets")).status_code == 401
