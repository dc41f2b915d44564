"""Domain errors shared by the API and the worker; the API maps each to one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Missing, or owned by someone else: callers cannot tell the two apart (404)."""


class Conflict(DomainError):
    """The current state forbids the change: in use, already taken, locked (409)."""


class Forbidden(DomainError):
    """Not allowed by configuration or policy (403)."""


class InvalidInput(DomainError):
    """Well-formed input that fails a rule only the server can check (400), e.g. a node name
    that is not part of the cluster. `field` is the camelCase body field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unprocessable(InvalidInput):
    """Well-formed and within the published schema, but it cannot be done as asked (422): an
    OS template the node does not have, a gateway outside the address's network. `field` names
    the body field, as for a 400."""
