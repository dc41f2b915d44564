"""Filesystem discovery through the API and the CLI, against a fixture tree in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared.core.settings import Settings
from tests.bearer import bearer_headers
from tests.support import settings_environment

GOOD_CONF = """\
# a comment, then the keys
TEMPLATE_APP="{name}"
TEMPLATE_DESCRIPTION="A good template"
TEMPLATE_TAGS="web;test"
TEMPLATE_CPU="${{TEMPLATE_CPU:-2}}"
TEMPLATE_RAM="${{TEMPLATE_RAM:-1024}}"
TEMPLATE_DISK=12
TEMPLATE_OS="${{TEMPLATE_OS:-debian}}"
TEMPLATE_VERSION="${{TEMPLATE_VERSION:-12}}"
TEMPLATE_UNPRIVILEGED="${{TEMPLATE_UNPRIVILEGED:-1}}"
TEMPLATE_NESTING="${{TEMPLATE_NESTING:-1}}"
TEMPLATE_KEYCTL='0'
TEMPLATE_FUSE=0
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def build_tree(root: Path, marker: str) -> dict[str, str]:
    """One good template, one with a malformed template.conf, one file without its .path."""
    good, broken, pathless = f"good-{marker}", f"broken-{marker}", f"pathless-{marker}"
    write(root / good / "template.conf", GOOD_CONF.format(name=good))
    write(root / good / "scripts" / "20-second.sh", "echo second\n")
    write(root / good / "scripts" / "10-first.sh", "echo first\n")
    write(root / good / "scripts" / "03-early.sh", "echo early\n")
    write(root / good / "scripts" / "README.md", "not a script\n")
    write(root / good / "packages" / "base.apt", "# web server\nnginx\ncurl=7.88.1  # pinned\n\n")
    write(root / good / "packages" / "base.pip", "flask==3.0.3\n")
    write(root / good / "packages" / "tools.npm", "@scope/cli@1.0.0\npm2\n")
    write(root / good / "files" / "app.conf", "key=value\n")
    write(root / good / "files" / "app.conf.path", "/etc/app\n")
    write(root / good / "files" / "app.conf.policy", "default\n")
    write(root / good / "files" / "motd", "hello\n")
    write(root / good / "files" / "motd.path", "/etc/\n")
    write(root / good / "files" / "old.cfg", "x\n")
    write(root / good / "files" / "old.cfg.path", "/opt/app")
    write(root / good / "files" / "old.cfg.policy", "backup")

    write(root / broken / "template.conf", 'TEMPLATE_APP="broken"\nthis is not an assignment\n')
    write(root / broken / "scripts" / "10-x.sh", "true\n")

    write(root / pathless / "template.conf", f'TEMPLATE_APP="{pathless}"\n')
    write(root / pathless / "files" / "lonely.conf", "no target\n")
    return {"good": good, "broken": broken, "pathless": pathless}


@pytest.fixture
async def api_for(settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(msgspec.structs.replace(settings, templates_dir=str(tmp_path)))
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        client.headers.update(await bearer_headers(settings))
        yield client


async def discover(api: AsyncTestClient[Litestar]) -> dict[str, Any]:
    response = await api.post("/api/templates/discover")
    assert response.status_code == 200, response.text
    return response.json()


async def find(api: AsyncTestClient[Litestar], name: str) -> dict[str, Any]:
    page = (await api.get("/api/templates", params={"search": name})).json()
    (item,) = [i for i in page["items"] if i["name"] == name]
    return (await api.get(f"/api/templates/{item['id']}")).json()


async def test_discovery_syncs_the_good_and_names_the_broken(
    api_for: AsyncTestClient[Litestar], tmp_path: Path
) -> None:
    names = build_tree(tmp_path, uuid.uuid4().hex[:8])

    first = await discover(api_for)
    assert first["discovered"] == 3
    assert first["created"] == [names["good"]]
    assert first["updated"] == first["unchanged"] == []
    errors = {e["template"]: e["error"] for e in first["errors"]}
    assert set(errors) == {names["broken"], names["pathless"]}
    assert "template.conf line 2" in errors[names["broken"]]
    assert "lonely.conf.path is missing" in errors[names["pathless"]]

    template = await find(api_for, names["good"])
    assert template["source"] == "filesystem" and template["revision"] == 1
    assert template["description"] == "A good template"
    assert template["tags"] == ["web", "test"]
    assert (template["cores"], template["memory"], template["disk"]) == (2, 1024, 12)
    assert template["osTemplate"] == "debian-12-standard"
    assert (template["unprivileged"], template["nesting"], template["keyctl"]) == (
        True,
        True,
        False,
    )
    assert [(s["name"], s["order"]) for s in template["scripts"]] == [
        ("03-early.sh", 3),
        ("10-first.sh", 10),
        ("20-second.sh", 20),
    ]
    assert template["scripts"][1]["content"] == "echo first\n"
    assert [(f["name"], f["targetPath"], f["policy"]) for f in template["files"]] == [
        ("app.conf", "/etc/app/app.conf", "default"),
        ("motd", "/etc/motd", "replace"),
        ("old.cfg", "/opt/app/old.cfg", "backup"),
    ]
    # unlike the original, a discovered template gets its buckets' packages
    assert sorted((p["manager"], p["name"], p["version"]) for p in template["packages"]) == [
        ("apt", "curl", "7.88.1"),
        ("apt", "nginx", None),
        ("npm", "@scope/cli", "1.0.0"),
        ("npm", "pm2", None),
        ("pip", "flask", "3.0.3"),
    ]
    # ... and the buckets themselves are stored for reuse, one per packages/<bucket>.*
    buckets = (await api_for.get("/api/buckets", params={"search": names["good"]})).json()
    assert [(b["name"], b["packageCount"]) for b in buckets["items"]] == [
        (f"{names['good']}/base", 3),
        (f"{names['good']}/tools", 2),
    ]

    # one audit row for the run, naming what it changed (the caller's own trail)
    trail = (await api_for.get("/api/audit", params={"action": "template.discover"})).json()
    assert trail["items"][0]["detail"]["created"] == [names["good"]]
    assert trail["items"][0]["detail"]["errors"] == 2

    second = await discover(api_for)
    assert second["unchanged"] == [names["good"]]
    assert second["created"] == second["updated"] == []
    assert len(second["errors"]) == 2
    assert (await find(api_for, names["good"]))["revision"] == 1


async def test_a_changed_directory_updates_the_template(
    api_for: AsyncTestClient[Litestar], tmp_path: Path
) -> None:
    names = build_tree(tmp_path, uuid.uuid4().hex[:8])
    await discover(api_for)
    write(tmp_path / names["good"] / "scripts" / "10-first.sh", "echo changed\n")
    (tmp_path / names["good"] / "files" / "motd").unlink()
    (tmp_path / names["good"] / "files" / "motd.path").unlink()
    write(tmp_path / names["good"] / "packages" / "base.apt", "nginx\n")
    write(tmp_path / names["broken"] / "template.conf", f'TEMPLATE_APP="{names["broken"]}"\n')

    report = await discover(api_for)
    assert report["updated"] == [names["good"]]
    assert report["created"] == [names["broken"]]
    template = await find(api_for, names["good"])
    assert template["revision"] == 2
    assert template["scripts"][1]["content"] == "echo changed\n"
    assert [f["name"] for f in template["files"]] == ["app.conf", "old.cfg"]
    assert ("apt", "curl") not in {(p["manager"], p["name"]) for p in template["packages"]}
    bucket = (await api_for.get("/api/buckets", params={"search": f"{names['good']}/base"})).json()
    assert bucket["items"][0]["packageCount"] == 2  # nginx (base.apt) and flask (base.pip)


async def test_discovery_does_not_overwrite_a_template_made_through_the_api(
    api_for: AsyncTestClient[Litestar], tmp_path: Path
) -> None:
    name = f"taken-{uuid.uuid4().hex[:8]}"
    created = await api_for.post("/api/templates", json={"name": name, "cores": 3})
    assert created.status_code == 201
    write(tmp_path / name / "template.conf", f'TEMPLATE_APP="{name}"\n')
    report = await discover(api_for)
    assert report["created"] == [] and report["errors"][0]["template"] == name
    assert "created through the API" in report["errors"][0]["error"]
    assert (await find(api_for, name))["cores"] == 3


async def test_a_missing_templates_directory_is_reported(
    settings: Settings, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    app = create_app(msgspec.structs.replace(settings, templates_dir=str(missing)))
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        client.headers.update(await bearer_headers(settings))
        report = await discover(client)
    assert report["discovered"] == 0
    assert report["errors"] == [
        {"template": str(missing), "error": "TEMPLATES_DIR is not a directory"}
    ]


def test_the_cli_prints_the_summary(settings: Settings, tmp_path: Path) -> None:
    names = build_tree(tmp_path, uuid.uuid4().hex[:8])
    env = settings_environment(settings)
    command = [sys.executable, "-m", "shared.templates", "--dir", str(tmp_path)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 1, first.stderr  # two templates are broken
    report = json.loads(first.stdout)
    assert report["created"] == [names["good"]] and len(report["errors"]) == 2
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(second.stdout)["unchanged"] == [names["good"]]


def test_the_shipped_templates_sync_cleanly(settings: Settings) -> None:
    """`templates/` in the repository: what the README walkthrough and the e2e tests use."""
    env = settings_environment(settings)
    shipped = Path(__file__).resolve().parents[2] / "templates"
    command = [sys.executable, "-m", "shared.templates", "--dir", str(shipped)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == [] and report["discovered"] >= 1
    assert "web-basic" in report["created"] + report["updated"] + report["unchanged"]
