"""The injection corpus in every string field of a template and of a build request that reaches
SSH or PVE: each payload is refused at the edge (4xx) or carried through a real build, and none
runs on the simulated node or in the container (each would leave its own canary file in /tmp).

Script contents are left out on purpose: they are code, run as written. Template names and
descriptions reach neither SSH nor PVE (the PVE description is the build's marker); they are
still sent, for the "no 5xx" half.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncssh
import pytest

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from tests.figures import record
from tests.integration.helpers import Session
from tests.integration.test_pipeline import (
    in_container,
    node_shell,
    register,
    template_body,
    wait_until_done,
)

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("running_worker")]

CANARY = "ih-canary"  # what a payload that ran leaves: /tmp/ih-canary-<payload>
VMIDS = (7952, 7953)


def corpus(tag: str) -> dict[str, str]:
    """Payload name -> payload; run by a shell, each creates /tmp/<tag>-<name>."""

    def touch(name: str) -> str:
        return f"touch /tmp/{tag}-{name}"

    return {
        "metachars": f"a;{touch('metachars')}|cat&{touch('metachars')}>/dev/null #",
        "dollar-paren": f"$({touch('dollar-paren')})",
        "backticks": f"`{touch('backticks')}`",
        "single-quote": f"'$({touch('single-quote')})'",
        "double-quote": f'"; {touch("double-quote")}; "',
        "newline": f"x\n{touch('newline')}\n",
        "nul": f"x\x00$({touch('nul')})",
        "very-long": "A" * 10_000 + f"$({touch('very-long')})",
        "unicode": f"é☃\u202e\u2028 $({touch('unicode')}) \uff1b",
    }


Setter = Callable[[dict[str, Any], str], None]


def _item(key: str, field: str, base: dict[str, Any]) -> Setter:
    """Set `field` of the one item of list `key` (the item built from `base`)."""

    def put(body: dict[str, Any], payload: str) -> None:
        body[key] = [{**base, field: payload}]

    return put


def _scalar(field: str, prefix: str = "") -> Setter:
    def put(body: dict[str, Any], payload: str) -> None:
        body[field] = prefix + payload

    return put


_FILE = {"name": "f.txt", "targetPath": "/srv", "content": "x\n", "policy": "replace"}
_SCRIPT = {"name": "10-ok.sh", "order": 10, "content": "#!/bin/bash\ntrue\n"}
_APT = {"manager": "apt", "name": "curl"}

TEMPLATE_FIELDS: dict[str, Setter] = {
    "name": _scalar("name"),
    "description": _scalar("description"),
    "osTemplate": _scalar("osTemplate"),
    "storage": _scalar("storage"),
    "bridge": _scalar("bridge"),
    "tags[]": lambda body, payload: body.update(tags=[payload]),
    "scripts[].name": _item("scripts", "name", _SCRIPT),
    "files[].name": _item("files", "name", _FILE),
    "files[].targetPath": lambda body, payload: body.update(
        files=[{**_FILE, "targetPath": "/srv/" + payload}]
    ),
    "files[].content": _item("files", "content", _FILE),
    "files[].mode": _item("files", "mode", _FILE),
    "files[].owner": _item("files", "owner", _FILE),
    "packages[].name (apt)": _item("packages", "name", _APT),
    "packages[].name (pip)": _item("packages", "name", {"manager": "pip", "name": "x"}),
    "packages[].name (npm)": _item("packages", "name", {"manager": "npm", "name": "x"}),
    "packages[].version": _item("packages", "version", _APT),
}


def request_fields(public_key: str) -> dict[str, Setter]:
    return {
        "hostname": _scalar("hostname"),
        "osTemplate": _scalar("osTemplate"),
        "storage": _scalar("storage"),
        "bridge": _scalar("bridge"),
        "ip": _scalar("ip"),
        "gateway": _scalar("gateway"),
        "nameserver": _scalar("nameserver"),
        "sshPublicKeys[]": lambda body, payload: body.update(sshPublicKeys=[payload]),
        "sshPublicKeys[] (comment)": lambda body, payload: body.update(
            sshPublicKeys=[f"{public_key} {payload}"]
        ),
        "sshPublicKeys[] (options)": lambda body, payload: body.update(
            sshPublicKeys=[f"{payload} {public_key}"]
        ),
        "tags[]": lambda body, payload: body.update(tags=[payload]),
        "packages[].name": _item("packages", "name", _APT),
        "packages[].version": _item("packages", "version", _APT),
        "scripts[]": lambda body, payload: body.update(scripts=[payload]),
    }


async def _canaries(pve: RunningSimulator, vmids: list[int], tag: str) -> list[str]:
    """Canary files on the node and in each container."""
    found = []
    listing = "ls -a /tmp /root / 2>/dev/null"
    places = [("node", await node_shell(pve, "pve", listing))]
    for vmid in vmids:
        places.append((f"CT {vmid}", await in_container(pve, "pve", vmid, listing)))
    for where, text in places:
        found += [f"{where}: {name}" for name in text.split() if name.startswith(tag)]
    return found


async def test_no_payload_of_the_injection_corpus_runs_on_the_simulator(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    # The corpus is live: put in a command as it is, each payload fires in one of the
    # contexts a field could land in (bare, single- or double-quoted). A shell cannot carry a
    # NUL, so that one only has to be refused or carried harmlessly.
    live = corpus("ih-live")
    contexts = ("echo {}", "echo '{}'", 'echo "{}"')
    info = pve.info
    async with asyncssh.connect(
        "127.0.0.1", info["sshPorts"]["pve"], username=info["sshUser"],
        password=info["sshPassword"], known_hosts=None, config=None, agent_path=None,
    ) as ssh:  # fmt: skip
        for context in contexts:  # one script a context, a line a payload
            lines = [context.replace("{}", p) for p in live.values() if "\x00" not in p]
            await ssh.run("\n".join(lines), check=False)
        fired = str((await ssh.run("ls /tmp; rm -f /tmp/ih-live-*", check=False)).stdout)
    assert {name for name in live if name != "nul"} == {
        name for name in live if f"ih-live-{name}" in fired.split()
    }, fired

    payloads = corpus(CANARY)
    statuses: Counter[int] = Counter()
    node_id = await register(alice, pve)
    # the template's fields, one request per field and payload
    accepted: dict[str, list[str]] = {}
    for field, put in TEMPLATE_FIELDS.items():
        for payload in payloads.values():
            body = template_body(f"inj-{uuid.uuid4().hex[:8]}", packages=[], files=[], scripts=[])
            put(body, payload)
            answer = await alice.call("POST", "/api/templates", json=body)
            statuses[answer.status_code] += 1
            if answer.status_code == 201:
                accepted.setdefault(field, []).append(payload)
                await alice.call("DELETE", f"/api/templates/{answer.json()['id']}")
            else:
                assert answer.status_code < 500, (field, payload[:80], answer.text)
    # one template carries every accepted payload that reaches SSH: a file each, its path
    # and its content (where the field accepted it)
    paths, contents = accepted.get("files[].targetPath", []), accepted.get("files[].content", [])
    files = [
        {**_FILE, "name": f"p{n}.txt",
         "targetPath": "/srv/" + payload if payload in paths else "/srv",
         "content": payload if payload in contents else "x\n"}
        for n, payload in enumerate(payloads.values())
        if payload in paths or payload in contents
    ]  # fmt: skip
    names = accepted.get("name", [])
    descriptions = accepted.get("description", [])
    carrier = template_body(
        (names[0] if names else "inj") + f" {uuid.uuid4().hex[:6]}",
        description=descriptions[0] if descriptions else "", packages=[], files=files,
        scripts=[],
    )  # fmt: skip
    carried = {"name", "description", "files[].targetPath", "files[].content"}
    assert set(accepted) <= carried, accepted  # any other one must be carried too
    template = await alice.call("POST", "/api/templates", json=carrier)
    assert template.status_code == 201, template.text

    # the build request's fields, checked without building (an unknown node is a 404 after
    # validation); then the accepted ones in real builds
    public_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    wanted: dict[str, list[str]] = {}
    for field, put in request_fields(public_key).items():
        for payload in payloads.values():
            body: dict[str, Any] = {"hostname": "inj", "nodeId": str(uuid.uuid4()),
                                    "templateId": template.json()["id"]}  # fmt: skip
            put(body, payload)
            answer = await alice.call("POST", "/api/containers", json=body)
            statuses[answer.status_code] += 1
            assert answer.status_code in (400, 404), (field, payload[:80], answer.text)
            if answer.status_code == 404:
                wanted.setdefault(field, []).append(payload)
    assert set(wanted) <= {"sshPublicKeys[] (comment)", "sshPublicKeys[] (options)"}, wanted
    plain = await alice.call("POST", "/api/templates", json=template_body(
        f"inj-plain-{uuid.uuid4().hex[:6]}", packages=[], files=[], scripts=[]))  # fmt: skip
    assert plain.status_code == 201, plain.text
    builds = [
        # the carrier template with every comment payload; PVE refuses keys whose options
        # are not options, so those go in a build of their own
        (template.json()["id"],
         [f"{public_key} {p}" for p in wanted.get("sshPublicKeys[] (comment)", [])]),
        (plain.json()["id"],
         [f"{p} {public_key}" for p in wanted.get("sshPublicKeys[] (options)", [])]),
    ]  # fmt: skip
    outcomes: Counter[str] = Counter()
    vmids = []
    refused_late = 0
    failures: list[str | None] = []
    started = []
    for vmid, (template_id, keys) in zip(VMIDS, builds, strict=True):
        while True:
            created = await alice.call("POST", "/api/containers", json={
                "hostname": f"inj-{vmid}", "nodeId": node_id,
                "templateId": template_id, "vmid": vmid, "sshPublicKeys": keys,
            })  # fmt: skip
            statuses[created.status_code] += 1
            if created.status_code != 422:
                break
            # keys are parsed once the node is known: a refusal names the key; drop it
            field = created.json()["errors"][0]["field"]
            assert field.startswith("sshPublicKeys["), created.text
            del keys[int(field.removeprefix("sshPublicKeys[").rstrip("]"))]
            refused_late += 1
        assert created.status_code == 202, created.text
        started.append((vmid, created.json()["id"]))
    for vmid, container_id in started:  # the two builds run side by side
        detail = await wait_until_done(alice, container_id, limit=90)
        outcomes[detail["lifecycle"]] += 1
        failures.append(detail["failureReason"])
        if detail["lastCompletedPhase"] is not None:  # the container exists: look in it too
            vmids.append(vmid)
    found = await _canaries(pve, vmids, CANARY)

    probes = len(payloads) * (len(TEMPLATE_FIELDS) + len(request_fields(public_key)))
    passed = sum(len(v) for v in accepted.values()) + sum(len(v) for v in wanted.values())
    passed -= refused_late
    scenario = "injection corpus, every SSH/PVE string field"
    record(scenario, "field x payload requests", probes)
    record(scenario, "refused at the edge (4xx) / accepted", f"{probes - passed} / {passed}")
    record(scenario, "builds ready", f"{outcomes['ready']} / {len(VMIDS)}", len(VMIDS))
    record(scenario, "5xx answers", sum(n for code, n in statuses.items() if code >= 500), 0)
    record(scenario, "payloads executed on the simulator", len(found), 0)
    assert found == [], found
    assert outcomes["ready"] == len(VMIDS), failures  # every accepted payload went through
