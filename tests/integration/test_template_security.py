"""Issue 12, items 6 and 7: discovery reads no links and nothing outside a template's
directory; only TEMPLATE_EDITORS change the shared library, everyone reads it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import insert

from services.api.app import create_app
from shared.core.settings import Settings
from shared.db import User, create_engine
from shared.domain.sessions import SessionStore
from tests.bearer import bearer_headers
from tests.integration.test_template_discovery import GOOD_CONF, write

SECRET = "the-secret-key-material-4711"


@pytest.fixture
async def editor(settings: Settings, scratch_dir: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(msgspec.structs.replace(settings, templates_dir=str(scratch_dir / "tpl")))
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        client.headers.update(await bearer_headers(settings))
        yield client


# -- item 6 -----------------------------------------------------------------------------------


def _template(root: Path, name: str) -> Path:
    write(root / name / "template.conf", GOOD_CONF.format(name=name))
    return root / name


async def test_discovery_refuses_links_and_reports_them(
    editor: AsyncTestClient[Litestar], scratch_dir: Path
) -> None:
    outside = scratch_dir / "outside"
    write(outside / "secret_keys", SECRET + "\n")
    write(outside / "template.conf", GOOD_CONF.format(name="linked-conf"))
    (outside / "etc").mkdir()
    write(outside / "etc" / "shadow", SECRET + "\n")
    root = scratch_dir / "tpl"
    marker = uuid.uuid4().hex[:6]

    good = _template(root, f"fine-{marker}")
    write(good / "files" / "motd", "hello\n")
    write(good / "files" / "motd.path", "/etc\n")

    linked_file = _template(root, f"file-link-{marker}")
    write(linked_file / "files" / "keys.path", "/etc\n")
    os.symlink(outside / "secret_keys", linked_file / "files" / "keys")

    linked_script = _template(root, f"script-link-{marker}")
    (linked_script / "scripts").mkdir()
    os.symlink(outside / "etc" / "shadow", linked_script / "scripts" / "10-x.sh")

    linked_dir = _template(root, f"dir-link-{marker}")
    os.symlink(outside / "etc", linked_dir / "files")

    linked_conf = root / f"conf-link-{marker}"
    linked_conf.mkdir(parents=True)
    os.symlink(outside / "template.conf", linked_conf / "template.conf")

    relative = _template(root, f"relative-{marker}")
    (relative / "packages").mkdir()
    os.symlink("../../../outside/secret_keys", relative / "packages" / "base.apt")

    os.symlink(outside, root / f"root-link-{marker}")

    response = await editor.post("/api/templates/discover")
    assert response.status_code == 200, response.text
    report = response.json()
    assert SECRET not in response.text
    errors = {e["template"]: e["error"] for e in report["errors"]}
    for name in ("file-link", "script-link", "dir-link", "conf-link", "relative", "root-link"):
        error = errors[f"{name}-{marker}"]
        assert "symbolic link" in error, (name, error)
    assert report["created"] == [f"fine-{marker}"]  # only the template without links
    listed = await editor.get("/api/templates", params={"search": marker})
    assert [item["name"] for item in listed.json()["items"]] == [f"fine-{marker}"]


# -- item 7 -----------------------------------------------------------------------------------


async def _session_of(settings: Settings, userid: str) -> dict[str, str]:
    user_id = uuid.uuid4()
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(User).values(
                    id=user_id, host_identity=f"t-{user_id}.invalid:8006", userid=userid
                )
            )
    finally:
        await engine.dispose()
    redis = Redis.from_url(settings.redis_url or "")
    try:
        session = await SessionStore(redis, 600).create(
            user_id=str(user_id), userid=userid, host=f"t-{user_id}.invalid", port=8006
        )
    finally:
        await redis.aclose()
    return {"Authorization": f"Bearer {session.bearer_token}"}


def _template_body(name: str) -> dict[str, Any]:
    return {"name": name, "osTemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"}


async def test_only_template_editors_change_the_library_and_everyone_reads_it(
    settings: Settings, scratch_dir: Path
) -> None:
    own = msgspec.structs.replace(
        settings, template_editors="root@pam, @admins", templates_dir=str(scratch_dir)
    )
    marker = uuid.uuid4().hex[:6]
    editor = await _session_of(settings, "root@pam")
    realm_editor = await _session_of(settings, "alice@admins")
    other_realm = await _session_of(settings, "alice@Admins")
    auditor = await _session_of(settings, "auditor@pve")
    async with AsyncTestClient(create_app(own), base_url="https://testserver.local") as client:
        created = await client.post(
            "/api/templates", json=_template_body(f"lib-{marker}"), headers=editor
        )
        assert created.status_code == 201, created.text
        template_id = created.json()["id"]
        bucket = await client.post(
            "/api/buckets", json={"name": f"b-{marker}"}, headers=realm_editor
        )
        assert bucket.status_code == 201, bucket.text
        bucket_id = bucket.json()["id"]

        refusals = [
            ("POST", "/api/templates", _template_body(f"evil-{marker}")),
            ("PATCH", f"/api/templates/{template_id}", {"description": "pwned"}),
            ("DELETE", f"/api/templates/{template_id}", None),
            ("POST", "/api/templates/discover", None),
            ("POST", "/api/buckets", {"name": f"evil-{marker}"}),
            ("PATCH", f"/api/buckets/{bucket_id}", {"name": f"evil2-{marker}"}),
            ("DELETE", f"/api/buckets/{bucket_id}", None),
            (
                "POST",
                f"/api/buckets/{bucket_id}/packages",
                {"packages": [{"manager": "apt", "name": "curl"}]},
            ),
            ("POST", f"/api/buckets/{bucket_id}/packages/remove", {"ids": [str(uuid.uuid4())]}),
        ]
        for method, path, body in refusals:
            response = await client.request(method, path, json=body, headers=auditor)
            assert response.status_code == 403, (method, path, response.text)
            assert "TEMPLATE_EDITORS" in response.json()["detail"]
        # reading stays open
        for path in (
            "/api/templates",
            f"/api/templates/{template_id}",
            "/api/buckets",
            f"/api/buckets/{bucket_id}",
        ):
            assert (await client.get(path, headers=auditor)).status_code == 200, path
        unchanged = (await client.get(f"/api/templates/{template_id}", headers=auditor)).json()
        assert unchanged["revision"] == created.json()["revision"]
        # names compare exactly, as in PVE: another realm's "alice" is not an editor
        other = await client.patch(
            f"/api/templates/{template_id}", json={"description": "x"}, headers=other_realm
        )
        assert other.status_code == 403
        patched = await client.patch(
            f"/api/templates/{template_id}", json={"description": "ok"}, headers=realm_editor
        )
        assert patched.status_code == 200, patched.text
