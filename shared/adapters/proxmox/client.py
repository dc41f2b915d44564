"""The Proxmox VE API client: envelopes, auth, pinned TLS, typed errors, safe retries."""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec
import stamina

from shared.adapters.node_time import on_node
from shared.adapters.proxmox.errors import (
    CertificateMismatch,
    NotProxmox,
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxLockTimeout,
    ProxmoxNotFound,
    ProxmoxPermissionError,
    ProxmoxTimeout,
    ProxmoxUnavailable,
    ProxmoxValidationError,
    ResponseTooLarge,
    remote_text,
)
from shared.adapters.proxmox.tls import PinnedCertificate, is_pin_failure
from shared.core import metrics
from shared.core.logging import get_logger

log = get_logger(__name__)

_T = TypeVar("_T")

# PVE tickets live 2 h; renew well before (proxmoxer does the same after 1 h).
TICKET_RENEW_AFTER = 3600.0
# Idle kept-alive connections are dropped by us first, before pveproxy closes them.
KEEPALIVE_SECONDS = 4.0
# The largest answer read from a node (`PVE_MAX_RESPONSE_BYTES`); a bigger one is a 502.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class _ConnectFailed(ProxmoxUnavailable):
    """Nothing was sent: retrying is safe for every method."""


class TokenAuth(msgspec.Struct, frozen=True):
    """An API token: stateless, no CSRF; the identity is `user@realm!tokenid`, not the user."""

    token_id: str
    secret: str

    def header(self) -> bytes:
        # UTF-8: PVE's user names may hold any non-space character (`jürgen@pve`), and a
        # header value is octets; httpx would refuse a non-ASCII str.
        return f"PVEAPIToken={self.token_id}={self.secret}".encode()


class Ticket(msgspec.Struct, frozen=True):
    username: str
    ticket: str
    csrf_token: str
    obtained_at: float


class TicketAuth:
    """Username/password: a ticket cookie plus the CSRF header on writes, renewed before expiry."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password
        self.ticket: Ticket | None = None


class Version(msgspec.Struct):
    version: str
    release: str = ""
    repoid: str = ""


class NodeInfo(msgspec.Struct):
    node: str
    status: str = "unknown"
    ssl_fingerprint: str | None = None


class TaskStatus(msgspec.Struct):
    status: str
    exitstatus: str | None = None
    upid: str = ""


class TaskResult(msgspec.Struct):
    upid: str
    exitstatus: str
    log_tail: list[str]

    @property
    def ok(self) -> bool:
        return self.exitstatus == "OK"


def typed(data: Any, type_: type[_T]) -> _T:
    """PVE data as our type, accepting its quirks (0/1 booleans, numbers as strings); an answer
    of another shape is the node's error (502), never ours (500)."""
    try:
        return msgspec.convert(data, type_, strict=False)
    except msgspec.ValidationError as exc:
        raise ProxmoxError(f"the node sent an answer of an unexpected shape: {exc}") from None


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def is_pve_answer(response: httpx.Response, decoded: Any) -> bool:
    """Does this look like Proxmox VE's API (the `{"data": ...}` envelope, or an error from
    pve-api-daemon, which may come without a body)? Only then is the host's text shown."""
    if isinstance(decoded, dict) and "data" in decoded:
        return True
    server: str = response.headers.get("server", "")
    return server.startswith("pve-api-daemon")


def _message_of(response: httpx.Response, decoded: Any) -> tuple[str, dict[str, str]]:
    """PVE's error text: the `message` of the body (PVE >= 8.3) or else the reason phrase;
    sanitized and truncated, since the host chose it."""
    message, errors = "", {}
    if isinstance(decoded, dict):
        message = str(decoded.get("message") or "")
        raw_errors = decoded.get("errors")
        if isinstance(raw_errors, dict):
            errors = {remote_text(str(k), 64): remote_text(str(v)) for k, v in raw_errors.items()}
    message = remote_text(message or response.reason_phrase or "") or f"HTTP {response.status_code}"
    return message, errors


def error_for(response: httpx.Response, body: bytes = b"") -> ProxmoxError:
    status = response.status_code
    decoded = _decode(body)
    if not is_pve_answer(response, decoded):
        return NotProxmox(f"the host's answer (HTTP {status}) is not a Proxmox VE API answer")
    message, errors = _message_of(response, decoded)
    if status == 400:
        return ProxmoxValidationError(message, errors)
    if status == 401:
        return ProxmoxAuthError(message or "authentication failure", status=status)
    if status == 403:
        return ProxmoxPermissionError(message, status=status)
    if status == 501 or "does not exist" in message:
        return ProxmoxNotFound(message, status=status)
    if is_lock_timeout(message):
        return ProxmoxLockTimeout(message, status=status)
    if status in (595, 596):  # pveproxy: node unreachable / no ticket for it
        return ProxmoxUnavailable(message, status=status)
    return ProxmoxError(message, status=status)


class ProxmoxClient:
    """One node's API. Use as an async context manager, or call `aclose()`."""

    def __init__(
        self,
        host: str,
        port: int,
        pinned: PinnedCertificate,
        auth: TokenAuth | TicketAuth | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        attempts: int = 3,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        metrics_node: str = "unregistered",
    ) -> None:
        self.host, self.port = host, port
        # the `node` label of this client's call metrics: a registered node's id (never its
        # name, which users choose); hosts that are not (yet) registered nodes (log-ins,
        # node tests) share one label
        self.metrics_node = metrics_node
        self.max_response_bytes = max_response_bytes
        self.pinned = pinned
        self.auth = auth
        self.attempts = attempts
        self._http = httpx.AsyncClient(
            base_url=f"https://{_host_for_url(host)}:{port}/api2/json",
            verify=pinned.ssl_context(),
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"Accept": "application/json"},
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
        )

    async def __aenter__(self) -> ProxmoxClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport -------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None, authenticated: bool = True,
    ) -> Any:  # fmt: skip
        """Send one API call and return the envelope's `data`, retrying only what is safe."""
        retry_on: tuple[type[Exception], ...] = (_ConnectFailed, ProxmoxLockTimeout)
        if method == "GET":
            retry_on += (ProxmoxUnavailable, ProxmoxTimeout)
        async for attempt in stamina.retry_context(
            on=retry_on, attempts=self.attempts, wait_initial=0.2, wait_max=2.0, wait_jitter=0.2
        ):
            with attempt:
                return await self._send(method, path, params, data, authenticated)
        raise AssertionError(
            "unreachable"
        )  # pragma: no cover - retry_context always returns/raises

    async def _send(
        self, method: str, path: str, params: dict[str, Any] | None,
        data: dict[str, Any] | None, authenticated: bool,
    ) -> Any:  # fmt: skip
        headers: dict[bytes, bytes] = {}
        if authenticated and self.auth is not None:
            if isinstance(self.auth, TokenAuth):
                headers[b"Authorization"] = self.auth.header()
            else:
                ticket = await self._valid_ticket(self.auth)
                headers[b"Cookie"] = f"PVEAuthCookie={quote(ticket.ticket, safe='')}".encode()
                if method != "GET":
                    headers[b"CSRFPreventionToken"] = ticket.csrf_token.encode()
        started = time.perf_counter()
        try:
            with on_node():
                response, body = await self._exchange(method, path, params, data, headers)
        except Exception as exc:
            metrics.observe_node_call(
                self.metrics_node, method, time.perf_counter() - started, _error_kind(exc)
            )
            translated = self._translated(exc)
            if translated is exc:
                raise
            raise translated from None
        metrics.observe_node_call(
            self.metrics_node, method, time.perf_counter() - started,
            None if response.is_success else _http_kind(response.status_code),
        )  # fmt: skip
        if response.is_success:
            decoded = _decode(body)
            if not isinstance(decoded, dict) or "data" not in decoded:
                raise NotProxmox("the node sent a response that is not PVE JSON")
            return decoded["data"]
        raise error_for(response, body)

    def _translated(self, exc: Exception) -> Exception:
        """The ProxmoxError a transport failure stands for (anything else as it is)."""
        where = f"{self.host}:{self.port}"
        if isinstance(exc, httpx.ConnectTimeout):
            return _ConnectFailed(f"{where} did not accept a connection in time")
        if isinstance(exc, httpx.ConnectError):
            if is_pin_failure(exc):
                return CertificateMismatch(self.pinned.fingerprint, "a different certificate")
            return _ConnectFailed(f"cannot connect to {where}: {exc}")
        if isinstance(exc, httpx.TimeoutException):
            return ProxmoxTimeout(f"{where} did not answer in time")
        if isinstance(exc, httpx.TransportError):
            return ProxmoxUnavailable(f"connection to {where} failed: {exc}")
        return exc

    async def _exchange(
        self, method: str, path: str, params: dict[str, Any] | None,
        data: dict[str, Any] | None, headers: dict[bytes, bytes],
    ) -> tuple[httpx.Response, bytes]:  # fmt: skip
        """Send the request and read at most `max_response_bytes` of the answer: a node (or
        whatever answers in its place) cannot make us buffer more than that."""
        request = self._http.build_request(
            method, path, params=_wire(params), data=_wire(data), headers=headers
        )
        response = await self._http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_response_bytes:
                raise self._too_large()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise self._too_large()
        finally:
            await response.aclose()
        return response, bytes(body)

    def _too_large(self) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"{self.host}:{self.port} sent an answer larger than {self.max_response_bytes}"
            " bytes (PVE_MAX_RESPONSE_BYTES); reading stopped there"
        )

    async def _valid_ticket(self, auth: TicketAuth) -> Ticket:
        if auth.ticket is None:
            auth.ticket = await self.create_ticket(auth.username, auth._password)
        elif time.time() - auth.ticket.obtained_at > TICKET_RENEW_AFTER:
            # Renewal: the current ticket stands in for the password.
            auth.ticket = await self.create_ticket(auth.username, auth.ticket.ticket)
        return auth.ticket

    # -- calls -----------------------------------------------------------------------------

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, **data: Any) -> Any:
        return await self.request("POST", path, data=data or None)

    async def put(self, path: str, **data: Any) -> Any:
        return await self.request("PUT", path, data=data or None)

    async def delete(self, path: str, **params: Any) -> Any:
        return await self.request("DELETE", path, params=params or None)

    async def create_ticket(self, username: str, password: str) -> Ticket:
        """`POST /access/ticket`; a wrong password is a `ProxmoxAuthError`."""
        data = await self.request(
            "POST", "/access/ticket", data={"username": username, "password": password},
            authenticated=False,
        )  # fmt: skip
        if not isinstance(data, dict) or "ticket" not in data:
            raise ProxmoxAuthError("the node did not issue a ticket (two-factor login?)")
        if "CSRFPreventionToken" not in data:
            raise ProxmoxError("the node issued a ticket without a CSRF token")
        return Ticket(
            username=str(data.get("username") or username),
            ticket=str(data["ticket"]),
            csrf_token=str(data["CSRFPreventionToken"]),
            obtained_at=time.time(),
        )

    async def version(self) -> Version:
        return typed(await self.get("/version"), Version)

    async def nodes(self) -> list[NodeInfo]:
        return typed(await self.get("/nodes"), list[NodeInfo])

    async def task_status(self, node: str, upid: str) -> TaskStatus:
        data = await self.get(f"/nodes/{segment(node)}/tasks/{segment(upid)}/status")
        return typed(data, TaskStatus)

    async def task_log_tail(self, node: str, upid: str, lines: int = 50) -> list[str]:
        data = await self.get(f"/nodes/{segment(node)}/tasks/{segment(upid)}/log", limit=5000)
        # the node's text ends up in events and failure reasons: sanitized like every other
        texts = [
            remote_text(str(item.get("t", ""))) for item in data or [] if isinstance(item, dict)
        ]
        return texts[-lines:]


# the error statuses a Proxmox VE node answers with, each its own `kind`; any other status a
# host sends (it may be anything from 100 to 999) is counted by its class, so one host cannot
# make hundreds of series
_KNOWN_STATUSES = frozenset({400, 401, 403, 404, 500, 501, 502, 503, 504, 595, 596, 599})


def _http_kind(status: int) -> str:
    """The `kind` label of a call answered with a status that is not a success."""
    if status in _KNOWN_STATUSES:
        return f"http_{status}"
    return f"http_{status // 100}xx" if 100 <= status < 600 else "http_other"


def _error_kind(exc: Exception) -> str:
    """The `kind` label of a failed call that got no HTTP answer."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return "certificate" if is_pin_failure(exc) else "connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TransportError):
        return "transport"
    if isinstance(exc, ResponseTooLarge):
        return "too_large"
    return "other"


def is_lock_timeout(message: str) -> bool:
    """PVE's text for losing the race for a guest's config lock (an answer or a task's end)."""
    return "can't lock file" in message and "got timeout" in message


def segment(value: str | int) -> str:
    """One path segment, percent-encoded (UPIDs carry ':' and '@', which PVE accepts)."""
    return quote(str(value), safe=":@!")


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _wire(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """PVE wants booleans as 1/0 and drops nothing else; None means "not sent"."""
    if values is None:
        return None
    return {
        key: (int(value) if isinstance(value, bool) else value)
        for key, value in values.items()
        if value is not None
    }
