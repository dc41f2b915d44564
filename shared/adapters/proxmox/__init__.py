"""Async client for the Proxmox VE HTTPS API (`/api2/json`), with pinned TLS."""

from shared.adapters.proxmox.client import ProxmoxClient, TicketAuth, TokenAuth
from shared.adapters.proxmox.errors import (
    CertificateMismatch,
    NodeFailure,
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxLockTimeout,
    ProxmoxNotFound,
    ProxmoxPermissionError,
    ProxmoxTimeout,
    ProxmoxUnavailable,
    ProxmoxValidationError,
)
from shared.adapters.proxmox.tls import PinnedCertificate, fetch_certificate

__all__ = [
    "CertificateMismatch",
    "NodeFailure",
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
