"""/api/templates: CRUD, the validation rules, PATCH semantics and revisions."""

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


def unique(prefix: str = "tpl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def template_body(name: str | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": unique() if name is None else name,
        "description": "a test template",
        "osTemplate": "debian-12-standard",
        "cores": 2,
        "memory": 1024,
        "swap": 256,
        "disk": 10,
        "tags": ["web", "test"],
        "nesting": True,
        "scripts": [
            {"name": "20-second.sh", "order": 20, "content": "echo two\n"},
            {"name": "10-first.sh", "order": 10, "content": "echo one\n"},
            {"name": "30-off.sh", "order": 30, "content": "exit 1\n", "enabled": False},
        ],
        "files": [
            {
                "name": "app.conf",
                "targetPath": "/etc/app/app.conf",
                "content": "key=value\n",
                "mode": "640",
                "owner": "root:adm",
                "policy": "default",
            },
            {"name": "motd", "targetPath": "/etc/motd", "content": "hello\n"},
        ],
        "packages": [
            {"manager": "apt", "name": "nginx"},
            {"manager": "pip", "name": "Flask", "version": "3.0.3"},
            {"manager": "npm", "name": "@scope/tool", "version": "1.2.0"},
        ],
    }
    body.update(changes)
    return body


async def create(api: AsyncTestClient[Litestar], **changes: Any) -> dict[str, Any]:
    response = await api.post("/api/templates", json=template_body(**changes))
    assert response.status_code == 201, response.text
    return response.json()


async def create_bucket(api: AsyncTestClient[Litestar], packages: list[dict[str, Any]]) -> str:
    response = await api.post("/api/buckets", json={"name": unique("bkt"), "packages": packages})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_create_and_read_a_template(api: AsyncTestClient[Litestar]) -> None:
    created = await create(api)
    assert created["revision"] == 1
    assert created["source"] == "api"
    assert created["tags"] == ["web", "test"]
    assert [s["name"] for s in created["scripts"]] == ["10-first.sh", "20-second.sh", "30-off.sh"]
    assert [s["enabled"] for s in created["scripts"]] == [True, True, False]
    files = {f["name"]: f for f in created["files"]}
    assert files["app.conf"]["mode"] == "0640"  # octal, stored with four digits
    assert files["app.conf"]["policy"] == "default"
    assert files["motd"] == {
        **files["motd"],
        "mode": "0644",
        "owner": "root:root",
        "policy": "replace",
    }
    assert {(p["manager"], p["name"], p["version"]) for p in created["packages"]} == {
        ("apt", "nginx", None),
        ("pip", "Flask", "3.0.3"),
        ("npm", "@scope/tool", "1.2.0"),
    }
    fetched = await api.get(f"/api/templates/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_defaults_apply_to_a_minimal_template(api: AsyncTestClient[Litestar]) -> None:
    response = await api.post("/api/templates", json={"name": unique()})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["cores"], body["memory"], body["swap"], body["disk"]) == (1, 512, 512, 8)
    assert (body["storage"], body["bridge"], body["unprivileged"]) == ("local-lvm", "vmbr0", True)
    assert body["scripts"] == body["files"] == body["packages"] == []


async def test_buckets_are_copied_and_deduplicated(api: AsyncTestClient[Litestar]) -> None:
    first = await create_bucket(
        api, [{"manager": "apt", "name": "curl"}, {"manager": "apt", "name": "nginx"}]
    )
    second = await create_bucket(
        api,
        [{"manager": "apt", "name": "curl", "version": "7.88"}, {"manager": "pip", "name": "rich"}],
    )
    created = await create(
        api,
        packages=[{"manager": "apt", "name": "nginx", "version": "1.22.1-9"}],
        bucketIds=[first, second],
    )
    assert sorted((p["manager"], p["name"], p["version"]) for p in created["packages"]) == [
        ("apt", "curl", None),  # the first bucket's entry wins over the second's
        ("apt", "nginx", "1.22.1-9"),  # the template's own entry wins over the bucket's
        ("pip", "rich", None),
    ]
    # a copy, not a link: emptying the bucket leaves the template alone
    await api.patch(f"/api/buckets/{first}", json={"packages": []})
    again = (await api.get(f"/api/templates/{created['id']}")).json()
    assert len(again["packages"]) == 3


async def test_unknown_bucket_is_404(api: AsyncTestClient[Litestar]) -> None:
    response = await api.post("/api/templates", json=template_body(bucketIds=[str(uuid.uuid4())]))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_names_are_unique(api: AsyncTestClient[Litestar]) -> None:
    name = unique()
    await create(api, name=name)
    response = await api.post("/api/templates", json=template_body(name=name))
    assert response.status_code == 409
    assert name in response.json()["detail"]


async def test_duplicate_script_or_file_names_are_409(api: AsyncTestClient[Litestar]) -> None:
    scripts = [{"name": "a.sh", "order": 1}, {"name": "a.sh", "order": 2}]
    response = await api.post("/api/templates", json=template_body(scripts=scripts))
    assert response.status_code == 409
    assert "a.sh" in response.json()["detail"]
    files = [{"name": "x", "targetPath": "/x"}, {"name": "x", "targetPath": "/y"}]
    response = await api.post("/api/templates", json=template_body(files=files))
    assert response.status_code == 409


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "x" * 101},
        {"name": ""},
        {"name": "tab\there"},
        {"description": "d" * 501},
        {"cores": 0},
        {"cores": 65},
        {"memory": 127},
        {"memory": 131073},
        {"swap": -1},
        {"swap": 131073},
        {"disk": 0},
        {"disk": 10001},
        {"tags": ["has space"]},
        {"osTemplate": "../../etc/passwd"},
        {"scripts": [{"name": "../evil.sh", "order": 1}]},
        {"scripts": [{"name": "dir/evil.sh", "order": 1}]},
        {"scripts": [{"name": ".hidden.sh", "order": 1}]},
        {"scripts": [{"name": "ok.sh", "order": -1}]},
        {"scripts": [{"name": "ok.sh", "order": 10000}]},
        {"files": [{"name": "f", "targetPath": "relative/path"}]},
        {"files": [{"name": "f", "targetPath": "/etc/../shadow"}]},
        {"files": [{"name": "f", "targetPath": "/etc/./x"}]},
        {"files": [{"name": "f", "targetPath": "/etc//x"}]},
        {"files": [{"name": "f", "targetPath": "/etc/x/"}]},
        {"files": [{"name": "f", "targetPath": "/"}]},
        {"files": [{"name": "f", "targetPath": "/x", "mode": "0999"}]},
        {"files": [{"name": "f", "targetPath": "/x", "mode": "rw-r--r--"}]},
        {"files": [{"name": "f", "targetPath": "/x", "policy": "merge"}]},
        {"files": [{"name": "f", "targetPath": "/x", "owner": "root;rm -rf /"}]},
        {"files": [{"name": "f", "targetPath": "/x", "content": "nul\x00"}]},
        {"packages": [{"manager": "apt", "name": "Nginx"}]},
        {"packages": [{"manager": "apt", "name": "nginx; rm -rf /"}]},
        {"packages": [{"manager": "pip", "name": "-e git+https://x"}]},
        {"packages": [{"manager": "npm", "name": "UPPER"}]},
        {"packages": [{"manager": "npm", "name": "ok", "version": "$(reboot)"}]},
        {"packages": [{"manager": "brew", "name": "wget"}]},
        {"unknownField": 1},
    ],
)
async def test_invalid_templates_are_400(
    api: AsyncTestClient[Litestar], changes: dict[str, Any]
) -> None:
    response = await api.post("/api/templates", json=template_body(**changes))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_limits_are_inclusive(api: AsyncTestClient[Litestar]) -> None:
    for changes in (
        {"cores": 64, "memory": 131072, "swap": 131072, "disk": 10000},
        {"cores": 1, "memory": 128, "swap": 0, "disk": 1, "description": "d" * 500},
    ):
        response = await api.post("/api/templates", json=template_body(**changes))
        assert response.status_code == 201, response.text
    response = await api.post(
        "/api/templates", json=template_body(name="n" * 90 + uuid.uuid4().hex[:10])
    )
    assert response.status_code == 201


async def test_patch_changes_only_what_is_sent(api: AsyncTestClient[Litestar]) -> None:
    created = await create(api)
    url = f"/api/templates/{created['id']}"

    response = await api.patch(url, json={"cores": 4})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["cores"] == 4 and after["revision"] == 2
    for kept in ("scripts", "files", "packages", "memory", "tags", "name"):
        assert after[kept] == created[kept]

    replaced = await api.patch(url, json={"scripts": [{"name": "01-only.sh", "order": 1}]})
    body = replaced.json()
    assert [s["name"] for s in body["scripts"]] == ["01-only.sh"]
    assert body["files"] == created["files"] and body["packages"] == created["packages"]
    assert body["revision"] == 3

    emptied = (await api.patch(url, json={"files": [], "tags": []})).json()
    assert emptied["files"] == [] and emptied["tags"] == []
    assert emptied["revision"] == 4


async def test_a_patch_that_changes_nothing_keeps_the_revision(
    api: AsyncTestClient[Litestar],
) -> None:
    created = await create(api)
    url = f"/api/templates/{created['id']}"
    same_scripts = [
        {key: s[key] for key in ("name", "order", "content", "enabled")}
        for s in reversed(created["scripts"])  # order of the list does not matter
    ]
    for body in (
        {},
        {"cores": created["cores"]},
        {"scripts": same_scripts, "tags": ["web", "test", "web"]},
    ):
        response = await api.patch(url, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["revision"] == 1


async def test_patch_with_buckets_adds_their_packages(api: AsyncTestClient[Litestar]) -> None:
    created = await create(api)
    bucket = await create_bucket(
        api, [{"manager": "apt", "name": "nginx", "version": "9"}, {"manager": "apt", "name": "jq"}]
    )
    response = await api.patch(f"/api/templates/{created['id']}", json={"bucketIds": [bucket]})
    body = response.json()
    packages = {(p["manager"], p["name"]): p["version"] for p in body["packages"]}
    assert packages[("apt", "jq")] is None
    assert packages[("apt", "nginx")] is None  # the template's own nginx stays as it was
    assert len(packages) == 4 and body["revision"] == 2

    replaced = await api.patch(
        f"/api/templates/{created['id']}", json={"packages": [], "bucketIds": [bucket]}
    )
    assert sorted(p["name"] for p in replaced.json()["packages"]) == ["jq", "nginx"]


async def test_patch_errors(api: AsyncTestClient[Litestar]) -> None:
    first, second = await create(api), await create(api)
    url = f"/api/templates/{second['id']}"
    assert (await api.patch(url, json={"name": first["name"]})).status_code == 409
    assert (await api.patch(url, json={"memory": 64})).status_code == 400
    assert (await api.patch(url, json={"bucketIds": [str(uuid.uuid4())]})).status_code == 404
    missing = f"/api/templates/{uuid.uuid4()}"
    assert (await api.patch(missing, json={"cores": 2})).status_code == 404
    assert (await api.get(url)).json()["revision"] == 1


async def test_list_search_filter_sort_and_page(api: AsyncTestClient[Litestar]) -> None:
    marker = uuid.uuid4().hex[:8]
    tag = f"t{marker}"
    names = [f"list-{marker}-{suffix}" for suffix in ("b", "a", "c")]
    for name in names:
        await create(api, name=name, tags=[tag])
    await create(api, name=f"list-{marker}-untagged", tags=[])

    response = await api.get("/api/templates", params={"search": marker.upper(), "tag": tag})
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 3 and (page["limit"], page["offset"]) == (50, 0)
    assert [item["name"] for item in page["items"]] == sorted(names)
    item = page["items"][0]
    assert (item["scriptCount"], item["fileCount"], item["packageCount"]) == (3, 2, 3)
    assert "scripts" not in item

    descending = await api.get(
        "/api/templates", params={"search": marker, "tag": tag, "sort": "-name", "limit": 2}
    )
    assert [i["name"] for i in descending.json()["items"]] == sorted(names, reverse=True)[:2]
    rest = await api.get(
        "/api/templates", params={"search": marker, "tag": tag, "sort": "-name", "offset": 2}
    )
    assert [i["name"] for i in rest.json()["items"]] == [sorted(names)[0]]
    by_creation = await api.get("/api/templates", params={"tag": tag, "sort": "createdAt"})
    assert [i["name"] for i in by_creation.json()["items"]] == names


async def test_search_treats_wildcards_literally(api: AsyncTestClient[Litestar]) -> None:
    marker = uuid.uuid4().hex[:8]
    await create(api, name=f"pct-{marker}-100%_done")
    await create(api, name=f"pct-{marker}-100x")
    found = (await api.get("/api/templates", params={"search": f"{marker}-100%_"})).json()
    assert [i["name"] for i in found["items"]] == [f"pct-{marker}-100%_done"]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"sort": "bogus"}, {"tag": "a b"}]
)
async def test_invalid_list_parameters_are_400(
    api: AsyncTestClient[Litestar], params: dict[str, Any]
) -> None:
    assert (await api.get("/api/templates", params=params)).status_code == 400


async def test_delete(api: AsyncTestClient[Litestar]) -> None:
    created = await create(api)
    url = f"/api/templates/{created['id']}"
    assert (await api.delete(url)).status_code == 204
    assert (await api.get(url)).status_code == 404
    assert (await api.delete(url)).status_code == 404
    assert (await api.patch(url, json={"cores": 2})).status_code == 404


async def test_templates_need_a_login(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/api/templates")).status_code == 401
    assert (await client.post("/api/templates", json=template_body())).status_code == 401
