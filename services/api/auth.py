"""Who is calling: a session cookie (browsers, with CSRF) or a bearer token (programs).

The middleware runs on every route except those marked `exclude_from_auth` and the docs. A
missing or expired credential is a 401; an unsafe method on a cookie session without the
matching `X-CSRF-Token` header, or from a page whose `Origin` is neither this API's nor one of
CORS_ALLOWED_ORIGINS, is a 403. Routes with `opt={STREAM_TICKET: True}` (the SSE stream) also
accept a single-use `?ticket=` (services.api.tickets) when no other credential is valid. Routes with
`opt={VMID_PREFETCH: True}` and `node_id`/`vmid` path parameters (the VMID check) get the VMID
set's answer read with the session, in one Redis round trip (shared.domain.vmids), in the request's
scope state under `VMID_PREFETCH`; every other route reads the session alone.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Literal

import msgspec
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.openapi.spec import Components, SecurityScheme

from services.api.cors import origin_allowed
from services.api.editors import template_editors
from services.api.tickets import StreamTickets
from shared.domain.sessions import SessionData, SessionStore
from shared.domain.vmids import VmidCache, VmidPrefetch

SESSION_COOKIE = "infrahaus_session"
CSRF_COOKIE = "infrahaus_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: a route's `opt` key: it accepts a stream ticket as `?ticket=`
STREAM_TICKET = "stream_ticket"
#: a route's `opt` key, and the scope state key of the `VmidPrefetch` it then receives
VMID_PREFETCH = "vmid_prefetch"

#: what protected handlers declare, so the spec says how to authenticate
SECURITY: list[dict[str, list[str]]] = [{"sessionCookie": []}, {"bearerAuth": []}]

SECURITY_COMPONENTS = Components(
    security_schemes={
        "sessionCookie": SecurityScheme(
            type="apiKey",
            name=SESSION_COOKIE,
            security_scheme_in="cookie",
            description="Set by `POST /api/auth/login`. Unsafe methods also need the "
            "`X-CSRF-Token` header (the `csrfToken` of the login response).",
        ),
        "bearerAuth": SecurityScheme(
            type="http",
            scheme="bearer",
            description="The `token` of the login response; no CSRF header needed.",
        ),
        "streamTicket": SecurityScheme(
            type="apiKey",
            name="ticket",
            security_scheme_in="query",
            description="For `EventSource` with a bearer session: a single-use ticket from "
            "`POST /api/containers/{containerId}/events/ticket`, valid for 30 s.",
        ),
    }
)


class CurrentUser(msgspec.Struct, frozen=True):
    id: uuid.UUID
    userid: str
    host: str
    port: int
    via: Literal["cookie", "bearer", "ticket"]
    session: SessionData


class SessionAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        store: SessionStore = connection.app.state.sessions
        authorization = _authorization(connection.scope)
        via: Literal["cookie", "bearer", "ticket"]
        if authorization[:7].lower() == "bearer ":
            secret, via = authorization[7:].strip(), "bearer"
        else:
            secret, via = connection.cookies.get(SESSION_COOKIE, ""), "cookie"
        scope = connection.scope
        # a WebSocket handshake has no method; like any unsafe request it needs the CSRF header
        safe = scope["type"] == ScopeType.HTTP and scope["method"] in SAFE_METHODS
        data: SessionData | None = None
        if secret:
            params = connection.path_params
            node_id, vmid = params.get("node_id"), params.get("vmid")
            if (
                connection.route_handler.opt.get(VMID_PREFETCH)
                and isinstance(node_id, uuid.UUID)
                and isinstance(vmid, int)
            ):
                vmids: VmidCache = connection.app.state.vmids
                data, status = await vmids.session_and_status(store, secret, node_id, vmid)
                connection.scope["state"][VMID_PREFETCH] = VmidPrefetch(node_id, vmid, status)
            else:
                data = await store.lookup(secret, cached=safe)
        if data is None and "ticket" in connection.query_params:
            data, via = await _redeem_stream_ticket(connection, store), "ticket"
        if data is None:
            raise NotAuthorizedException("Not logged in, or the session has expired.")
        if via == "cookie" and not safe:
            if not origin_allowed(connection):
                raise PermissionDeniedException(
                    "This request comes from a page whose origin is not allowed"
                    " (CORS_ALLOWED_ORIGINS)."
                )
            sent = connection.headers.get(CSRF_HEADER, "")
            if not secrets.compare_digest(sent.encode(), data.csrf_token.encode()):
                raise PermissionDeniedException(
                    "Missing or wrong X-CSRF-Token header (the csrfToken from login)."
                )
        user = CurrentUser(
            id=uuid.UUID(data.user_id), userid=data.userid, host=data.host, port=data.port,
            via=via, session=data,
        )  # fmt: skip
        return AuthenticationResult(user=user, auth=via)


def _authorization(scope: Any) -> str:
    """The Authorization header straight from the scope: building the connection's whole
    header map for this one value cost more than the session lookup it leads to."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return ""


async def _redeem_stream_ticket(
    connection: ASGIConnection[Any, Any, Any, Any], store: SessionStore
) -> SessionData | None:
    """The session of a valid `?ticket=`, on the routes that take one (used up either way)."""
    if not connection.route_handler.opt.get(STREAM_TICKET):
        return None
    tickets: StreamTickets = connection.app.state.stream_tickets
    key = await tickets.redeem(
        connection.query_params.get("ticket", ""), connection.path_params["container_id"]
    )
    return await store.lookup_key(key, cached=False) if key else None


def template_editors_only(connection: ASGIConnection[Any, Any, Any, Any], _: object) -> None:
    """Guard of the routes that change templates or buckets or run discovery (403 for a
    logged-in user outside `TEMPLATE_EDITORS`); reading and building stay open."""
    user: CurrentUser = connection.user
    if not template_editors(connection.app.state.settings.template_editors).allows(user.userid):
        raise PermissionDeniedException(
            f"{user.userid} may read templates and buckets and build from them, but not change"
            " them or run discovery: that is for the users in TEMPLATE_EDITORS."
        )
