"""The Proxmox client against the simulator over real HTTPS, plus pinning edge cases."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.pvesim.process import RunningSimulator
from shared.adapters.proxmox import (
    CertificateMismatch,
    PinnedCertificate,
    ProxmoxAuthError,
    ProxmoxClient,
    ProxmoxLockTimeout,
    ProxmoxNotFound,
    ProxmoxUnavailable,
    ProxmoxValidationError,
    TicketAuth,
    TokenAuth,
    fetch_certificate,
)
from shared.adapters.proxmox.tasks import wait_for_task
from shared.dev.embedded import free_port


def _host_port(pve: RunningSimulator) -> tuple[str, int]:
    url = httpx.URL(pve.info["apiUrl"])
    return url.host, url.port or 8006


@pytest.fixture
async def pinned(pve: RunningSimulator) -> PinnedCertificate:
    host, port = _host_port(pve)
    return await fetch_certificate(host, port, 5, expected_fingerprint=pve.info["tlsFingerprint"])


@pytest.fixture
async def token_client(
    pve: RunningSimulator, pinned: PinnedCertificate
) -> AsyncIterator[ProxmoxClient]:
    host, port = _host_port(pve)
    auth = TokenAuth(pve.info["tokenId"], pve.info["tokenSecret"])
    async with ProxmoxClient(host, port, pinned, auth) as client:
        yield client


async def test_first_contact_shows_the_fingerprint_pve_style(
    pve: RunningSimulator, pinned: PinnedCertificate
) -> None:
    host, port = _host_port(pve)
    unpinned = await fetch_certificate(host, port, 5)  # TOFU: nothing expected yet
    assert unpinned.fingerprint == pve.info["tlsFingerprint"] == pinned.fingerprint
    lower = pve.info["tlsFingerprint"].lower().replace(":", "")
    assert (await fetch_certificate(host, port, 5, lower)).fingerprint == pinned.fingerprint


async def test_a_different_fingerprint_is_refused(pve: RunningSimulator) -> None:
    host, port = _host_port(pve)
    with pytest.raises(CertificateMismatch, match="TLS certificate changed"):
        await fetch_certificate(host, port, 5, expected_fingerprint="AB:" * 31 + "AB")


async def test_version_and_nodes_with_an_api_token(token_client: ProxmoxClient) -> None:
    version = await token_client.version()
    assert version.version.split(".")[0] in {"8", "9"}
    names = [node.node for node in await token_client.nodes()]
    assert names == ["pve", "pve2", "pve3"]


async def test_a_client_pinned_to_another_certificate_sends_nothing(
    pve: RunningSimulator, tmp_path: Path
) -> None:
    other = _self_signed("other-host")
    host, port = _host_port(pve)
    auth = TokenAuth(pve.info["tokenId"], pve.info["tokenSecret"])
    async with ProxmoxClient(host, port, PinnedCertificate.from_der(other[0]), auth) as client:
        with pytest.raises(CertificateMismatch):
            await client.version()


async def test_ticket_auth_sends_csrf_on_writes(
    pve: RunningSimulator, pinned: PinnedCertificate
) -> None:
    host, port = _host_port(pve)
    user = pve.info["users"][0]
    auth = TicketAuth(f"{user['username']}@{user['realm']}", user["password"])
    async with ProxmoxClient(host, port, pinned, auth) as client:
        assert (await client.version()).version
        # a write: rejected without the CSRF header, so success proves the client sent it
        await client.put("/nodes/pve/lxc/101/config", description="set by ticket")
        config = await client.get("/nodes/pve/lxc/101/config")
        assert config["description"].strip() == "set by ticket"


async def test_wrong_password_is_an_auth_error(
    pve: RunningSimulator, pinned: PinnedCertificate
) -> None:
    host, port = _host_port(pve)
    async with ProxmoxClient(host, port, pinned) as client:
        with pytest.raises(ProxmoxAuthError):
            await client.create_ticket("root@pam", "wrong password")


async def test_pve_errors_become_typed_exceptions(token_client: ProxmoxClient) -> None:
    with pytest.raises(ProxmoxValidationError) as invalid:
        await token_client.post("/nodes/pve/lxc", vmid=99, ostemplate="local:vztmpl/x.tar.zst")
    assert "vmid" in invalid.value.errors
    with pytest.raises(ProxmoxNotFound):
        await token_client.get("/nodes/pve/lxc/98765/config")


async def test_unreachable_node_is_unavailable(pinned: PinnedCertificate) -> None:
    async with ProxmoxClient("127.0.0.1", free_port(), pinned, attempts=2) as client:
        with pytest.raises(ProxmoxUnavailable):
            await client.version()


async def test_lock_timeouts_are_retried_then_reported(
    token_client: ProxmoxClient, pve_admin: httpx.AsyncClient
) -> None:
    response = await pve_admin.put("/faults/pve", json={"lock_contention": True})
    assert response.status_code == 200
    with pytest.raises(ProxmoxLockTimeout, match="can't lock file"):
        await token_client.put("/nodes/pve/lxc/101/config", description="contended")


async def test_wait_for_task_returns_the_exit_status_and_log(
    token_client: ProxmoxClient,
) -> None:
    upid = await token_client.post(
        "/nodes/pve/lxc",
        vmid=777,
        ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        hostname="task-test",
        rootfs="local-lvm:1",
    )
    assert upid.startswith("UPID:pve:")
    result = await wait_for_task(token_client, "pve", upid, limit_seconds=60)
    assert result.ok and result.log_tail[-1] == "TASK OK"
    upid = await token_client.delete("/nodes/pve/lxc/777", purge=1)
    assert (await wait_for_task(token_client, "pve", upid, limit_seconds=60)).ok


async def test_cluster_ca_signed_and_expired_leaf_can_be_pinned(tmp_path: Path) -> None:
    """Real PVE certificates are signed by the cluster CA and may be past their dates."""
    leaf_der, leaf_pem, key_pem = _ca_signed_expired_leaf()
    (tmp_path / "cert.pem").write_bytes(leaf_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"data":{"version":"9.1.3","release":"9.1","repoid":"x"}}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )  # fmt: skip
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        async with ProxmoxClient("127.0.0.1", port, PinnedCertificate.from_der(leaf_der)) as client:
            assert (await client.version()).version == "9.1.3"
    finally:
        server.close()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _self_signed(common_name: str) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER), key


def _ca_signed_expired_leaf() -> tuple[bytes, bytes, bytes]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("pve.example"))
        .issuer_name(_name("Proxmox Virtual Environment CA"))
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=800))
        .not_valid_after(now - dt.timedelta(days=70))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        leaf.public_bytes(serialization.Encoding.DER),
        leaf.public_bytes(serialization.Encoding.PEM),
        key_pem,
    )
