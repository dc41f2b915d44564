"""Login with Proxmox credentials, logout, and who am I."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import (
    HTTP_204_NO_CONTENT,
    HTTP_429_TOO_MANY_REQUESTS,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import CSRF_COOKIE, SECURITY, SESSION_COOKIE, CurrentUser
from services.api.problems import problem_responses
from services.api.schemas.auth import (
    LoginRequest,
    LoginResponse,
    Me,
    RepinRequest,
    RepinResponse,
    UserRead,
)
from services.api.throttle import BUSY, LoginThrottle, Outcome
from shared.adapters.proxmox import (
    CertificateMismatch,
    ProxmoxAuthError,
    ProxmoxTimeout,
    ProxmoxUnavailable,
)
from shared.adapters.proxmox.errors import NotProxmox
from shared.adapters.proxmox.hosts import NonCanonicalHost, canonical_host
from shared.core.errors import InvalidInput, Unprocessable
from shared.core.settings import Settings
from shared.domain.accounts import AccountService, PinConflict, repin_hint
from shared.domain.sessions import SessionStore

UNREACHABLE = (
    "The host did not answer as a Proxmox VE API: it cannot be reached, refused the connection,"
    " did not answer in time, or is not Proxmox VE. Check the host name and port (8006)."
)


# Answers that carry a token are kept by no cache (browser, proxy, disk).
NO_STORE = {"Cache-Control": "no-store"}

# How long a login waits for attempts in flight on its account before it is refused (429).
ADMIT_WAIT_SECONDS = 10.0


async def _admit(throttle: LoginThrottle, client: str, account: str) -> int:
    """Take the attempt's place in the throttle; returns the slowdown to wait first."""
    deadline = time.monotonic() + ADMIT_WAIT_SECONDS
    while True:
        status, value = await throttle.reserve(client, account)
        if status == 0:
            return value
        if status == BUSY and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # attempts in flight decide whether a limit is reached
            continue
        retry = max(value, 1)
        raise HTTPException(
            status_code=HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many failed logins; try again in {retry} s.",
            headers={"Retry-After": str(retry)},
        )


def _client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


@post(
    "/api/auth/login",
    operation_id="Login",
    tags=["Auth"],
    summary="Log in with Proxmox credentials",
    status_code=200,
    exclude_from_auth=True,
    security=[],
    responses=problem_responses(400, 401, 403, 404, 409, 422, 429, 502, 503, 504),
)
async def login(
    data: JSONBody[LoginRequest],
    request: Request[Any, Any, Any],
    state: State,
    db_session: NamedDependency[AsyncSession],
) -> Response[LoginResponse]:
    """Checks the credentials against the host's `/access/ticket` and starts a session.

    The session cookie is HttpOnly; send `csrfToken` as `X-CSRF-Token` on unsafe requests, or
    use `token` as `Authorization: Bearer <token>` instead of the cookie. The host's TLS
    certificate is pinned at the first login (or to `fingerprint` when given); a later change
    is refused until the new fingerprint is given.

    A host that cannot be reached or is not Proxmox VE, and a `fingerprint` the host does not
    present at first contact, are 422s naming the field.
    """
    settings: Settings = state.settings
    throttle: LoginThrottle = state.login_throttle
    store: SessionStore = state.sessions
    try:
        host = canonical_host(data.host)
    except NonCanonicalHost as exc:
        raise InvalidInput(str(exc), field="host") from None
    client = _client_address(request)
    account = f"{host}:{data.port}:{data.username}@{data.realm}"
    delay = await _admit(throttle, client, account)
    if delay:  # the account has many recent failures: a slowdown, not a lockout
        await asyncio.sleep(delay)
    outcome: Outcome = "none"
    try:
        user, pinned = await AccountService(db_session, settings).login(
            host=host,
            port=data.port,
            username=data.username,
            realm=data.realm,
            password=data.password,
            fingerprint=data.fingerprint,
        )
        outcome = "success"
    except ProxmoxAuthError:
        outcome = "failure"  # only a wrong password counts against the account
        raise NotAuthorizedException("Proxmox rejected the user name or password.") from None
    except (ProxmoxUnavailable, ProxmoxTimeout, NotProxmox):
        # One answer for closed ports, timeouts and hosts that are not Proxmox VE, so login is
        # no port scanner; and it counts for the client, so it is no unlimited one either. The
        # host and port are the caller's: a 422 naming them, not a 5xx.
        outcome = "client"
        raise Unprocessable(UNREACHABLE, field="host") from None
    except Unprocessable:  # a first contact whose certificate is not `fingerprint`
        outcome = "client"
        raise
    except CertificateMismatch as exc:  # the pinned certificate changed
        outcome = "client"
        detail = f"{exc.message} {repin_hint(host, data.port)}"
        raise HTTPException(status_code=502, detail=detail) from None
    except PinConflict:
        outcome = "client"
        raise
    finally:
        await throttle.finish(client, account, outcome)

    # Never adopt a session id the client brought along: end it and issue fresh secrets.
    previous = await store.lookup(request.cookies.get(SESSION_COOKIE, ""))
    if previous is not None:
        await store.destroy(previous)
    host, port = user.host_identity.rsplit(":", 1)
    new = await store.create(
        user_id=str(user.id),
        userid=user.userid,
        host=host,
        port=int(port),
        tls_fingerprint=pinned.fingerprint,
    )
    body = LoginResponse(
        user=UserRead(id=user.id, userid=user.userid, host=host, port=int(port)),
        csrf_token=new.data.csrf_token,
        token=new.bearer_token,
        expires_in=settings.session_ttl_seconds,
        tls_fingerprint=pinned.fingerprint,
    )
    return Response(
        body,
        cookies=_session_cookies(settings, new.session_id, new.data.csrf_token),
        headers=NO_STORE,  # it carries the bearer and CSRF tokens
    )


def _session_cookies(settings: Settings, session_id: str, csrf_token: str) -> list[Cookie]:
    # A frontend on another site needs `SameSite=None`, which browsers take only with
    # `Secure`; the CSRF token and the Origin check still guard every unsafe request.
    cross_site = settings.session_cookie_cross_site
    common: dict[str, Any] = {
        "path": "/",
        "samesite": "none" if cross_site else "lax",
        "secure": settings.session_cookie_secure or cross_site,
        "max_age": settings.session_ttl_seconds,
    }
    return [
        Cookie(key=SESSION_COOKIE, value=session_id, httponly=True, **common),
        # readable by the page's script, which echoes it in X-CSRF-Token
        Cookie(key=CSRF_COOKIE, value=csrf_token, httponly=False, **common),
    ]


@post(
    "/api/auth/logout",
    operation_id="Logout",
    tags=["Auth"],
    summary="End the session",
    status_code=HTTP_204_NO_CONTENT,
    security=SECURITY,
    responses={
        HTTP_204_NO_CONTENT: ResponseSpec(None, description="Logged out; cookies cleared."),
        **problem_responses(401, 403),
    },
)
async def logout(request: Request[CurrentUser, Any, Any], state: State) -> Response[None]:
    """Deletes the session server-side: its cookie and its bearer token stop working at once."""
    store: SessionStore = state.sessions
    await store.destroy(request.user.session)
    # the same attributes as at login, or a cross-site browser would ignore the removal
    expired = [
        Cookie(key=c.key, value="", path="/", max_age=0, samesite=c.samesite, secure=c.secure)
        for c in _session_cookies(state.settings, "", "")
    ]
    return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=expired)


@get(
    "/api/auth/me",
    operation_id="GetCurrentUser",
    tags=["Auth"],
    summary="The logged-in user",
    security=SECURITY,
    responses=problem_responses(401),
)
async def me(request: Request[CurrentUser, Any, Any]) -> Response[Me]:
    user = request.user
    body = Me(
        user=UserRead(id=user.id, userid=user.userid, host=user.host, port=user.port),
        csrf_token=user.session.csrf_token,
        logged_in_at=dt.datetime.fromtimestamp(user.session.created_at, dt.UTC),
    )
    return Response(body, headers=NO_STORE)  # it carries the CSRF token


@post(
    "/api/auth/repin",
    operation_id="RepinHostCertificate",
    tags=["Auth"],
    summary="Pin the certificate your Proxmox host presents now",
    status_code=200,
    security=SECURITY,
    responses=problem_responses(400, 401, 403, 404, 409, 422, 502, 504),
)
async def repin(
    data: JSONBody[RepinRequest],
    request: Request[CurrentUser, Any, Any],
    state: State,
    db_session: NamedDependency[AsyncSession],
) -> RepinResponse:
    """After a deliberate certificate change on the host you are logged in to: checks that the
    host presents the certificate with `fingerprint` and pins it for every user of the host.

    Only a session made under the host's current pin may do this (403 otherwise); logins
    never change a pin. A host presenting another certificate than `fingerprint` is a 422
    naming the field. Audited
    (`auth.repin`). Operators can do the same with `python -m shared.pins repin`.
    """
    user = request.user
    settings: Settings = state.settings
    try:
        previous, new = await AccountService(db_session, settings).repin(
            host=user.host,
            port=user.port,
            fingerprint=data.fingerprint,
            actor_user_id=user.id,
            actor=user.userid,
            session_fingerprint=user.session.tls_fingerprint,
        )
    except (ProxmoxUnavailable, ProxmoxTimeout, NotProxmox):
        raise HTTPException(status_code=502, detail=UNREACHABLE) from None
    except CertificateMismatch as exc:  # the host does not present the certificate named
        raise Unprocessable(exc.message, field="fingerprint") from None
    return RepinResponse(
        host=user.host,
        port=user.port,
        tls_fingerprint=new,
        previous_fingerprint=previous,
        changed=previous != new,
    )


ROUTES = [login, logout, me, repin]
