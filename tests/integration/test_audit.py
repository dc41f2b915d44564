"""GET /api/audit: the caller's own rows, with the request id of every change and reveal
(the worker's rows too, through the job), filtered, paged, and never another user's."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from services.pvesim.process import RunningSimulator
from tests.integration.helpers import Session, node_body
from tests.integration.test_pipeline import make_template, wait_until_done
from tests.integration.test_services import SCRIPTS

pytestmark = pytest.mark.usefixtures("running_worker")


async def call(session: Session, method: str, path: str, request_id: str, **kw: Any) -> Any:
    headers = {**session.headers, "X-Request-ID": request_id}
    response: httpx.Response = await session.client.request(method, path, headers=headers, **kw)
    assert response.headers["x-request-id"] == request_id
    return response


async def audit(session: Session, **params: Any) -> dict[str, Any]:
    response = await session.call("GET", "/api/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_change_and_reveal_carries_its_request_id_and_only_its_owner_sees_it(
    alice: Session, bob: Session, pve: RunningSimulator
) -> None:
    tag = uuid.uuid4().hex[:8]
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    created = await call(alice, "POST", "/api/nodes", f"node-{tag}", json=node_body(pve))
    assert created.status_code == 201, created.text
    node_id = created.json()["id"]
    template_id = await make_template(
        alice, packages=[{"manager": "apt", "name": "nginx"}], files=[], scripts=SCRIPTS[:1]
    )
    body = {"hostname": "audited-01", "nodeId": node_id, "templateId": template_id, "vmid": 8620}
    response = await call(alice, "POST", "/api/containers", f"create-{tag}", json=body)
    assert response.status_code == 202, response.text
    container_id = response.json()["id"]
    assert (await wait_until_done(alice, container_id))["lifecycle"] == "ready"
    base = f"/api/containers/{container_id}/services"
    await alice.call("GET", base)  # discovery
    revealed = await call(alice, "GET", f"{base}/nginx/credentials", f"reveal-{tag}")
    assert revealed.status_code == 200, revealed.text
    deleted = await call(alice, "DELETE", f"/api/containers/{container_id}", f"delete-{tag}")
    assert deleted.status_code == 202, deleted.text
    for _ in range(200):  # the worker's half of the delete writes the last row
        rows = (await audit(alice, targetType="container", targetId=container_id))["items"]
        if any(
            r["detail"].get("phase") != "requested"
            for r in rows
            if r["action"] == "container.delete"
        ):
            break
        await asyncio.sleep(0.2)

    rows = (await audit(alice, targetId=container_id))["items"]
    by_action = {(r["action"], r["requestId"]) for r in rows}
    assert ("container.create", f"create-{tag}") in by_action
    assert ("container.credentials.reveal", f"reveal-{tag}") in by_action
    deletes = [r for r in rows if r["action"] == "container.delete"]
    # the API's row ("requested") and the worker's (the job carried the request id)
    assert len(deletes) == 2 and {r["requestId"] for r in deletes} == {f"delete-{tag}"}
    assert all(r["outcome"] == "success" and r["targetType"] == "container" for r in rows)
    # newest first
    times = [r["createdAt"] for r in rows]
    assert times == sorted(times, reverse=True)

    node_rows = (await audit(alice, action="node.create", targetId=node_id))["items"]
    assert [(r["requestId"], r["targetType"]) for r in node_rows] == [(f"node-{tag}", "node")]

    # time filters: inclusive bounds, RFC 3339 with any offset
    since = started.isoformat()
    assert (await audit(alice, targetId=container_id, since=since))["total"] == len(rows)
    past = (started - dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert (await audit(alice, targetId=container_id, until=past.isoformat()))["total"] == 0
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await audit(alice, targetId=container_id, since=future))["total"] == 0

    # paging
    first = await audit(alice, targetId=container_id, limit=1)
    second = await audit(alice, targetId=container_id, limit=1, offset=1)
    assert first["total"] == second["total"] == len(rows)
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [r["id"] for r in rows[:2]]

    # IDOR: Bob sees none of Alice's rows, whatever he filters by
    assert (await audit(bob, targetId=container_id))["total"] == 0
    assert (await audit(bob, targetId=node_id))["total"] == 0
    everything = await audit(bob, limit=100)
    assert all(r["requestId"] not in {f"create-{tag}", f"reveal-{tag}", f"delete-{tag}",
                                      f"node-{tag}"} for r in everything["items"])  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [
        {"until": "0.5"},  # msgspec would read a number as a Unix time: refused at the edge
        {"since": "1700000000"},
        {"since": "2026-12-01"},  # a date is not a date-time
        {"since": "2026-12-01T00:00:00"},  # no offset
        {"since": "2026-02-30T00:00:00Z"},  # no such day
        {"until": "2026-12-01T25:00:00Z"},
        {"since": "null"},
        {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T23:59:59Z"},  # since > until
        {"since": "2026-12-01T12:00:00+01:00", "until": "2026-12-01T10:59:59Z"},
        {"limit": "0"},
        {"limit": "101"},
        {"action": "DROP TABLE"},
        {"targetType": "x" * 40},
    ],
)
async def test_bad_filters_are_400_problems(alice: Session, params: dict[str, str]) -> None:
    response = await alice.call("GET", "/api/audit", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_audit_trail_needs_a_login(alice: Session) -> None:
    response = await alice.client.get("/api/audit")
    assert response.status_code == 401


async def test_equal_bounds_and_a_clamped_extreme_are_accepted(alice: Session) -> None:
    instant = "2026-12-01T00:00:00Z"
    assert (await audit(alice, since=instant, until=instant))["total"] >= 0
    # year 1 at +05:00 is before what UTC can hold: clamped, not a 500
    assert (await audit(alice, since="0001-01-01T00:00:00+05:00"))["total"] >= 0
    assert (await audit(alice, until="9999-12-31T23:59:59-05:00"))["total"] >= 0


async def test_template_and_bucket_changes_are_audited_with_their_request_ids(
    alice: Session,
) -> None:
    tag = uuid.uuid4().hex[:8]
    bucket = await call(alice, "POST", "/api/buckets", f"b-create-{tag}", json={
        "name": f"audited-{tag}", "packages": [{"manager": "apt", "name": "curl"}]})  # fmt: skip
    assert bucket.status_code == 201, bucket.text
    bucket_id = bucket.json()["id"]
    changed = await call(alice, "PATCH", f"/api/buckets/{bucket_id}", f"b-update-{tag}",
                         json={"description": "changed"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    template = await call(alice, "POST", "/api/templates", f"t-create-{tag}", json={
        "name": f"audited-{tag}", "osTemplate": "debian-12-standard"})  # fmt: skip
    assert template.status_code == 201, template.text
    template_id = template.json()["id"]
    patched = await call(alice, "PATCH", f"/api/templates/{template_id}", f"t-update-{tag}",
                         json={"cores": 2})  # fmt: skip
    assert patched.status_code == 200, patched.text
    for path, rid in ((f"/api/templates/{template_id}", f"t-delete-{tag}"),
                      (f"/api/buckets/{bucket_id}", f"b-delete-{tag}")):  # fmt: skip
        assert (await call(alice, "DELETE", path, rid)).status_code == 204

    found = {
        (r["action"], r["requestId"], r["detail"]["name"])
        for target in (template_id, bucket_id)
        for r in (await audit(alice, targetId=target))["items"]
    }
    name = f"audited-{tag}"
    assert found == {
        ("bucket.create", f"b-create-{tag}", name), ("bucket.update", f"b-update-{tag}", name),
        ("bucket.delete", f"b-delete-{tag}", name), ("template.create", f"t-create-{tag}", name),
        ("template.update", f"t-update-{tag}", name), ("template.delete", f"t-delete-{tag}", name),
    }  # fmt: skip
    updated = await audit(alice, action="template.update", targetId=template_id)
    assert updated["items"][0]["detail"]["fields"] == ["cores"]
