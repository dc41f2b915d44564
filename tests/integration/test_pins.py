"""Issue 12, item 1: a login never moves a host's certificate pin; re-pinning is a deliberate,
audited act of a user of the host (under the old pin) or of an operator."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import select

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.db import AuditEntry, PveHost, create_engine, create_session_factory
from shared.domain.sessions import SessionStore
from tests.integration.test_auth import (
    _another_certificate_pem,
    _restore_pin,
    _set_pin,
    credentials,
)
from tests.support import settings_environment

OLD_PIN = "0A:" * 31 + "0A"


async def _pin_of(settings: Settings, body: dict[str, Any]) -> str | None:
    engine = create_engine(settings, pooled=False)
    async with create_session_factory(engine)() as session:
        pin = await session.scalar(
            select(PveHost.tls_fingerprint).where(
                PveHost.host == body["host"], PveHost.port == body["port"]
            )
        )
    await engine.dispose()
    return pin


async def _audit(settings: Settings, action: str, target: str) -> list[AuditEntry]:
    engine = create_engine(settings, pooled=False)
    async with create_session_factory(engine)() as session:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.target_id == target)
                .order_by(AuditEntry.created_at)
            )
        ).all()
    await engine.dispose()
    return list(rows)


async def test_a_login_naming_another_fingerprint_is_409_and_leaves_the_pin(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, settings: Settings
) -> None:
    body = credentials(pve, 1)
    assert (await client.post("/api/auth/login", json=body)).status_code == 200
    # what an interceptor would do: a (correct) login that names its own certificate
    response = await client.post("/api/auth/login", json={**body, "fingerprint": "AB" * 32})
    assert response.status_code == 409, response.text
    problem = response.json()
    assert "/api/auth/repin" in problem["detail"] and "shared.pins" in problem["detail"]
    assert await _pin_of(settings, body) == pve.info["tlsFingerprint"]
    # the same fingerprint as the pin is fine
    same = await client.post(
        "/api/auth/login", json={**body, "fingerprint": pve.info["tlsFingerprint"].lower()}
    )
    assert same.status_code == 200


async def _session_under(
    redis: Redis, user: dict[str, Any], body: dict[str, Any], fingerprint: str | None
) -> dict[str, str]:
    new = await SessionStore(redis, 600).create(
        user_id=user["id"], userid=user["userid"], host=body["host"], port=body["port"],
        tls_fingerprint=fingerprint,
    )  # fmt: skip
    return {"Authorization": f"Bearer {new.bearer_token}"}


async def test_a_user_logged_in_under_the_old_pin_re_pins_and_it_is_audited(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, settings: Settings, redis: Redis
) -> None:
    body = credentials(pve, 1)
    login = await client.post("/api/auth/login", json=body)
    assert login.status_code == 200
    client.cookies.clear()
    user = login.json()["user"]
    # The host's certificate was renewed: the pin (OLD_PIN) is what the user's session was
    # made under; the host now presents the simulator's certificate.
    await _set_pin(settings, body, _another_certificate_pem(), OLD_PIN)
    target = f"{body['host']}:{body['port']}"
    try:
        new = pve.info["tlsFingerprint"]
        # a session made under another pin (or before pins were recorded) may not
        for stale in (None, "0B:" * 31 + "0B"):
            headers = await _session_under(redis, user, body, stale)
            refused = await client.post(
                "/api/auth/repin", json={"fingerprint": new}, headers=headers
            )
            assert refused.status_code == 403, refused.text
        assert await _pin_of(settings, body) == OLD_PIN
        headers = await _session_under(redis, user, body, OLD_PIN)
        # a fingerprint the host does not present is refused
        wrong = await client.post(
            "/api/auth/repin", json={"fingerprint": "CD" * 32}, headers=headers
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["errors"][0]["field"] == "fingerprint"
        assert await _pin_of(settings, body) == OLD_PIN
        # without a login: 401
        assert (await client.post("/api/auth/repin", json={"fingerprint": new})).status_code == 401

        done = await client.post("/api/auth/repin", json={"fingerprint": new}, headers=headers)
        assert done.status_code == 200, done.text
        assert done.json() == {
            "host": body["host"], "port": body["port"], "tlsFingerprint": new,
            "previousFingerprint": OLD_PIN, "changed": True,
        }  # fmt: skip
        assert await _pin_of(settings, body) == new
        entries = await _audit(settings, "auth.repin", target)
        assert entries[-1].outcome == "success"
        assert entries[-1].user_id == uuid.UUID(user["id"])
        assert entries[-1].detail["previous_fingerprint"] == OLD_PIN
        assert entries[-1].detail["fingerprint"] == new
        assert any(e.outcome == "failure" for e in entries)
        # and logins work again, without naming anything
        assert (await client.post("/api/auth/login", json=body)).status_code == 200
    finally:
        await _restore_pin(settings, body, pve)


async def test_an_operator_re_pins_with_the_command_and_it_is_audited(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, settings: Settings
) -> None:
    body = credentials(pve, 1)
    assert (await client.post("/api/auth/login", json=body)).status_code == 200
    await _set_pin(settings, body, _another_certificate_pem(), OLD_PIN)
    env = settings_environment(settings)
    command = [sys.executable, "-m", "shared.pins", "repin", body["host"], str(body["port"])]
    try:
        wrong = await asyncio.to_thread(
            subprocess.run, [*command, "CD" * 32], env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert wrong.returncode == 1, wrong.stderr
        assert "TLS certificate changed" in wrong.stderr
        assert await _pin_of(settings, body) == OLD_PIN

        done = await asyncio.to_thread(
            subprocess.run, [*command, pve.info["tlsFingerprint"]], env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "re-pinned" in done.stdout
        assert await _pin_of(settings, body) == pve.info["tlsFingerprint"]
        entries = await _audit(settings, "auth.repin", f"{body['host']}:{body['port']}")
        assert entries[-1].detail["by"].startswith("operator")
        assert entries[-1].detail["previous_fingerprint"] == OLD_PIN
        assert (await client.post("/api/auth/login", json=body)).status_code == 200
    finally:
        await _restore_pin(settings, body, pve)
