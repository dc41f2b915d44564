"""Certificate pinning for Proxmox nodes, whose certificates are self-signed or cluster-CA signed.

We pin the node's exact leaf certificate: the TLS context trusts that one certificate and nothing
else, so a request (and the password or token in it) is only sent once the handshake proved the
peer holds the pinned certificate's key. Never `verify=False`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl

import msgspec

from shared.adapters.proxmox.errors import CertificateMismatch, ProxmoxTimeout, ProxmoxUnavailable

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: a pin is like an SSH host key, its dates do not matter
# (Python's ssl module has no named constant for it).
_NO_CHECK_TIME = 0x200000


def fingerprint_of(der: bytes) -> str:
    """SHA-256 fingerprint in PVE's notation: upper-case hex pairs joined by colons."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normalize_fingerprint(text: str) -> str:
    """Accept `aa:bb:...`, `AABB...` or with spaces; return PVE's notation."""
    hex_only = "".join(ch for ch in text if ch not in ": ").upper()
    return ":".join(hex_only[i : i + 2] for i in range(0, len(hex_only), 2))


class PinnedCertificate(msgspec.Struct, frozen=True):
    """The certificate we trust for one node: its PEM and its fingerprint."""

    pem: str
    fingerprint: str

    @classmethod
    def from_der(cls, der: bytes) -> PinnedCertificate:
        return cls(pem=ssl.DER_cert_to_PEM_cert(der), fingerprint=fingerprint_of(der))

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.pem)
        # The pinned leaf is the trust anchor, whatever issued it and whatever name it carries.
        context.check_hostname = False
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | _NO_CHECK_TIME
        return context


async def fetch_certificate(
    host: str, port: int, limit_seconds: float, expected_fingerprint: str | None = None
) -> PinnedCertificate:
    """First contact: read the node's certificate without trusting it yet.

    With `expected_fingerprint` (what the user copied from the node), a different certificate
    raises `CertificateMismatch`. Without it, the caller shows the fingerprint back (TOFU).
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nothing is sent over this connection
    try:
        async with asyncio.timeout(limit_seconds):
            _reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except TimeoutError:
        raise ProxmoxTimeout(f"{host}:{port} did not answer within {limit_seconds:g} s") from None
    except (OSError, ssl.SSLError) as exc:
        raise ProxmoxUnavailable(f"cannot connect to {host}:{port}: {exc}") from None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.close()
    if not der:
        raise ProxmoxUnavailable(f"{host}:{port} presented no TLS certificate")
    pinned = PinnedCertificate.from_der(der)
    if expected_fingerprint is not None:
        expected = normalize_fingerprint(expected_fingerprint)
        if pinned.fingerprint != expected:
            raise CertificateMismatch(expected, pinned.fingerprint)
    return pinned


def is_pin_failure(exc: BaseException) -> bool:
    """Did a TLS handshake fail because the peer's certificate is not the pinned one?"""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        current = current.__cause__ or current.__context__
    return False
