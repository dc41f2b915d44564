"""A small HTTPS/1.1 server on asyncio + h11.

ASGI servers cannot send a custom HTTP reason phrase, but PVE puts the first line of every error
message there (``HTTP/1.1 500 CT 100 already exists on node 'pve'``) and older clients only read
that. Owning the socket also lets fault injection refuse connections for real.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import h11
import structlog

log = structlog.get_logger()

MAX_BODY_BYTES = 512 * 1024


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    peer: str
    path: str = ""
    query: str = ""
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    """What a handler returns; ``reason`` defaults to the standard phrase."""

    status: int
    body: bytes = b""
    reason: str | None = None
    content_type: str = "application/json;charset=UTF-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, payload: Any, reason: str | None = None) -> Response:
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), reason)


Handler = Callable[[Request], Awaitable[Response]]

# PVE's own code for a proxied node that refused the connection; not an IANA status.
_PVE_REASONS = {595: "Connection refused"}


def _standard_reason(status: int) -> str:
    if status in _PVE_REASONS:
        return _PVE_REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def reason_phrase(status: int, reason: str | None) -> bytes:
    """First line of ``reason``, reduced to what may legally appear in a status line."""
    text = (reason or _standard_reason(status)).split("\n", 1)[0]
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text).strip()
    return (text or _standard_reason(status)).encode()


def _parse_cookies(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            cookies[name] = value
    return cookies


class HttpsServer:
    """Serve ``handler`` (over TLS unless ``ssl_context`` is None).

    ``pause()``/``resume()`` close and reopen the listening socket, so a "down" node refuses
    connections like a real unreachable host.
    """

    def __init__(self, handler: Handler, host: str, port: int, ssl_context: ssl.SSLContext | None):
        self._handler = handler
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._listener: socket.socket | None = None
        self._accept_task: asyncio.Task | None = None
        self._connections: set[asyncio.Task] = set()

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        listener = socket.create_server((self._host, self._port), family=family, backlog=512)
        listener.setblocking(False)
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._accept_task = asyncio.create_task(self._accept_loop(listener))

    async def pause(self) -> None:
        """Stop accepting connections (clients get ``connection refused``)."""
        if self._accept_task is not None:
            self._accept_task.cancel()
            await asyncio.gather(self._accept_task, return_exceptions=True)
            self._accept_task = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        connections = list(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    async def resume(self) -> None:
        if self._listener is None:
            await self.start()

    async def stop(self) -> None:
        await self.pause()

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = asyncio.create_task(self._serve_socket(conn))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

    @staticmethod
    async def _starts_with_tls(conn: socket.socket) -> bool | None:
        """Peek at the first byte: a TLS handshake record starts with 0x16 (None = hung up)."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: readable.done() or readable.set_result(None))
        try:
            await asyncio.wait_for(readable, 60)
        finally:
            loop.remove_reader(conn.fileno())
        first = conn.recv(1, socket.MSG_PEEK)
        return None if not first else first == b"\x16"

    async def _serve_socket(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        writer: asyncio.StreamWriter | None = None
        try:
            use_tls = False
            if self._ssl is not None:
                starts_with_tls = await self._starts_with_tls(conn)
                if starts_with_tls is None:
                    return
                use_tls = starts_with_tls
            reader = asyncio.StreamReader(limit=2**16)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol,
                conn,
                ssl=self._ssl if use_tls else None,
                ssl_handshake_timeout=30 if use_tls else None,
            )
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            plain_on_tls_port = self._ssl is not None and not use_tls
            handler = self._redirect_to_https if plain_on_tls_port else self._handler
            await self._handle_requests(reader, writer, handler)
        except (
            ConnectionError,
            TimeoutError,
            asyncio.IncompleteReadError,
            ssl.SSLError,
            h11.ProtocolError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            if writer is not None:
                writer.close()
            else:
                conn.close()

    async def _redirect_to_https(self, request: Request) -> Response:
        """pveproxy answers plain HTTP with a redirect to https and closes the connection."""
        host = request.headers.get("host", f"{self._host}:{self._port}")
        status = 301 if request.method in ("GET", "HEAD") else 308
        return Response(
            status,
            b"",
            "Moved Permanently" if status == 301 else "Permanent Redirect",
            headers=[("Location", f"https://{host}{request.target}")],
        )

    async def _handle_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        peer = str(writer.get_extra_info("peername", ("?",))[0])
        while True:
            request: Request | None = None
            body = bytearray()
            too_large = False
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    if not data and conn.their_state is not h11.DONE:
                        if conn.their_state is h11.IDLE:
                            return
                        raise ConnectionError("client closed mid-request")
                    continue
                if isinstance(event, h11.Request):
                    headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
                    target = event.target.decode("latin-1")
                    path, _, query = target.partition("?")
                    request = Request(
                        method=event.method.decode(),
                        target=target,
                        headers=headers,
                        body=b"",
                        peer=peer,
                        path=path,
                        query=query,
                        cookies=_parse_cookies(headers.get("cookie", "")),
                    )
                elif isinstance(event, h11.Data):
                    body.extend(event.data)
                    too_large = too_large or len(body) > MAX_BODY_BYTES
                    if too_large:
                        body.clear()
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    return
            assert request is not None
            request.body = bytes(body)
            if too_large:
                response = Response.json(
                    501, {"data": None, "message": "for data too large\n"}, "for data too large"
                )
            elif "chunked" in request.headers.get("transfer-encoding", "").lower():
                response = Response.json(
                    501,
                    {"data": None, "message": "chunked transfer encoding not supported\n"},
                    "chunked transfer encoding not supported",
                )
            else:
                try:
                    response = await handler(request)
                except Exception:
                    log.exception("pvesim.http.handler_crashed", path=request.path)
                    response = Response.json(500, {"data": None, "message": "internal error\n"})
            keep_alive = response.status < 300 and conn.their_state is h11.DONE
            headers = [
                ("Server", "pve-api-daemon/3.0"),
                ("Date", formatdate(usegmt=True)),
                ("Cache-Control", "max-age=0"),
                ("Pragma", "no-cache"),
                ("Expires", formatdate(usegmt=True)),
                ("Content-Length", str(len(response.body))),
                *response.headers,
            ]
            if response.body or response.status != 401:
                headers.append(("Content-Type", response.content_type))
            if not keep_alive:
                headers.append(("Connection", "close"))
            # One write, so head and body leave in one TLS record / TCP segment.
            wire = bytearray(
                conn.send(
                    h11.Response(
                        status_code=response.status,
                        headers=headers,
                        reason=reason_phrase(response.status, response.reason),
                    )
                )
                or b""
            )
            if response.body and request.method != "HEAD":
                wire += conn.send(h11.Data(data=response.body)) or b""
            wire += conn.send(h11.EndOfMessage()) or b""
            writer.write(bytes(wire))
            await writer.drain()
            if not keep_alive or conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
