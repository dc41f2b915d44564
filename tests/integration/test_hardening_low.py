"""Issue 12, the Low findings (items 8-17), against the real stack: PostgreSQL, Redis and the
Proxmox VE simulator (faults injected through its admin API)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.api.app import create_app
from services.api.throttle import MAX_SLOWDOWN_SECONDS, LoginThrottle
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.dev.embedded import free_port
from tests.integration.helpers import Session, forget_nodes, login, node_body
from tests.integration.test_auth import api_client, credentials
from tests.support import forget_login_attempts

# -- item 8: what the caller sent is never a 5xx ------------------------------------------------


async def test_connection_details_that_fail_verification_are_422_naming_the_field(
    alice: Session, pve: RunningSimulator
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"port": free_port()}, "host"),  # nothing listens there
        ({"tokenSecret": "wrong"}, "tokenSecret"),
        ({"tokenId": "root@pam!nope"}, "tokenSecret"),
        # PVE allows any non-space user name; it travels in the header as UTF-8 (it was a 500)
        ({"tokenId": "jürgen@pve!infrahaus"}, "tokenSecret"),
        ({"fingerprint": "AB" * 32}, "fingerprint"),
        ({"sshPassword": "wrong"}, "sshPassword"),
        ({"sshPort": free_port()}, "sshPort"),
        ({"name": "pve9"}, "name"),
    ]
    for change, field in cases:
        body = {**node_body(pve), **change}
        response = await alice.call("POST", "/api/nodes", json=body)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["errors"][0]["field"] == field, (change, response.text)
    assert (await alice.call("GET", "/api/nodes")).json() == []


async def test_a_patch_that_fails_verification_is_422_and_a_failing_node_stays_5xx(
    alice: Session, pve: RunningSimulator, pve_admin: httpx.AsyncClient
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve, "pve2"))).json()
    url = f"/api/nodes/{node['id']}"
    wrong_token = await alice.call("PATCH", url, json={"tokenSecret": "wrong"})
    assert wrong_token.status_code == 422, wrong_token.text
    assert wrong_token.json()["errors"][0]["field"] == "tokenSecret"
    unicode_user = await alice.call("PATCH", url, json={"tokenId": "âdmin@pve!infrahaus"})
    assert unicode_user.status_code == 422, unicode_user.text
    assert unicode_user.json()["errors"][0]["field"] == "tokenId"
    moved = await alice.call(
        "PATCH", url, json={"port": free_port(), "tokenSecret": pve.info["tokenSecret"]}
    )
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "port"
    # the node was fine and fails now; a name sent explains nothing of that: the node's error
    await pve_admin.put("/faults/pve2", json={"down": True})
    renamed = await alice.call("PATCH", url, json={"name": "pve2"})
    assert renamed.status_code in (502, 503, 504), renamed.text


async def test_a_login_to_where_no_proxmox_answers_is_422_naming_the_host(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    response = await client.post("/api/auth/login", json=credentials(pve, port=free_port()))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "host"


# -- item 9: deeply nested JSON -----------------------------------------------------------------


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
@pytest.mark.parametrize("depth", [1000, 990, 950, 900])  # at msgspec's limit, and just under
async def test_deeply_nested_json_is_a_400_on_every_json_route(
    alice: Session, opening: bytes, depth: int
) -> None:
    closing = b"]" if opening == b"[" else b"}"
    body = opening * depth + b"1" + closing * depth
    headers = {**alice.headers, "Content-Type": "application/json"}
    for path in ("/api/auth/login", "/api/nodes", "/api/templates", "/api/containers"):
        response = await alice.client.post(path, content=body, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


# -- item 12: the allow-list holds for nodes registered before it was narrowed ------------------


async def test_narrowing_the_allow_list_cuts_off_registered_nodes(
    alice: Session, pve: RunningSimulator, settings: Settings
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve, "pve2"))).json()
    narrowed = msgspec.structs.replace(settings, pve_allowed_hosts="10.0.0.0/8")
    async with AsyncTestClient(create_app(narrowed), base_url="https://testserver.local") as other:
        session = await login_without_checks(other, alice)
        for path in ("storages", "bridges", "os-templates"):
            refused = await session.call("GET", f"/api/nodes/{node['id']}/{path}")
            assert refused.status_code == 403, (path, refused.text)
        tested = (await session.call("POST", f"/api/nodes/{node['id']}/test")).json()
        assert tested["ok"] is False and "PVE_ALLOWED_HOSTS" in tested["error"]
        listed = (await session.call("GET", "/api/containers")).json()
        assert any("PVE_ALLOWED_HOSTS" in e["error"] for e in listed["nodeErrors"]), listed


async def login_without_checks(client: AsyncTestClient[Litestar], alice: Session) -> Session:
    """alice's bearer session on another app instance (login itself is refused there now)."""
    return Session(client, alice.headers, alice.user_id)


# -- item 13: npm names by npm's rules -----------------------------------------------------------


@pytest.mark.parametrize("name", ["--unsafe-perm", "-g", "~evil", "@scope/-x", "@-scope/x"])
async def test_npm_names_may_not_start_with_a_dash_or_a_tilde(alice: Session, name: str) -> None:
    response = await alice.call(
        "POST", "/api/buckets",
        json={"name": f"npm-{abs(hash(name))}", "packages": [{"manager": "npm", "name": name}]},
    )  # fmt: skip
    assert response.status_code == 400, response.text


# -- item 15: the node test asks the node itself -------------------------------------------------


async def test_the_node_test_says_not_ok_while_the_node_is_down(
    alice: Session, pve: RunningSimulator, pve_admin: httpx.AsyncClient
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve, "pve2"))).json()
    assert (await alice.call("POST", f"/api/nodes/{node['id']}/test")).json()["ok"] is True
    await pve_admin.put("/faults/pve2", json={"down": True})
    report = (await alice.call("POST", f"/api/nodes/{node['id']}/test")).json()
    assert report["ok"] is False, report


# -- item 16: interactive reads of a slow node have a total budget --------------------------------


async def test_a_slow_node_answers_interactive_reads_within_the_budget(
    pve: RunningSimulator, pve_admin: httpx.AsyncClient, settings: Settings
) -> None:
    async with api_client(settings, pve_interactive_timeout_seconds=1.0) as client:
        session = await login(client, pve, 0, "127.0.0.1")
        await forget_nodes(settings, session.user_id)
        node = (await session.call("POST", "/api/nodes", json=node_body(pve, "pve2"))).json()
        await pve_admin.put("/faults/pve2", json={"latency_ms": 20_000})
        for path in ("storages", "bridges", "os-templates"):
            response = await session.call("GET", f"/api/nodes/{node['id']}/{path}")
            assert response.status_code == 504, (path, response.text)
            assert "PVE_INTERACTIVE_TIMEOUT_SECONDS" in response.json()["detail"]
        report = (await session.call("POST", f"/api/nodes/{node['id']}/test")).json()
        assert report["ok"] is False and "PVE_INTERACTIVE_TIMEOUT_SECONDS" in report["error"]


# -- item 17: the spec tells the truth about query parameters ---------------------------------


async def test_node_null_is_not_a_node_filter(alice: Session) -> None:
    for query in ("node=null", "lifecycle=null"):
        response = await alice.call("GET", f"/api/containers?{query}")
        assert response.status_code == 400, (query, response.text)
    spec = (await alice.client.get("/schema/openapi.json")).json()
    (node,) = [
        p for p in spec["paths"]["/api/containers"]["get"]["parameters"] if p["name"] == "node"
    ]
    assert node["schema"]["type"] == "string" and "oneOf" not in node["schema"]


async def test_options_lists_every_method_of_the_path(alice: Session) -> None:
    for path, methods in (("/api/buckets", {"GET", "POST"}), ("/api/templates", {"GET", "POST"})):
        response = await alice.client.options(path)
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert methods <= allowed, (path, allowed)


# -- item 11: only failures count; an outsider slows an account down, never locks it -----------


async def test_concurrent_correct_logins_are_never_refused(
    settings: Settings, api_server: str, pve: RunningSimulator, redis: Redis
) -> None:
    await forget_login_attempts(redis, settings)
    good = credentials(pve, 2)
    async with httpx.AsyncClient(timeout=60) as http:
        responses = await asyncio.gather(
            *(http.post(f"{api_server}/api/auth/login", json=good) for _ in range(8))
        )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    await forget_login_attempts(redis, settings)


async def test_an_outsider_slows_an_account_down_but_cannot_lock_it(redis: Redis) -> None:
    account = f"127.0.0.1:8006:victim-{uuid.uuid4().hex[:8]}@pam"
    throttle = LoginThrottle(
        redis,
        namespace=f"test-{uuid.uuid4().hex[:8]}",
        per_account=5,
        per_client=20,
        window_seconds=300,
    )
    attacker, holder = "198.51.100.7", "203.0.113.9"
    try:
        for _ in range(5):
            assert (await throttle.reserve(attacker, account))[0] == 0
            await throttle.finish(attacker, account, "failure")
        status, retry_after = await throttle.reserve(attacker, account)
        assert status == 1 and retry_after > 0  # the guessing client is stopped
        status, delay = await throttle.reserve(holder, account)
        assert status == 0 and 0 < delay <= MAX_SLOWDOWN_SECONDS  # the holder waits a little
        await throttle.finish(holder, account, "success")
        assert await throttle.reserve(holder, account) == (0, 0)  # failures cleared
        await throttle.finish(holder, account, "none")
    finally:
        await redis.delete(*throttle._keys(attacker, account), *throttle._keys(holder, account))


# -- item 10: the database going away mid-request is a 503 --------------------------------------


async def test_a_connection_postgresql_terminates_mid_request_is_a_503(
    alice: Session, pve: RunningSimulator, settings: Settings, api_server: str
) -> None:
    node = (await alice.call("POST", "/api/nodes", json=node_body(pve, "pve2"))).json()
    url = settings.database_url or ""
    database = url.rsplit("/", 1)[-1]
    holder = await asyncpg.connect(url)
    admin = await asyncpg.connect(url)
    try:
        # Hold alice's user row, so the API's delete waits on it (it locks the row first) ...
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(
            "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", uuid.UUID(alice.user_id)
        )
        # the API as its own process: the test client would block this loop meanwhile
        http = httpx.AsyncClient(base_url=api_server, headers=alice.headers, timeout=60)
        request = asyncio.create_task(http.delete(f"/api/nodes/{node['id']}"))
        pid = None
        for _ in range(200):
            pid = await admin.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'"
                " AND pid <> pg_backend_pid()",
                database,
            )
            if pid is not None:
                break
            await asyncio.sleep(0.05)
        assert pid is not None, "the API's query never waited on the lock"
        # ... and then PostgreSQL drops that connection, as a restart or a failover does.
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        response = await request
        await transaction.rollback()
        await http.aclose()
    finally:
        await holder.close()
        await admin.close()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"


# -- item 14: the docs page runs only this origin's code; tokens are not cached ----------------


async def test_the_docs_page_loads_its_assets_from_this_origin(
    client: AsyncTestClient[Litestar],
) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert sources and all(source.startswith("/schema/assets/") for source in sources), sources
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200 and asset.content, source
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "https:" not in policy


async def test_answers_carry_security_headers_and_tokens_are_not_cached(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    login_answer = await client.post("/api/auth/login", json=credentials(pve))
    assert login_answer.status_code == 200
    assert login_answer.headers["cache-control"] == "no-store"
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    for response in (login_answer, me, await client.get("/health")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # plain HTTP here


async def test_behind_https_browsers_are_told_to_keep_to_it(settings: Settings) -> None:
    async with api_client(settings, session_cookie_secure=True) as client:
        response = await client.get("/health")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


async def test_two_deployments_on_one_redis_database_keep_their_own_counters(
    redis: Redis,
) -> None:
    """The keys name clients and accounts, which two deployments (or two test runs) sharing a
    Redis database have in common; each counts under its own queue name."""
    account, client = "127.0.0.1:8006:shared@pam", "198.51.100.9"
    first, second = (
        LoginThrottle(
            redis,
            namespace=f"dep-{uuid.uuid4().hex[:8]}",
            per_account=2,
            per_client=2,
            window_seconds=60,
        )
        for _ in range(2)
    )
    for _ in range(2):
        assert (await first.reserve(client, account))[0] == 0
        await first.finish(client, account, "failure")
    assert (await first.reserve(client, account))[0] == 1  # this deployment: locked out
    assert (await second.reserve(client, account)) == (0, 0)  # the other: untouched
    await second.finish(client, account, "none")
    await redis.delete(*await redis.keys(f"{first.prefix}:*"))
