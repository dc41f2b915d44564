"""Issue 12, items 3, 4 and 5: login is no request proxy, port scanner or memory sink, and its
throttle cannot be dodged by spelling the host differently.

The impostors are tiny HTTPS servers of the test's own (a thread each, since the test client
runs the app on another thread), next to the project's Proxmox VE simulator."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.pvesim.process import RunningSimulator
from shared.adapters.proxmox.hosts import NonCanonicalHost, canonical_host
from shared.core.settings import Settings
from shared.dev.embedded import free_port
from tests.integration.helpers import Session, node_body
from tests.integration.test_auth import api_client, credentials
from tests.support import forget_login_attempts

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-proxmox")])
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
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.contextmanager
def https_server(directory: Path, handler: Handler) -> Iterator[int]:
    """An HTTPS server on a free port whose every POST/GET is answered by `handler`."""

    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            with contextlib.suppress(OSError):
                handler(self)

        do_GET = do_POST

        def log_message(self, *args: Any) -> None:
            pass

    cert, key = _certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word (a port that is open, but not to TLS)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def html_page(request: http.server.BaseHTTPRequestHandler) -> None:
    body = b"<html><h1>Internal admin console</h1><p>secret banner 4711</p></html>"
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def html_error(request: http.server.BaseHTTPRequestHandler) -> None:
    body = b"<html>secret banner 4711: no such page</html>"
    request.send_response(404, "secret banner 4711")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


EVIL = "boom\r\nSet-Cookie: stolen=1\r\n<script>alert(1)</script>" + "A" * 2000


def pve_shaped_error(request: http.server.BaseHTTPRequestHandler) -> None:
    body = msgspec.json.encode({"data": None, "message": EVIL})
    request.send_response(500, "boom")
    request.send_header("Server", "pve-api-daemon/3.0")
    request.send_header("Content-Type", "application/json;charset=UTF-8")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def endless_body(request: http.server.BaseHTTPRequestHandler) -> None:
    """A body that never ends (no length, no chunking: it lasts until the connection closes)."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Connection", "close")
    request.end_headers()
    request.wfile.write(b'{"data": {"ticket": "')
    chunk = b"A" * 65536
    for _ in range(20_000):  # 1.3 GB at most; the client must hang up long before
        request.wfile.write(chunk)


def huge_declared_body(request: http.server.BaseHTTPRequestHandler) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(200 * 1024 * 1024))
    request.end_headers()
    request.wfile.write(b'{"data": ')


def _login(port: int, **changes: Any) -> dict[str, Any]:
    body = {"host": "127.0.0.1", "port": port, "username": "root", "password": "x"}
    return {**body, **changes}


# -- item 3: one generic answer, counted per client, sanitized text --------------------------


async def test_unreachable_silent_and_non_pve_hosts_get_one_generic_answer(
    settings: Settings, scratch_dir: Path, redis: Redis
) -> None:
    await forget_login_attempts(redis, settings)
    answers = []
    async with api_client(settings, pve_connect_timeout_seconds=1.0) as client:
        with (
            https_server(scratch_dir, html_page) as page,
            https_server(scratch_dir, html_error) as error_page,
            silent_server() as silent,
        ):
            for port in (free_port(), silent, page, error_page):
                response = await client.post("/api/auth/login", json=_login(port))
                answers.append((response.status_code, response.json()["detail"]))
    await forget_login_attempts(redis, settings)
    assert len(set(answers)) == 1, answers  # closed, silent, HTML 200, HTML 404: all alike
    status, detail = answers[0]
    assert status == 422
    assert "did not answer as a Proxmox VE API" in detail
    assert "secret banner" not in detail and "Errno" not in detail


async def test_failed_connections_count_against_the_client(
    settings: Settings, redis: Redis
) -> None:
    await forget_login_attempts(redis, settings)
    async with api_client(settings, login_max_failures_per_client=3) as client:
        codes = []
        for _ in range(5):
            # a different closed port (and account) each time: a port scan
            response = await client.post("/api/auth/login", json=_login(free_port()))
            codes.append(response.status_code)
    await forget_login_attempts(redis, settings)
    assert codes == [422, 422, 422, 429, 429], codes


async def test_text_of_a_pve_shaped_answer_is_sanitized_and_short(
    settings: Settings, scratch_dir: Path, redis: Redis
) -> None:
    await forget_login_attempts(redis, settings)
    async with api_client(settings) as client:
        with https_server(scratch_dir, pve_shaped_error) as port:
            response = await client.post("/api/auth/login", json=_login(port))
    await forget_login_attempts(redis, settings)
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert detail.startswith("boom Set-Cookie: stolen=1")
    assert not any(ch in detail for ch in "\r\n<>"), detail
    assert len(detail) <= 300


async def test_node_error_texts_in_the_inventory_are_sanitized(
    alice: Session, pve: RunningSimulator, pve_admin: httpx.AsyncClient
) -> None:
    response = await alice.call("POST", "/api/nodes", json=node_body(pve, "pve2"))
    assert response.status_code == 201, response.text
    await pve_admin.put(
        "/faults/pve2", json={"error_rate": 1.0, "error_status": 500, "error_message": EVIL}
    )
    listed = await alice.call("GET", "/api/containers")
    assert listed.status_code == 200, listed.text
    (error,) = [e["error"] for e in listed.json()["nodeErrors"] if e["nodeName"] == "pve2"]
    assert "boom" in error
    assert not any(ch in error for ch in "\r\n<>"), error
    assert len(error) <= 300


# -- item 4: a cap on what a host may make us read --------------------------------------------


@pytest.mark.parametrize("handler", [endless_body, huge_declared_body])
async def test_an_oversized_answer_is_502_and_not_read(
    settings: Settings, scratch_dir: Path, redis: Redis, handler: Handler
) -> None:
    await forget_login_attempts(redis, settings)
    async with api_client(settings, pve_max_response_bytes=1024 * 1024) as client:
        with https_server(scratch_dir, handler) as port:
            response = await client.post("/api/auth/login", json=_login(port))
    await forget_login_attempts(redis, settings)
    assert response.status_code == 502, response.text
    assert "larger than 1048576 bytes" in response.json()["detail"]


# -- item 5: one host, one spelling ------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["0x7f.1", "2130706433", "127.000.000.001", "0177.0.0.1", "127.1", "0x7f000001"]
)
async def test_non_canonical_ipv4_spellings_are_400(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, host: str
) -> None:
    response = await client.post("/api/auth/login", json=credentials(pve, host=host))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == "host", problem


@pytest.mark.parametrize("host", ["0x7f.1", "127.000.000.001", "2130706433"])
def test_the_edge_refuses_what_the_schema_would_let_through(host: str) -> None:
    """Callers that skip the schema (the operator command) get the same rule."""
    with pytest.raises(NonCanonicalHost, match="canonical IPv4"):
        canonical_host(host)


async def test_spellings_of_one_host_are_one_user_and_one_throttle_account(
    settings: Settings, pve: RunningSimulator, redis: Redis
) -> None:
    await forget_login_attempts(redis, settings)
    async with api_client(settings, login_max_failures=2) as client:
        ids = set()
        for host in ("127.0.0.1", "::ffff:127.0.0.1", "[::ffff:7f00:1]"):
            response = await client.post("/api/auth/login", json=credentials(pve, 1, host=host))
            assert response.status_code == 200, (host, response.text)
            assert response.json()["user"]["host"] == "127.0.0.1"
            ids.add(response.json()["user"]["id"])
        assert len(ids) == 1
        named = {
            (await client.post("/api/auth/login", json=credentials(pve, 1, host=h))).json()["user"][
                "id"
            ]
            for h in ("localhost", "LocalHost")
        }
        assert len(named) == 1

        codes = []
        for host in ("127.0.0.1", "::FFFF:7F00:1", "[::ffff:127.0.0.1]"):
            bad = credentials(pve, 2, host=host, password="wrong")
            codes.append((await client.post("/api/auth/login", json=bad)).status_code)
    await forget_login_attempts(redis, settings)
    assert codes == [401, 401, 429], codes
