"""What can go wrong talking to Proxmox, as types the API maps onto HTTP statuses."""

from __future__ import annotations

import re

#: the most characters of a remote host's text we ever show a client
REMOTE_TEXT_LIMIT = 300
_TAG = re.compile(r"<[^>]{0,500}>")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029<>]+")
_SPACES = re.compile(r"\s{2,}")


def remote_text(text: str, limit: int = REMOTE_TEXT_LIMIT) -> str:
    """Text a remote host chose, made safe to reflect: no markup, no CR/LF or other control
    characters (they would forge log lines or headers), at most `limit` characters."""
    text = _UNSAFE.sub(" ", _TAG.sub(" ", text[: limit * 4]))
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


class NodeFailure(Exception):
    """A node failed a call: its API (`ProxmoxError`) or its SSH (`shared.adapters.ssh.SshError`).
    Callers that only need "the node failed" catch this; the API answers `http_status`."""

    #: the status our API answers with when this reaches a client
    http_status = 502

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ProxmoxError(NodeFailure):
    """The node's API answered with an error (or not at all). `message` is PVE's own text.

    The reachability errors below (`ProxmoxUnavailable`, `ProxmoxTimeout`) are raised for SSH
    too: callers retry on them whichever way the node was reached.
    """


class ProxmoxAuthError(ProxmoxError):
    """401 from the node: wrong credentials, expired ticket, unknown or revoked token.

    Our API answers 502 for a node that rejects its stored token: a 401 from Infrahaus means
    "not logged in to Infrahaus", and clients react to it by logging the user out. Only the
    login route, where the user's own password was wrong, turns this into a 401.
    """


class ProxmoxPermissionError(ProxmoxError):
    """403 `Permission check failed (...)`."""

    http_status = 403


class ProxmoxNotFound(ProxmoxError):
    """The object does not exist on the node (missing config file, unknown path)."""

    http_status = 404


class ProxmoxValidationError(ProxmoxError):
    """400 `Parameter verification failed.` with PVE's per-parameter `errors`."""

    http_status = 400

    def __init__(self, message: str, errors: dict[str, str], *, status: int | None = 400) -> None:
        super().__init__(message, status=status)
        self.errors = errors


class ProxmoxLockTimeout(ProxmoxError):
    """`can't lock file ... got timeout`: another operation holds the guest's config lock."""

    http_status = 409


class ProxmoxUnavailable(ProxmoxError):
    """The node could not be reached (refused, reset, DNS, TLS failure)."""

    http_status = 503


class ProxmoxTimeout(ProxmoxError):
    """The node did not answer in time."""

    http_status = 504


class CertificateMismatch(ProxmoxError):
    """The node presented a certificate other than the pinned one: refuse, never fall back."""

    http_status = 502

    def __init__(self, expected: str, presented: str) -> None:
        super().__init__(
            f"TLS certificate changed: expected fingerprint {expected}, the node presented"
            f" {presented}. If the node's certificate was renewed on purpose, update the"
            " fingerprint; otherwise someone may be intercepting the connection."
        )
        self.expected = expected
        self.presented = presented


class NotProxmox(ProxmoxError):
    """The host answered, but not as a Proxmox VE API does (no `{"data": ...}` envelope, no
    pve-api-daemon): whatever it said is not shown to the client."""


class ResponseTooLarge(ProxmoxError):
    """The answer is larger than `PVE_MAX_RESPONSE_BYTES`; reading stopped there."""
