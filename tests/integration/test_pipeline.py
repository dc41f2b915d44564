"""The creation pipeline end to end: API → queue → a real worker process → the simulator over
HTTPS and SSH, with events in PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path
from typing import Any

import asyncssh
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.db import ContainerEvent, create_engine
from tests.integration.helpers import Session, forget_nodes, login, node_body
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

pytestmark = pytest.mark.usefixtures("running_worker")

# Explicit VMIDs far from 100: the simulator is shared by the session, and other tests expect
# the low ids free. The one test of automatic allocation deletes what it made.
_vmids = itertools.count(7000)

NGINX_CONF = "server { listen 80; root /var/www/infrahaus; }\n"


def template_body(name: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "osTemplate": "debian-12-standard",
        "cores": 1,
        "memory": 256,
        "disk": 2,
        "storage": "local-lvm",
        "bridge": "vmbr0",
        "unprivileged": True,
        "nesting": True,
        "packages": [{"manager": "apt", "name": "nginx"}, {"manager": "pip", "name": "requests"}],
        "files": [
            {
                "name": "site.conf",
                "targetPath": "/etc/nginx/conf.d",
                "content": NGINX_CONF,
                "mode": "0640",
                "owner": "root:www-data",
                "policy": "replace",
            },
            {
                # exists in the image: kept as it is
                "name": "hosts",
                "targetPath": "/etc",
                "content": "from template\n",
                "policy": "default",
            },
            {
                # exists in the image: moved aside, then written
                "name": "hostname",
                "targetPath": "/etc",
                "content": "from-template\n",
                "policy": "backup",
            },
        ],
        "scripts": [
            {
                "name": "10-credentials.sh",
                "order": 10,
                "content": (
                    "#!/bin/bash\nset -eu\npw=$(generate_password 20)\n"
                    'save_credential web password "$pw"\necho "the password is $pw"\n'
                    "log_info 'saved'\n"
                ),
            },
            {
                "name": "20-nginx.sh",
                "order": 20,
                "content": (
                    "#!/bin/bash\nset -eu\nsystemctl enable nginx\nsystemctl restart nginx\n"
                    "for i in 1 2 3; do echo line $i; done\n"
                ),
            },
        ],
    }
    body.update(changes)
    return body


async def register(session: Session, pve: RunningSimulator, name: str = "pve") -> str:
    response = await session.call("POST", "/api/nodes", json=node_body(pve, name))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def make_template(session: Session, **changes: Any) -> str:
    name = f"pipeline-{uuid.uuid4().hex[:8]}"
    response = await session.call("POST", "/api/templates", json=template_body(name, **changes))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def wait_until_done(session: Session, container_id: str, limit: float = 120) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        response = await session.call("GET", f"/api/containers/{container_id}")
        assert response.status_code == 200, response.text
        detail = response.json()
        if detail["lifecycle"] in ("ready", "error"):
            return detail
        await asyncio.sleep(0.3)
    raise AssertionError(f"build still running after {limit} s: {detail}")


async def stored_events(settings: Settings, container_id: str) -> list[ContainerEvent]:
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(ContainerEvent)
            .where(ContainerEvent.container_id == uuid.UUID(container_id))
            .order_by(ContainerEvent.seq)
        )
        found = list(rows)
    await engine.dispose()
    return found


async def in_container(pve: RunningSimulator, node: str, vmid: int, command: str) -> str:
    info = pve.info
    async with asyncssh.connect(
        "127.0.0.1", info["sshPorts"][node], username=info["sshUser"],
        password=info["sshPassword"], known_hosts=None, config=None, agent_path=None,
    ) as connection:  # fmt: skip
        import shlex

        result = await connection.run(
            shlex.join(["pct", "exec", str(vmid), "--", "bash", "-c", command]), check=False
        )
    return str(result.stdout)


async def test_a_template_builds_to_ready_with_files_packages_and_scripts(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    template_id = await make_template(alice)
    vmid = next(_vmids)
    response = await alice.call(
        "POST", "/api/containers",
        json={"hostname": "web-01", "nodeId": node_id, "templateId": template_id, "vmid": vmid},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/containers/{body['id']}"
    assert body["eventsUrl"] == f"/api/containers/{body['id']}/events/stream"
    detail = await wait_until_done(alice, body["id"])
    events = await stored_events(settings, body["id"])
    messages = [e.message for e in events]
    assert detail["lifecycle"] == "ready", messages[-3:]
    assert detail["lastCompletedPhase"] == "finalizing"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "complete"
    steps = [e.step for e in events if e.type in ("step", "complete")]
    assert steps.index("creating") < steps.index("starting") < steps.index("deploying")
    assert steps.index("deploying") < steps.index("syncing") < steps.index("finalizing")
    # script output lines carry the script's name and position
    lines = [e for e in events if e.script_name == "20-nginx.sh" and e.type == "log"]
    assert [e.message for e in lines if e.message.startswith("line")] == [
        "line 1", "line 2", "line 3",
    ]  # fmt: skip
    assert {(e.script_index, e.script_total) for e in lines} == {(2, 2)}
    # the credential's value never reaches an event
    password = await in_container(pve, "pve", vmid, "cat /etc/infrahaus/credentials/web.env")
    value = password.strip().split("=", 1)[1]
    assert len(value) == 20
    assert not any(value in m for m in messages)
    assert "the password is [redacted]" in messages
    mode = await in_container(
        pve,
        "pve",
        vmid,
        "stat -c '%a %U:%G' /etc/nginx/conf.d/site.conf /etc/infrahaus/credentials/web.env",
    )
    assert mode.split("\n")[:2] == ["640 root:www-data", "600 root:root"]
    assert "active" in await in_container(pve, "pve", vmid, "systemctl is-active nginx")
    assert "requests" in await in_container(pve, "pve", vmid, "/opt/infrahaus/venv/bin/pip list")
    # file policies: `default` kept the image's file, `backup` moved the old one aside
    hosts = await in_container(pve, "pve", vmid, "cat /etc/hosts")
    assert "localhost" in hosts and "from template" not in hosts
    assert await in_container(pve, "pve", vmid, "cat /etc/hostname") == "from-template\n"
    backups = await in_container(pve, "pve", vmid, "cat /etc/hostname.infrahaus-backup-*")
    assert backups == "web-01\n"


async def create(session: Session, **body: Any) -> dict[str, Any]:
    body.setdefault("vmid", next(_vmids))
    response = await session.call("POST", "/api/containers", json=body)
    assert response.status_code == 202, response.text
    return response.json()


async def test_a_failing_script_fails_the_build_and_retry_after_the_fix_completes(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    broken = {"name": "10-broken.sh", "order": 10, "content": "#!/bin/bash\necho before\nexit 3\n"}
    template_id = await make_template(alice, packages=[], files=[], scripts=[broken])
    built = await create(alice, hostname="retry-01", nodeId=node_id, templateId=template_id)
    detail = await wait_until_done(alice, built["id"])
    assert detail["lifecycle"] == "error"
    assert detail["failedPhase"] == "syncing"
    assert detail["lastCompletedPhase"] == "deploying"
    events = await stored_events(settings, built["id"])
    assert events[-1].type == "error"
    assert "'10-broken.sh' (1/1) failed with exit code 3" in events[-1].message
    assert events[-1].step == "syncing"
    creates = [e for e in events if e.message == "Waiting for the create task"]
    # fix the template, retry: the build resumes at syncing, without a second create
    fixed = {**broken, "content": "#!/bin/bash\necho fixed\n"}
    patched = await alice.call("PATCH", f"/api/templates/{template_id}", json={"scripts": [fixed]})
    assert patched.status_code == 200, patched.text
    retried = await alice.call("POST", f"/api/containers/{built['id']}/retry")
    assert retried.status_code == 202, retried.text
    assert (await alice.call("POST", f"/api/containers/{built['id']}/retry")).status_code == 409
    detail = await wait_until_done(alice, built["id"])
    assert detail["lifecycle"] == "ready", (await stored_events(settings, built["id"]))[-1].message
    events = await stored_events(settings, built["id"])
    assert [e for e in events if e.message == "Waiting for the create task"] == creates
    assert "fixed" in [e.message for e in events]
    assert (await alice.call("POST", f"/api/containers/{built['id']}/retry")).status_code == 409


async def test_keyctl_through_an_api_token_is_refused_with_advice_before_anything_is_queued(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    """The preflight refuses it up front (422); the build's own advice (a template changed to
    keyctl before a retry) is what `creating.feature_advice` still says."""
    node_id = await register(alice, pve)
    template_id = await make_template(alice, keyctl=True, packages=[], files=[], scripts=[])
    body = {"hostname": "keyctl-01", "nodeId": node_id, "templateId": template_id}
    refused = await alice.call("POST", "/api/containers", json=body)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "templateId"
    reason = error["message"]
    assert "root@pam" in reason and "keyctl" in reason and "adopt" in reason, reason
    listed = await alice.call("GET", "/api/containers", params={"node": node_id})
    assert listed.json()["items"] == []


async def test_hostile_names_are_refused_at_the_edge(alice: Session, pve: RunningSimulator) -> None:
    node_id = await register(alice, pve)
    for hostname in ("x; touch /pwned", "$(reboot)", "a'b", "a\nb", "-x", "a" * 64):
        response = await alice.call(
            "POST", "/api/containers", json={"hostname": hostname, "nodeId": node_id,
                                             "osTemplate": "debian-12-standard"},
        )  # fmt: skip
        assert response.status_code == 400, (hostname, response.text)
    for script in ("x; touch /pwned", "$(reboot)", "../../etc/passwd"):
        response = await alice.call(
            "POST", "/api/containers",
            json={"hostname": "ok", "nodeId": node_id, "osTemplate": "debian-12-standard",
                  "scripts": [script]},
        )  # fmt: skip
        assert response.status_code == 400, (script, response.text)


async def test_hostile_file_paths_and_script_output_run_quoted(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    """A target path with spaces, quotes and `$(...)` is a path, and a script that prints shell
    syntax prints it: nothing runs on the node or in the container."""
    node_id = await register(alice, pve)
    # Absolute targets, so an injection would leave its mark where the checks look.
    hostile_dir = "/srv/it's $(touch /tmp/pwned-dir) `touch /tmp/pwned-tick`; rm -rf x"
    files = [
        {"name": "a.txt", "targetPath": hostile_dir, "content": "$(touch /tmp/pwned-content)\n"}
    ]
    scripts = [{"name": "10-echo.sh", "order": 10,
                "content": "#!/bin/bash\necho '$(touch /tmp/pwned-echo)'\n"}]  # fmt: skip
    template_id = await make_template(alice, packages=[], files=files, scripts=scripts)
    built = await create(alice, hostname="quoted-01", nodeId=node_id, templateId=template_id)
    detail = await wait_until_done(alice, built["id"])
    assert detail["lifecycle"] == "ready", detail["failureReason"]
    vmid = detail["vmid"]
    # the file is at the literal path (its `/`s make directories), with the literal content
    found = await in_container(pve, "pve", vmid, "find /srv -name a.txt -exec cat {} +")
    assert found == "$(touch /tmp/pwned-content)\n"
    paths = await in_container(pve, "pve", vmid, "find /srv -name a.txt")
    assert paths == hostile_dir + "/a.txt\n"
    events = [e.message for e in await stored_events(settings, built["id"])]
    assert "$(touch /tmp/pwned-echo)" in events
    # nothing ran: in the container, nor on the node
    assert "pwned" not in await in_container(pve, "pve", vmid, "ls -a / /tmp /root")
    assert "pwned" not in await node_shell(pve, "pve", "ls -a / /tmp /root")


async def node_shell(pve: RunningSimulator, node: str, command: str) -> str:
    info = pve.info
    async with asyncssh.connect(
        "127.0.0.1", info["sshPorts"][node], username=info["sshUser"],
        password=info["sshPassword"], known_hosts=None, config=None, agent_path=None,
    ) as connection:  # fmt: skip
        result = await connection.run(command, check=False)
    return str(result.stdout)


async def test_two_creates_racing_for_one_vmid_have_one_winner(
    alice: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    vmid = next(_vmids)
    body = {"hostname": "race", "nodeId": node_id, "osTemplate": "debian-12-standard",
            "vmid": vmid}  # fmt: skip
    answers = await asyncio.gather(
        *(alice.call("POST", "/api/containers", json=body) for _ in range(6))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409, 409, 409, 409, 409], [a.text for a in answers]
    # without a vmid, racing creates all win, each with its own id
    auto = {"hostname": "auto", "nodeId": node_id, "osTemplate": "debian-12-standard"}
    answers = await asyncio.gather(
        *(alice.call("POST", "/api/containers", json=auto) for _ in range(4))
    )
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    assert len({a.json()["vmid"] for a in answers}) == 4
    for answer in answers:  # leave the low VMIDs as we found them
        path = f"/api/containers/{answer.json()['id']}"
        await wait_until_done(alice, answer.json()["id"])
        assert (await alice.call("DELETE", path)).status_code == 202
    for answer in answers:
        path = f"/api/containers/{answer.json()['id']}"
        deadline = time.monotonic() + 60
        while (await alice.call("GET", path)).status_code != 404:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)


async def test_cancel_stops_the_build_and_cleans_up_when_asked(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    slow = {"name": "10-slow.sh", "order": 10, "content": "#!/bin/bash\nsleep 3\n"}
    later = {"name": "20-later.sh", "order": 20, "content": "#!/bin/bash\necho never\n"}
    template_id = await make_template(alice, packages=[], files=[], scripts=[slow, later])
    built = await create(
        alice, hostname="cancel-01", nodeId=node_id, templateId=template_id, cleanupOnFailure=True
    )
    deadline = time.monotonic() + 60
    while "Running script 1/2: 10-slow.sh" not in [
        e.message for e in await stored_events(settings, built["id"])
    ]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    cancelled = await alice.call("POST", f"/api/containers/{built['id']}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["cancelRequested"] is True
    detail = await wait_until_done(alice, built["id"])
    assert detail["lifecycle"] == "error"
    events = await stored_events(settings, built["id"])
    assert events[-1].type == "error" and "cancelled" in events[-1].message
    assert "destroyed" in events[-1].message
    assert "never" not in [e.message for e in events]
    assert detail["live"]["status"] == "missing"
    assert (await alice.call("POST", f"/api/containers/{built['id']}/cancel")).status_code == 409


async def test_a_built_container_takes_actions_and_deletes(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    built = await create(alice, hostname="life-01", nodeId=node_id, osTemplate="debian-12-standard")
    detail = await wait_until_done(alice, built["id"])
    assert detail["lifecycle"] == "ready"
    assert detail["ipAddress"]
    stopped = await alice.call("POST", f"/api/containers/{built['id']}/stop")
    assert stopped.status_code == 200, stopped.text
    started = await alice.call("POST", f"/api/containers/{built['id']}/start")
    assert started.status_code == 200, started.text
    deleted = await alice.call("DELETE", f"/api/containers/{built['id']}")
    assert deleted.status_code == 202
    deadline = time.monotonic() + 60
    while (await alice.call("GET", f"/api/containers/{built['id']}")).status_code != 404:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)


async def test_the_request_is_checked_before_anything_is_queued(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    base = {"hostname": "chk", "nodeId": node_id}
    cases = [
        # well-formed, but not possible as asked: 422 naming the field
        ({**base}, 422, "osTemplate"),
        ({**base, "osTemplate": "nonexistent-os"}, 422, "osTemplate"),
        ({**base, "osTemplate": "debian-12-standard", "ip": "dhcp", "gateway": "10.0.0.1"}, 422,
         "gateway"),
        ({**base, "osTemplate": "debian-12-standard", "ip": "10.0.0.5/24", "gateway": "10.9.0.1"},
         422, "gateway"),
        # the shape of a key, but no key PVE can read (it would fail the build, not the call)
        ({**base, "osTemplate": "debian-12-standard", "sshPublicKeys": ["ssh-ed25519 AAAA"]},
         422, "sshPublicKeys[0]"),
        # outside the schema: 400
        ({**base, "osTemplate": "debian-12-standard", "ip": "10.0.0.5/40"}, 400, "ip"),
        ({**base, "osTemplate": "debian-12-standard", "templateId": str(uuid.uuid4())}, 404, None),
    ]  # fmt: skip
    for body, status, field in cases:
        response = await alice.call("POST", "/api/containers", json=body)
        assert response.status_code == status, (body, response.text)
        if field:
            assert field in response.text
    # another user's node is "not found"
    response = await bob.call(
        "POST", "/api/containers", json={**base, "osTemplate": "debian-12-standard"}
    )
    assert response.status_code == 404


async def test_a_late_dhcp_lease_is_waited_for_with_progress(
    alice: Session, pve: RunningSimulator, pve_admin: Any, settings: Settings
) -> None:
    node_id = await register(alice, pve, "pve3")
    fault = await pve_admin.put("/faults/pve3", json={"dhcp_delay": 8})
    assert fault.status_code == 200, fault.text
    built = await create(alice, hostname="late-01", nodeId=node_id, osTemplate="debian-12-standard")
    detail = await wait_until_done(alice, built["id"])
    assert detail["lifecycle"] == "ready", detail["failureReason"]
    messages = [e.message for e in await stored_events(settings, built["id"])]
    assert any(m.startswith("Waiting for network (") for m in messages), messages
    assert detail["ipAddress"].startswith("10.10.")


async def test_no_dhcp_lease_fails_the_build_after_a_bounded_wait(
    pve: RunningSimulator, pve_admin: Any, settings: Settings, scratch_dir: Path
) -> None:
    own = msgspec.structs.replace(
        settings, queue_name=f"nolease-{uuid.uuid4().hex[:8]}", build_network_timeout_seconds=3
    )
    worker = start_process("services.worker", settings_environment(own), scratch_dir / "w.log")
    try:
        await asyncio.wait_for(wait_for_worker(own.redis_url or "", own.queue_name), 30)
        async with AsyncTestClient(create_app(own), base_url="https://testserver.local") as client:
            alice = await login(client, pve, 0, "127.0.0.1")
            await forget_nodes(own, alice.user_id)
            node_id = await register(alice, pve, "pve3")
            await pve_admin.put("/faults/pve3", json={"dhcp_no_lease": True})
            built = await create(
                alice, hostname="nolease-01", nodeId=node_id, osTemplate="debian-12-standard"
            )
            detail = await wait_until_done(alice, built["id"])
    finally:
        stop_process(worker)
    assert detail["lifecycle"] == "error"
    assert detail["failedPhase"] == "starting"
    assert "no IPv4 address within 3 s" in detail["failureReason"]
    assert "vmbr0" in detail["failureReason"]


async def test_unknown_script_names_are_refused_before_anything_is_queued(
    alice: Session, pve: RunningSimulator
) -> None:
    node_id = await register(alice, pve)
    template_id = await make_template(alice, packages=[], files=[])
    response = await alice.call("POST", "/api/containers", json={
        "hostname": "pick", "nodeId": node_id, "templateId": template_id,
        "scripts": ["20-nginx.sh", "99-missing.sh"]})  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "scripts"
    assert "99-missing.sh" in response.json()["detail"]


async def test_nul_bytes_escapes_and_set_x_never_break_a_build_or_leak_a_secret(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node_id = await register(alice, pve)
    script = {"name": "10-noisy.sh", "order": 10, "content": (
        "#!/bin/bash\nset -x\npw=$(generate_password 26)\nsave_credential app token \"$pw\"\n"
        "printf 'nul\\0byte\\n'\nprintf '\\033[31mred\\033[0m\\n'\n")}  # fmt: skip
    template_id = await make_template(alice, packages=[], files=[], scripts=[script])
    built = await create(alice, hostname="noisy-01", nodeId=node_id, templateId=template_id)
    detail = await wait_until_done(alice, built["id"])
    assert detail["lifecycle"] == "ready", detail["failureReason"]
    messages = [e.message for e in await stored_events(settings, built["id"])]
    assert "nulbyte" in messages and "red" in messages
    saved = await in_container(pve, "pve", detail["vmid"], "cat /etc/infrahaus/credentials/app.env")
    token = saved.strip().split("=", 1)[1]
    assert len(token) == 26
    assert not any(token in m for m in messages)


async def test_deleting_a_failed_build_leaves_a_foreign_guest_at_its_vmid_alone(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    from services.pvesim.testing import api_client
    from services.pvesim.testing import wait_for_task as pve_wait

    node_id = await register(alice, pve)
    failing = {"name": "10-fail.sh", "order": 10, "content": "#!/bin/bash\nexit 3\n"}
    template_id = await make_template(alice, packages=[], files=[], scripts=[failing])
    vmid = next(_vmids)
    built = await create(alice, hostname="gone-01", nodeId=node_id, templateId=template_id,
                         vmid=vmid, cleanupOnFailure=True)  # fmt: skip
    assert (await wait_until_done(alice, built["id"]))["lifecycle"] == "error"
    async with api_client(pve.info) as token_api:
        # the failed build's guest was cleaned up: its VMID is free again...
        freed = await token_api.get(f"/nodes/pve/lxc/{vmid}/status/current")
        assert freed.status_code == 500 and "does not exist" in freed.text, freed.text
        # ...and someone else creates a guest at it, outside Infrahaus
        made = await token_api.post("/nodes/pve/lxc", data={
            "vmid": vmid, "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "hostname": "theirs", "rootfs": "local-lvm:1"})  # fmt: skip
        assert made.status_code == 200, made.text
        await pve_wait(token_api, "pve", made.json()["data"])
        assert (await alice.call("DELETE", f"/api/containers/{built['id']}")).status_code == 202
        deadline = time.monotonic() + 60
        while (await alice.call("GET", f"/api/containers/{built['id']}")).status_code != 404:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)
        theirs = await token_api.get(f"/nodes/pve/lxc/{vmid}/config")
        assert theirs.status_code == 200 and theirs.json()["data"]["hostname"] == "theirs"
        gone = await token_api.delete(f"/nodes/pve/lxc/{vmid}", params={"purge": 1})
        await pve_wait(token_api, "pve", gone.json()["data"])
