"""Per-request context: a request id on every log line and response, one access-log line.

This wraps the whole Litestar ASGI handler (routing included), so requests that never reach a
route (404, 405) get a request id and an access-log line too.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.logging import get_logger

REQUEST_ID_HEADER = "x-request-id"
# An id a client or proxy sends is kept only if it cannot smuggle anything into logs.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Probes hit these every few seconds; they are logged only at LOG_LEVEL=debug.
_QUIET_PATHS = frozenset({"/health", "/ready"})

log = get_logger("services.api.access")


class RequestContext:
    def __init__(self, app: ASGIApp, *, log_probes: bool = False) -> None:
        self.app = app
        # Decided once: the probe paths are the hottest and must not pay for a dropped log call.
        self.log_probes = log_probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                if self.log_probes or scope["path"] not in _QUIET_PATHS:
                    log.info(
                        "request",
                        method=scope["method"],
                        path=scope["path"],
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    )
