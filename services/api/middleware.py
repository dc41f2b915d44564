"""Per-request context: a request id on every log line and response, one access-log line.

This wraps the whole Litestar ASGI handler (routing included), so requests that never reach a
route (404, 405) get a request id and an access-log line too. It runs on every request, so it
reads the headers once, makes its id without `uuid4`, and sets the log context's ContextVar
itself (no structlog context manager). The access-log line is encoded by msgspec and written
in batches (shared.core.logging.AccessLog; flushed at shutdown too).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.core import metrics
from shared.core.logging import AccessLog, request_id_var

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
# An id a client or proxy sends is kept only if it cannot smuggle anything into logs.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Probes hit these every few seconds; they are logged only at LOG_LEVEL=debug.
_QUIET_PATHS = frozenset({"/health", "/ready"})

log = AccessLog("services.api.access")


class _RequestIds:
    """32 hex digits: a random prefix per process and a counter. Unique across processes
    (80 random bits) and far cheaper than `uuid4`; a request id is a label, not a secret."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(10)
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


class RequestContext:
    def __init__(self, app: ASGIApp, *, log_probes: bool = False) -> None:
        self.app = app
        # Decided once: the probe paths are the hottest and must not pay for a dropped log call.
        self.log_probes = log_probes
        self._ids = _RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_HEADER:
                incoming = value.decode("latin-1")
                if _SAFE_REQUEST_ID.match(incoming):
                    request_id = incoming
                break
        if not request_id:
            request_id = self._ids.next()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (_REQUEST_ID_HEADER, request_id.encode())
        status = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            seconds = time.perf_counter() - started
            # the route template routing put in the scope; never the raw path (unbounded)
            metrics.observe_request(
                scope["method"], scope.get("path_template") or "unmatched", status, seconds
            )
            if self.log_probes or scope["path"] not in _QUIET_PATHS:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
            request_id_var.reset(token)
