"""Async client for the Proxmox VE HTTPS API (`/api2/json`), with pinned TLS."""

from shared.proxmox.client import ProxmoxClient, TicketAuth, TokenAuth
from shared.proxmox.errors import (
    CertificateMismatch,
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxLockTimeout,
    ProxmoxNotFound,
    ProxmoxPermissionError,
    ProxmoxTimeout,
    ProxmoxUnavailable,
    ProxmoxValidationError,
)
from shared.proxmox.tls import PinnedCertificate, fetch_certificate

__all__ = [
    "CertificateMismatch",
    "PinnedCertificate",
    "ProxmoxAuthError",
    "ProxmoxClient",
    "ProxmoxError",
    "ProxmoxLockTimeout",
    "ProxmoxNotFound",
    "ProxmoxPermissionError",
    "ProxmoxTimeout",
    "ProxmoxUnavailable",
    "ProxmoxValidationError",
    "TicketAuth",
    "TokenAuth",
    "fetch_certificate",
]
