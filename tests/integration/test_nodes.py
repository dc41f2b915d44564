"""Node management against the simulator over real HTTPS and SSH, with real PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid

import httpx
import msgspec
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.adapters import ssh
from shared.core.crypto import generate_key
from shared.core.settings import Settings
from shared.db import Container, Node, create_engine, create_session_factory
from shared.dev.embedded import free_port
from tests.integration.helpers import Session, node_body
from tests.support import settings_environment


async def test_register_a_node_tests_it_pins_it_and_hides_secrets(
    alice: Session, pve: RunningSimulator
) -> None:
    response = await alice.call("POST", "/api/nodes", json=node_body(pve))
    assert response.status_code == 201, response.text
    node = response.json()
    assert node["name"] == "pve" and node["isDefault"] is True
    assert node["hasTokenSecret"] and node["hasSshPassword"] and not node["hasSshPrivateKey"]
    assert node["tlsFingerprint"] == pve.info["tlsFingerprint"]
    assert node["sshHostKeyFingerprint"].startswith("SHA256:")
    assert pve.info["tokenSecret"] not in response.text
    assert pve.info["sshPassword"] not in response.text
    assert "tokenSecret" not in node and "sshPassword" not in node

    second = await alice.call("POST", "/api/nodes", json=node_body(pve, "pve2"))
    assert second.status_code == 201 and second.json()["isDefault"] is False
    listed = (await alice.call("GET", "/api/nodes")).json()
    assert [n["name"] for n in listed] == ["pve", "pve2"]


async def test_registration_is_refused_when_the_connection_test_fails(
    alice: Session, pve: RunningSimulator
) -> None:
    unknown = await alice.call("POST", "/api/nodes", json={**node_body(pve), "name": "pve9"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "name"
    assert "pve, pve2, pve3" in unknown.json()["detail"]

    bad_token = await alice.call("POST", "/api/nodes", json=node_body(pve, tokenSecret="wrong"))
    assert bad_token.status_code == 422  # what the caller sent (issue 12 #8)
    assert bad_token.json()["errors"][0]["field"] == "tokenSecret"

    bad_ssh = await alice.call("POST", "/api/nodes", json=node_body(pve, sshPassword="wrong"))
    assert bad_ssh.status_code == 422
    assert bad_ssh.json()["errors"][0]["field"] == "sshPassword"

    wrong_pin = await alice.call("POST", "/api/nodes", json=node_body(pve, fingerprint="AB" * 32))
    assert wrong_pin.status_code == 422, wrong_pin.text
    assert wrong_pin.json()["errors"][0]["field"] == "fingerprint"

    assert (await alice.call("GET", "/api/nodes")).json() == []  # nothing half-saved


async def test_turning_ssh_on_for_an_unreachable_ssh_port_is_the_callers_422(
    alice: Session, pve: RunningSimulator
) -> None:
    """Found by the live schemathesis run: a node saved without SSH secrets keeps an sshPort
    nobody checked; the PATCH that sends a secret must not be a 503 for that port."""
    closed_port = free_port()  # nothing listens there
    body = node_body(pve, sshPort=closed_port)
    del body["sshPassword"]
    created = await alice.call("POST", "/api/nodes", json=body)
    assert created.status_code == 201, created.text
    node_id = created.json()["id"]
    patched = await alice.call(
        "PATCH", f"/api/nodes/{node_id}", json={"sshPassword": pve.info["sshPassword"]}
    )
    assert patched.status_code == 422, patched.text
    assert patched.json()["errors"][0]["field"] == "sshPort"
    assert (await alice.call("DELETE", f"/api/nodes/{node_id}")).status_code == 204


async def test_duplicate_names_conflict(alice: Session, pve: RunningSimulator) -> None:
    assert (await alice.call("POST", "/api/nodes", json=node_body(pve))).status_code == 201
    again = await alice.call("POST", "/api/nodes", json=node_body(pve))
    assert again.status_code == 409


async def test_update_keeps_or_changes_secrets_three_state(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    url = f"/api/nodes/{node['id']}"

    # tokenSecret omitted: the stored one is kept and used for the connection test
    kept = await alice.call("PATCH", url, json={"sshPort": pve.info["sshPorts"]["pve"]})
    assert kept.status_code == 200 and kept.json()["hasSshPassword"] is True

    cleared = await alice.call("PATCH", url, json={"sshPassword": ""})
    assert cleared.status_code == 200 and cleared.json()["hasSshPassword"] is False

    wrong = await alice.call("PATCH", url, json={"sshPassword": "not the password"})
    assert wrong.status_code == 422  # tested before saving...
    assert (await alice.call("GET", url)).json()["hasSshPassword"] is False  # ...so unchanged

    restored = await alice.call("PATCH", url, json={"sshPassword": pve.info["sshPassword"]})
    assert restored.status_code == 200 and restored.json()["hasSshPassword"] is True

    bad_secret = await alice.call("PATCH", url, json={"tokenSecret": "nope"})
    assert bad_secret.status_code == 422
    assert bad_secret.json()["errors"][0]["field"] == "tokenSecret"
    assert (await alice.call("POST", f"{url}/test")).json()["ok"] is True  # old secret kept


async def test_default_node_rules(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    first = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    second = (await alice.call("POST", "/api/nodes", json=node_body(pve, "pve2"))).json()
    made = await alice.call("POST", f"/api/nodes/{second['id']}/default")
    assert made.status_code == 200 and made.json()["isDefault"]
    defaults = [n["name"] for n in (await alice.call("GET", "/api/nodes")).json() if n["isDefault"]]
    assert defaults == ["pve2"]

    # deleting the default promotes the oldest remaining node
    assert (await alice.call("DELETE", f"/api/nodes/{second['id']}")).status_code == 204
    remaining = (await alice.call("GET", "/api/nodes")).json()
    assert [(n["id"], n["isDefault"]) for n in remaining] == [(first["id"], True)]


async def test_a_node_with_containers_cannot_be_deleted(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(
            Container.__table__.insert().values(
                id=uuid.uuid4(), node_id=uuid.UUID(node["id"]), created_by=uuid.UUID(alice.user_id),
                vmid=4242, hostname="busy", lifecycle="ready",
            )
        )  # fmt: skip
    await engine.dispose()
    refused = await alice.call("DELETE", f"/api/nodes/{node['id']}")
    assert refused.status_code == 409 and "container" in refused.json()["detail"]


async def test_connection_test_and_creation_form_data(
    alice: Session, pve: RunningSimulator, pve_admin: httpx.AsyncClient
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    base = f"/api/nodes/{node['id']}"
    report = (await alice.call("POST", f"{base}/test")).json()
    assert report["ok"] is True and report["pveVersion"] and report["latencyMs"] > 0

    storages = {s["storage"] for s in (await alice.call("GET", f"{base}/storages")).json()}
    assert {"local", "local-lvm"} <= storages
    bridges = [b["iface"] for b in (await alice.call("GET", f"{base}/bridges")).json()]
    assert "vmbr0" in bridges
    templates = [t["volid"] for t in (await alice.call("GET", f"{base}/os-templates")).json()]
    assert "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst" in templates

    await pve_admin.put("/faults/pve", json={"down": True})
    down = (await alice.call("POST", f"{base}/test")).json()
    assert down["ok"] is False and down["error"]
    unavailable = await alice.call("GET", f"{base}/storages")
    assert unavailable.status_code in (503, 504)


async def test_another_users_node_is_not_found_everywhere(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    base = f"/api/nodes/{node['id']}"
    attempts = [
        ("GET", base, None),
        ("PATCH", base, {"name": "pve2"}),
        ("DELETE", base, None),
        ("POST", f"{base}/default", None),
        ("POST", f"{base}/test", None),
        ("GET", f"{base}/storages", None),
        ("GET", f"{base}/bridges", None),
        ("GET", f"{base}/os-templates", None),
    ]
    for method, path, body in attempts:
        response = await bob.call(method, path, json=body) if body else await bob.call(method, path)
        assert response.status_code == 404, (method, path, response.text)
    assert (await bob.call("GET", "/api/nodes")).json() == []
    assert (await alice.call("GET", base)).status_code == 200  # untouched


async def test_secrets_are_ciphertext_at_rest_and_never_logged(
    alice: Session, pve: RunningSimulator, settings: Settings, capsys
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT token_secret_enc, ssh_password_enc FROM nodes WHERE id = :id"),
                {"id": node["id"]},
            )
        ).one()
    await engine.dispose()
    for stored, secret in zip(row, (pve.info["tokenSecret"], pve.info["sshPassword"]), strict=True):
        assert stored.startswith("v1.test.") and secret not in stored
    logged = capsys.readouterr()
    for secret in (pve.info["tokenSecret"], pve.info["sshPassword"]):
        assert secret not in logged.err and secret not in logged.out


async def test_key_rotation_reencrypts_and_the_node_still_connects(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    next_key = generate_key("next")
    rotated_keys = f"{next_key},{settings.secret_keys}"
    out, err = await _rotate_keys(msgspec.structs.replace(settings, secret_keys=rotated_keys))
    try:
        assert node["id"] not in err, err  # 1 is fine for rows of other tests' own keys
        changed = re.search(r"re-encrypted (\d+) secret\(s\) under key 'next'", out)
        assert changed is not None and int(changed[1]) >= 2, out
        engine = create_engine(settings, pooled=False)
        async with create_session_factory(engine)() as session:
            stored = await session.scalar(
                select(Node.token_secret_enc).where(Node.id == uuid.UUID(node["id"]))
            )
        await engine.dispose()
        assert stored is not None and stored.startswith("v1.next.")

        new_app = create_app(msgspec.structs.replace(settings, secret_keys=rotated_keys))
        async with AsyncTestClient(new_app, base_url="https://testserver.local") as client:
            report = await client.post(f"/api/nodes/{node['id']}/test", headers=alice.headers)
        assert report.json()["ok"] is True
    finally:
        # back under the session's own key: the API and worker processes of the session
        # never had "next", and later tests read what earlier ones stored
        await _rotate_keys(
            msgspec.structs.replace(settings, secret_keys=f"{settings.secret_keys},{next_key}")
        )


async def _rotate_keys(settings: Settings) -> tuple[str, str]:
    """`python -m shared.keys rotate`, the operator's command as the README gives it."""
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.keys", "rotate", env=settings_environment(settings),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await command.communicate()
    assert command.returncode in (0, 1), err.decode()  # 1: some row's key is not configured
    return out.decode(), err.decode()


async def test_hostile_arguments_reach_the_node_as_plain_data(
    pve: RunningSimulator, tmp_path
) -> None:
    """Everything sent over SSH goes through shlex.join: shell syntax stays text."""
    info = pve.info
    port = info["sshPorts"]["pve"]
    host_key = await ssh.fetch_host_key("127.0.0.1", port, 5)
    hostile = "x; touch /tmp/pwned-by-name $(touch /tmp/pwned-by-subst) `id`"
    async with await ssh.connect(
        "127.0.0.1", port, info["sshUser"], host_key=host_key, password=info["sshPassword"]
    ) as connection:
        echoed = await ssh.NodeSsh(connection).run(["echo", hostile])
        listing = await ssh.NodeSsh(connection).run(["ls", "/tmp"])
    assert echoed.exit_status == 0 and echoed.stdout == hostile + "\n"
    assert "pwned" not in listing.stdout


async def test_stored_secrets_never_follow_a_node_to_a_new_endpoint(
    alice: Session, pve: RunningSimulator
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve))).json()
    url = f"/api/nodes/{node['id']}"
    moved = await alice.call("PATCH", url, json={"host": "localhost"})
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "tokenSecret"
    repinned = await alice.call("PATCH", url, json={"fingerprint": pve.info["tlsFingerprint"]})
    assert repinned.status_code == 422
    ssh_moved = await alice.call(
        "PATCH", url, json={"host": "localhost", "tokenSecret": pve.info["tokenSecret"]}
    )
    assert ssh_moved.status_code == 422
    assert ssh_moved.json()["errors"][0]["field"] == "sshPassword"
    with_all = await alice.call(
        "PATCH",
        url,
        json={
            "host": "localhost",
            "tokenSecret": pve.info["tokenSecret"],
            "sshPassword": pve.info["sshPassword"],
        },
    )
    assert with_all.status_code == 200 and with_all.json()["host"] == "localhost"


async def test_refused_node_changes_are_audited(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    from shared.db import AuditEntry

    await alice.call("POST", "/api/nodes", json=node_body(pve, tokenSecret="wrong"))
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(AuditEntry.outcome, AuditEntry.detail).where(
                    AuditEntry.user_id == uuid.UUID(alice.user_id),
                    AuditEntry.action == "node.create",
                )
            )
        ).all()
    await engine.dispose()
    assert any(outcome == "failure" and "reason" in detail for outcome, detail in rows)
    assert all("wrong" != detail.get("reason") for _, detail in rows)
