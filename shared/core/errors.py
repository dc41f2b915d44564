"""Domain errors shared by the API and the worker.

Each class states the HTTP status the API answers it with (`http_status`), as the Proxmox
errors do (`shared.adapters.proxmox.errors`): one way to give an error its status.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    #: the status our API answers with when this reaches a client
    http_status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Missing, or owned by someone else: callers cannot tell the two apart (404)."""

    http_status = 404


class Conflict(DomainError):
    """The current state forbids the change: in use, already taken, locked (409)."""

    http_status = 409


class Forbidden(DomainError):
    """Not allowed by configuration or policy (403)."""

    http_status = 403


class InvalidInput(DomainError):
    """Well-formed input that fails a rule only the server can check (400), e.g. a node name
    that is not part of the cluster. `field` is the camelCase body field."""

    http_status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unprocessable(InvalidInput):
    """Well-formed and within the published schema, but it cannot be done as asked (422): an
    OS template the node does not have, a gateway outside the address's network. `field` names
    the body field, as for a 400."""

    http_status = 422
