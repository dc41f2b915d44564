"""Login against the simulator's /access/ticket, sessions in Redis, CSRF, throttling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.db import AuditEntry, PveHost, create_engine, create_session_factory
from shared.dev.embedded import free_port
from tests.support import forget_login_attempts


def credentials(pve: RunningSimulator, index: int = 0, **changes: Any) -> dict[str, Any]:
    user = pve.info["users"][index]
    url = httpx.URL(pve.info["apiUrl"])
    body = {
        "host": url.host,
        "port": url.port,
        "username": user["username"],
        "realm": user["realm"],
        "password": user["password"],
    }
    return {**body, **changes}


@contextlib.asynccontextmanager
async def api_client(
    settings: Settings, **changes: Any
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(msgspec.structs.replace(settings, **changes))
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        yield client


async def test_login_sets_a_session_cookie_and_returns_tokens(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    response = await client.post("/api/auth/login", json=credentials(pve))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["userid"] == "root@pam"
    assert body["tlsFingerprint"] == pve.info["tlsFingerprint"]
    cookie_header = "; ".join(response.headers.get_list("set-cookie"))
    assert "infrahaus_session=" in cookie_header and "HttpOnly" in cookie_header
    assert "SameSite=lax" in cookie_header or "SameSite=Lax" in cookie_header
    assert pve.info["users"][0]["password"] not in response.text

    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["user"]["id"] == body["user"]["id"]
    client.cookies.clear()
    assert (await client.get("/api/auth/me")).status_code == 401
    bearer = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert bearer.status_code == 200


async def test_wrong_password_is_401_and_audited(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, settings: Settings
) -> None:
    response = await client.post(
        "/api/auth/login", json=credentials(pve, 1, password="definitely wrong")
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "rejected" in response.json()["detail"]
    engine = create_engine(settings, pooled=False)
    async with create_session_factory(engine)() as session:
        failures = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "auth.login", AuditEntry.outcome == "failure"
                )
            )
        ).all()
    await engine.dispose()
    assert any(entry.detail.get("userid") == "admin@pve" for entry in failures)
    assert all("definitely wrong" not in str(entry.detail) for entry in failures)


async def test_unreachable_host_is_one_generic_422(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    response = await client.post("/api/auth/login", json=credentials(pve, port=free_port()))
    assert response.status_code == 422  # the caller's host and port (issue 12 #8)
    assert response.json()["errors"][0]["field"] == "host"
    assert "did not answer as a Proxmox VE API" in response.json()["detail"]


async def test_a_changed_certificate_is_refused_and_a_login_cannot_re_pin_it(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, settings: Settings
) -> None:
    body = credentials(pve, 1)
    assert (await client.post("/api/auth/login", json=body)).status_code == 200
    # the host's certificate "changes": the pin on file no longer matches what it presents
    await _set_pin(settings, body, _another_certificate_pem(), "00:" * 31 + "00")
    try:
        refused = await client.post("/api/auth/login", json=body)
        assert refused.status_code == 502
        assert "TLS certificate changed" in refused.json()["detail"]
        assert "/api/auth/repin" in refused.json()["detail"]
        # naming the certificate the host now presents does not move the pin any more
        named = await client.post(
            "/api/auth/login", json={**body, "fingerprint": pve.info["tlsFingerprint"]}
        )
        assert named.status_code == 409, named.text
        assert "python -m shared.pins repin" in named.json()["detail"]
        assert (await client.post("/api/auth/login", json=body)).status_code == 502  # unchanged
    finally:
        await _restore_pin(settings, body, pve)


async def _set_pin(settings: Settings, body: dict[str, Any], pem: str, fingerprint: str) -> None:
    engine = create_engine(settings, pooled=False)
    async with create_session_factory(engine)() as session:
        pin = await session.scalar(
            select(PveHost).where(PveHost.host == body["host"], PveHost.port == body["port"])
        )
        assert pin is not None
        pin.tls_certificate, pin.tls_fingerprint = pem, fingerprint
        await session.commit()
    await engine.dispose()


async def _restore_pin(settings: Settings, body: dict[str, Any], pve: RunningSimulator) -> None:
    from shared.adapters.proxmox import fetch_certificate

    real = await fetch_certificate(body["host"], body["port"], 5, pve.info["tlsFingerprint"])
    await _set_pin(settings, body, real.pem, real.fingerprint)


async def test_session_fixation_is_refused(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    client.cookies.set("infrahaus_session", "attacker-chosen-id", domain="testserver.local")
    response = await client.post("/api/auth/login", json=credentials(pve))
    issued = response.cookies.get("infrahaus_session")
    assert issued and issued != "attacker-chosen-id"
    assert (await client.get("/api/auth/me")).status_code == 200  # the issued id works...
    client.cookies.clear()
    client.cookies.set("infrahaus_session", "attacker-chosen-id", domain="testserver.local")
    assert (await client.get("/api/auth/me")).status_code == 401  # ...the chosen one never


async def test_a_session_the_client_already_had_ends_at_login(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    first = await client.post("/api/auth/login", json=credentials(pve))
    old_cookie, old_token = first.cookies.get("infrahaus_session"), first.json()["token"]
    again = await client.post("/api/auth/login", json=credentials(pve))  # sends old_cookie
    assert again.cookies.get("infrahaus_session") != old_cookie
    stale = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {old_token}"})
    assert stale.status_code == 401


async def test_logout_kills_cookie_and_bearer_and_needs_csrf(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    login = (await client.post("/api/auth/login", json=credentials(pve))).json()
    bearer = {"Authorization": f"Bearer {login['token']}"}

    missing = await client.post("/api/auth/logout")
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = await client.post("/api/auth/logout", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403

    done = await client.post("/api/auth/logout", headers={"X-CSRF-Token": login["csrfToken"]})
    assert done.status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer)).status_code == 401
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_bearer_requests_need_no_csrf(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    login = (await client.post("/api/auth/login", json=credentials(pve))).json()
    client.cookies.clear()
    response = await client.post(
        "/api/auth/logout", headers={"Authorization": f"Bearer {login['token']}"}
    )
    assert response.status_code == 204


async def test_failed_logins_are_throttled_per_account_and_per_client(
    settings: Settings, pve: RunningSimulator, redis
) -> None:
    await forget_login_attempts(redis, settings)
    async with api_client(
        settings, login_max_failures=2, login_max_failures_per_client=4
    ) as client:
        bad = credentials(pve, 2, password="bad")
        codes = [(await client.post("/api/auth/login", json=bad)).status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        throttled = await client.post("/api/auth/login", json=bad)
        assert int(throttled.headers["retry-after"]) > 0
        # even the right password waits: the account is locked for the window
        good = credentials(pve, 2)
        assert (await client.post("/api/auth/login", json=good)).status_code == 429
        # other accounts from the same client still count toward the client limit
        other = credentials(pve, 1, password="bad")
        codes = [(await client.post("/api/auth/login", json=other)).status_code for _ in range(3)]
        assert codes == [401, 401, 429]
    await forget_login_attempts(redis, settings)


async def test_hosts_outside_the_allow_list_are_refused(
    settings: Settings, pve: RunningSimulator
) -> None:
    async with api_client(settings, pve_allowed_hosts="10.0.0.0/8,pve.example.com") as client:
        response = await client.post("/api/auth/login", json=credentials(pve))
    assert response.status_code == 403
    assert "PVE_ALLOWED_HOSTS" in response.json()["detail"]


async def test_same_user_on_two_hosts_is_two_users(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    by_ip = (await client.post("/api/auth/login", json=credentials(pve))).json()
    by_name = (await client.post("/api/auth/login", json=credentials(pve, host="localhost"))).json()
    assert by_ip["user"]["userid"] == by_name["user"]["userid"] == "root@pam"
    assert by_ip["user"]["id"] != by_name["user"]["id"]


@pytest.mark.parametrize(
    "changes",
    [
        {"port": 0},
        {"host": "bad host name"},
        {"username": "root@pam"},
        {"realm": "9bad"},
        {"password": ""},
        {"fingerprint": "not-a-fingerprint"},
        {"unexpected": "field"},
    ],
)
async def test_invalid_login_bodies_are_400(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, changes: dict[str, Any]
) -> None:
    response = await client.post("/api/auth/login", json=credentials(pve, **changes))
    assert response.status_code == 400
    assert response.json()["errors"]


def _another_certificate_pem() -> str:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impostor")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


async def test_login_must_be_json_so_forms_cannot_forge_it(
    client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    body = json.dumps(credentials(pve))
    response = await client.post(
        "/api/auth/login", content=body, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert "infrahaus_session" not in response.headers.get("set-cookie", "")


async def test_parallel_guesses_cannot_pass_the_throttle_together(
    settings: Settings, api_server: str, pve: RunningSimulator, redis
) -> None:
    await forget_login_attempts(redis, settings)
    bad = credentials(pve, 2, username=f"guess{uuid.uuid4().hex[:8]}", password="wrong")
    async with httpx.AsyncClient(timeout=30) as http:
        responses = await asyncio.gather(
            *(http.post(f"{api_server}/api/auth/login", json=bad) for _ in range(12))
        )
    codes = sorted(response.status_code for response in responses)
    assert codes == [401] * 5 + [429] * 7, codes  # LOGIN_MAX_FAILURES=5, all at once
    await forget_login_attempts(redis, settings)
