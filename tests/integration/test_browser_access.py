"""Issue 18 at the HTTP level (real PostgreSQL, Redis and the simulator): CORS from
CORS_ALLOWED_ORIGINS, the cross-site cookie mode and its settings, the Origin check on cookie
sessions, and the single-use stream tickets. The same in a real browser:
tests/e2e/test_browser.py."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.api.app import create_app
from services.api.tickets import TICKET_TTL_SECONDS
from services.pvesim.process import RunningSimulator
from shared.core.lifecycle import EventType
from shared.core.settings import Settings, SettingsError, load_settings
from shared.domain.sessions import SessionStore
from tests.integration.test_events import Writer, owned_container
from tests.support import settings_environment, start_process

FRONTEND = "https://app.example.com"
API = "https://testserver.local"


@pytest.fixture
async def browser_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    changed = msgspec.structs.replace(
        settings, cors_allowed_origins=f"{FRONTEND}, http://localhost:5173",
        session_cookie_cross_site=True,
    )  # fmt: skip
    async with AsyncTestClient(create_app(changed), base_url=API) as client:
        yield client


async def test_a_preflight_from_an_allowed_origin_is_answered_with_exact_headers(
    browser_client: AsyncTestClient[Litestar],
) -> None:
    response = await browser_client.options("/api/containers", headers={
        "Origin": FRONTEND, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-csrf-token,last-event-id,authorization",
    })  # fmt: skip
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == FRONTEND  # never `*`
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("x-csrf-token", "last-event-id", "authorization", "content-type"):
        assert header in allowed
    assert "POST" in response.headers["access-control-allow-methods"]

    refused = await browser_client.options("/api/containers", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_answers_to_an_allowed_origin_expose_location_and_request_id(
    browser_client: AsyncTestClient[Litestar],
) -> None:
    response = await browser_client.get("/api/auth/me", headers={"Origin": FRONTEND})
    assert response.status_code == 401  # errors are readable by the frontend too
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert response.headers["vary"] == "Origin"
    exposed = response.headers["access-control-expose-headers"]
    assert "Location" in exposed and "X-Request-ID" in exposed
    other = await browser_client.get("/api/auth/me", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_without_the_setting_there_are_no_cors_headers(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.options("/api/containers", headers={
        "Origin": FRONTEND, "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in response.headers
    response = await client.get("/health", headers={"Origin": FRONTEND})
    assert "access-control-allow-origin" not in response.headers


async def test_cross_site_mode_issues_samesite_none_secure_cookies(
    browser_client: AsyncTestClient[Litestar], pve: RunningSimulator
) -> None:
    user, port = pve.info["users"][0], httpx.URL(pve.info["apiUrl"]).port
    response = await browser_client.post("/api/auth/login", headers={"Origin": FRONTEND}, json={
        "host": "127.0.0.1", "port": port, "username": user["username"], "realm": user["realm"],
        "password": user["password"]})  # fmt: skip
    assert response.status_code == 200, response.text
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert "SameSite=none" in cookie and "Secure" in cookie, cookie
    csrf = response.json()["csrfToken"]
    logout = await browser_client.post(
        "/api/auth/logout", headers={"Origin": FRONTEND, "X-CSRF-Token": csrf}
    )
    assert logout.status_code == 204
    for cookie in logout.headers.get_list("set-cookie"):  # removed with the same attributes
        assert "SameSite=none" in cookie and "Secure" in cookie and "Max-Age=0" in cookie


def test_cross_site_cookies_without_an_allowed_origin_are_refused_at_start(
    tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(SettingsError, match="SESSION_COOKIE_CROSS_SITE: needs CORS_ALLOWED"):
        load_settings({"SESSION_COOKIE_CROSS_SITE": "true"})
    for bad in ("*", "https://app.example.com/", "https://a.example,*", "app.example.com"):
        with pytest.raises(SettingsError, match="CORS_ALLOWED_ORIGINS"):
            load_settings({"CORS_ALLOWED_ORIGINS": bad})
    env = settings_environment(settings) | {"SESSION_COOKIE_CROSS_SITE": "true"}
    env.pop("CORS_ALLOWED_ORIGINS", None)
    process = start_process("services.api", env, tmp_path / "api.log")
    assert process.wait(30) == 2
    assert (
        "SESSION_COOKIE_CROSS_SITE: needs CORS_ALLOWED_ORIGINS"
        in (tmp_path / "api.log").read_text()
    )


async def _cookie_session(settings: Settings, redis: Redis) -> tuple[str, str]:
    owned = await owned_container(settings)
    new = await SessionStore(redis, 600).create(
        user_id=str(owned.user_id), userid="tests@pve", host="x.invalid", port=8006
    )
    return new.session_id, new.data.csrf_token


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (None, 204),  # not a browser: the CSRF token alone
        (FRONTEND, 204),  # an allowed frontend
        (API, 204),  # this API's own pages (the docs)
        ("http://testserver.local", 204),  # same host behind a TLS-terminating proxy
        ("https://evil.example", 403),
        ("https://testserver.local.evil.example", 403),
        ("null", 403),
    ],
)
async def test_unsafe_cookie_requests_are_checked_against_the_allowed_origins(
    browser_client: AsyncTestClient[Litestar], settings: Settings, redis: Redis,
    origin: str | None, status: int,
) -> None:  # fmt: skip
    session_id, csrf = await _cookie_session(settings, redis)
    headers = {"X-CSRF-Token": csrf, "Cookie": f"infrahaus_session={session_id}"}
    if origin is not None:
        headers["Origin"] = origin
    response = await browser_client.post("/api/auth/logout", headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert "origin is not allowed" in response.json()["detail"]


async def test_a_stream_ticket_opens_the_stream_once(
    browser_client: AsyncTestClient[Litestar], settings: Settings, redis: Redis
) -> None:
    owned = await owned_container(settings)
    await Writer(settings).record(owned.container_id, 2, final=EventType.COMPLETE)
    url = f"/api/containers/{owned.container_id}/events/ticket"
    issued = await browser_client.post(url, headers=owned.headers)
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert body["expiresIn"] == TICKET_TTL_SECONDS <= 60
    key = "stream-ticket:" + hashlib.sha256(body["ticket"].encode()).hexdigest()
    assert 0 < await redis.ttl(key) <= 60
    assert await redis.get(f"stream-ticket:{body['ticket']}") is None  # stored hashed only

    first = await browser_client.get(body["streamUrl"])  # no Authorization, no cookie
    assert first.status_code == 200, first.text
    assert [line for line in first.text.splitlines() if line.startswith("id:")] == [
        "id: 1", "id: 2", "id: 3",
    ]  # fmt: skip
    again = await browser_client.get(body["streamUrl"])  # EventSource's own retry
    assert again.status_code == 401
    # the client asks a new one and resumes after its last id
    fresh = (await browser_client.post(url, headers=owned.headers)).json()
    resumed = await browser_client.get(f"{fresh['streamUrl']}&lastEventId=2")
    assert [line for line in resumed.text.splitlines() if line.startswith("id:")] == ["id: 3"]


async def test_a_ticket_opens_only_its_container_and_dies_with_its_session(
    browser_client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    owned = await owned_container(settings)
    other = await owned_container(settings, owned.user_id)
    url = f"/api/containers/{owned.container_id}/events/ticket"
    ticket = (await browser_client.post(url, headers=owned.headers)).json()["ticket"]
    elsewhere = f"/api/containers/{other.container_id}/events/stream?ticket={ticket}"
    assert (await browser_client.get(elsewhere)).status_code == 401
    # ... and it is used up by that attempt
    mine = f"/api/containers/{owned.container_id}/events/stream?ticket={ticket}"
    assert (await browser_client.get(mine)).status_code == 401
    # a ticket only works on the stream
    ticket = (await browser_client.post(url, headers=owned.headers)).json()["ticket"]
    page = f"/api/containers/{owned.container_id}/events?ticket={ticket}"
    assert (await browser_client.get(page)).status_code == 401
    # logout ends the session, and its tickets with it
    ticket = (await browser_client.post(url, headers=owned.headers)).json()["ticket"]
    assert (await browser_client.post("/api/auth/logout", headers=owned.headers)).status_code == 204
    assert (await browser_client.get(mine.split("=")[0] + f"={ticket}")).status_code == 401
    # another user's container: 404 for the ticket as for everything else
    stranger = await owned_container(settings)
    foreign = f"/api/containers/{owned.container_id}/events/ticket"
    assert (await browser_client.post(foreign, headers=stranger.headers)).status_code == 404
    assert (
        await browser_client.post(f"/api/containers/{uuid.uuid4()}/events/ticket",
                                  headers=stranger.headers)
    ).status_code == 404  # fmt: skip
