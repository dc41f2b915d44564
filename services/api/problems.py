"""RFC 9457 problem details: the one error format of the API, and its OpenAPI documentation.

Every error leaves the API as `application/problem+json`. Handlers document the statuses they
can return with `problem_responses(...)`, so the spec and the wire agree (schemathesis checks it).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from shared.adapters.proxmox.errors import NodeFailure, ProxmoxValidationError
from shared.core.crypto import DecryptionError
from shared.core.errors import DomainError, InvalidInput
from shared.core.logging import get_logger

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = get_logger(__name__)


class FieldError(msgspec.Struct, omit_defaults=True):
    """One rejected input: where it was (`source`, `field`) and why."""

    message: str
    field: str | None = None
    source: str | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    title: str
    status: int
    type: str = "about:blank"
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = msgspec.field(default=None, name="requestId")
    errors: list[FieldError] | None = None


class DependencyCheck(msgspec.Struct):
    """The state of one dependency as `/ready` saw it."""

    name: str
    ok: bool
    detail: str


class DependencyProblem(Problem, omit_defaults=True):
    """A 503: which dependencies are failing and why."""

    checks: list[DependencyCheck] = msgspec.field(default_factory=list)


STATUS_DESCRIPTIONS = {
    400: "The request is malformed or fails validation; `errors` lists each problem.",
    401: "Not logged in, or the session has expired.",
    403: "Forbidden: missing or wrong X-CSRF-Token on a cookie session, or not allowed.",
    415: "The body is not sent as application/json.",
    422: "Well-formed, but it cannot be done as asked; `errors` names the field and why.",
    404: "Not found, or not yours.",
    409: "Conflict with the current state (locked, already taken, in use).",
    429: "Too many requests; retry after the `Retry-After` header.",
    502: "The Proxmox node answered with an error.",
    503: "Unavailable: the database, Redis or the Proxmox node cannot be reached.",
    504: "The Proxmox node did not answer in time.",
}


class ProblemException(HTTPException):
    """Raise to answer with a ready-made (possibly extended) problem document."""

    def __init__(self, problem: Problem, headers: dict[str, str] | None = None) -> None:
        super().__init__(
            detail=problem.detail or problem.title, status_code=problem.status, headers=headers
        )
        self.problem = problem


# What a route that calls a registered node can answer: bad input, login, its allow-list or
# Proxmox permission (403), no such node or guest, a busy guest, the node failing or unreachable.
NODE_CALL_STATUSES = (400, 401, 403, 404, 409, 502, 503, 504)


def problem_responses(*statuses: int, **overrides: type[Problem]) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses a handler can return, as problem+json.

    503 is always included: any route that touches PostgreSQL or Redis answers it while one of
    them is down. A route that can answer 401 (it needs a login) can also answer 403: a cookie
    session without the CSRF header, or a Proxmox permission refusal. `overrides` maps
    `"s503"`-style keys to a more specific Problem subclass.
    """
    implied = {503, 403} if 401 in statuses else {503}
    responses: dict[int, ResponseSpec] = {}
    for status in sorted({*statuses, *implied}):
        container = overrides.get(f"s{status}", Problem)
        responses[status] = ResponseSpec(
            data_container=container,
            media_type=PROBLEM_MEDIA_TYPE,
            description=STATUS_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            generate_examples=False,
        )
    return responses


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[Problem]:
    return Response(
        content=problem,
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _request_id(request: Request[Any, Any, Any]) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def _answer(
    request: Request[Any, Any, Any],
    status: int,
    detail: str | None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    """The problem document of a handler below: titled with the status's phrase, for this
    request's path and id."""
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=_request_id(request),
        errors=errors,
    )
    return problem_response(problem, headers=headers)


def _field_errors(extra: Any) -> list[FieldError] | None:
    if not isinstance(extra, list):
        return None
    errors = []
    for item in extra:
        if isinstance(item, dict) and "message" in item:
            errors.append(
                FieldError(
                    message=str(item["message"]),
                    field=item.get("key") and str(item["key"]),
                    source=item.get("source") and str(item["source"]),
                )
            )
    return errors or None


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's HTTP exceptions (ours and the framework's) as problem details."""
    if isinstance(exc, ProblemException):
        problem = msgspec.structs.replace(
            exc.problem, instance=request.url.path, request_id=_request_id(request)
        )
        return problem_response(problem, headers=dict(exc.headers or {}))
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        log.error("request failed", status=status, detail=exc.detail)
    phrase = HTTPStatus(status).phrase
    detail = exc.detail if exc.detail and exc.detail != phrase else None
    errors = _field_errors(exc.extra) if isinstance(exc, ValidationException) else None
    return _answer(request, status, detail, errors, headers=dict(exc.headers or {}))


def node_exception_handler(request: Request[Any, Any, Any], exc: NodeFailure) -> Response[Any]:
    """A node's failure (its API or its SSH), with its own message (and PVE's per-parameter
    `errors`)."""
    status = exc.http_status
    log.warning("proxmox error", status=status, error_type=type(exc).__name__, detail=exc.message)
    errors = None
    if isinstance(exc, ProxmoxValidationError):
        errors = [
            FieldError(message=message, field=name, source="proxmox")
            for name, message in exc.errors.items()
        ] or None
    return _answer(request, status, exc.message, errors)


def decryption_exception_handler(
    request: Request[Any, Any, Any], exc: DecryptionError
) -> Response[Any]:
    """A stored secret no configured key opens: the operator changed SECRET_KEYS too early."""
    log.error("stored secret cannot be decrypted", path=request.url.path)
    return _answer(
        request,
        409,
        "A stored secret cannot be decrypted with the configured SECRET_KEYS; enter it"
        " again (update the node), or restore the key that encrypted it.",
    )


def integrity_exception_handler(
    request: Request[Any, Any, Any], exc: IntegrityError
) -> Response[Any]:
    """Two requests raced for the same unique thing; the database kept one. Retry to see it."""
    log.warning("integrity conflict", path=request.url.path, error=str(exc.orig)[:200])
    return _answer(
        request, 409, "A concurrent change conflicted with this one; reload and try again."
    )


def domain_exception_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    errors = None
    if isinstance(exc, InvalidInput):
        # one error, or one per finding (shared.domain.containers.preflight.PreflightFailed)
        several = getattr(exc, "field_errors", None)
        pairs = several() if callable(several) else [(exc.field, exc.message)]
        errors = [FieldError(message=m, field=f, source="body") for f, m in pairs]
    return _answer(request, exc.http_status, exc.message, errors)


def dependency_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """PostgreSQL or Redis unreachable: a 503 the client may retry, not a 500."""
    log.error("dependency unavailable", error_type=type(exc).__name__, error=str(exc)[:300])
    return _answer(
        request,
        503,
        "A service Infrahaus depends on (database or Redis) is unavailable; retry shortly.",
        headers={"Retry-After": "5"},
    )


# SQLSTATEs that say "the database is not there right now", whatever class the driver gives
# them: 08xxx connection exceptions, 53300 too many connections, 57P01-57P03 (administrator or
# crash shutdown, "the database system is starting up"), 57P05 idle session timeout.
_UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03", "57P05")


def database_unavailable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES):
            return True
    return False


def database_exception_handler(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Any]:
    """asyncpg reports a server that is starting up, shutting down or dropped the connection
    as a generic database error; those are a 503 like any other outage, the rest a 500."""
    if database_unavailable(exc):
        return dependency_exception_handler(request, exc)
    return unexpected_exception_handler(request, exc)


def unexpected_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug: the client gets a request id to quote, the stack trace goes to the log only."""
    log.exception("unhandled exception", path=request.url.path, error_type=type(exc).__name__)
    return _answer(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "An unexpected error occurred; quote the request id when reporting it.",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HTTPException: http_exception_handler,
    NodeFailure: node_exception_handler,
    DomainError: domain_exception_handler,
    DecryptionError: decryption_exception_handler,
    IntegrityError: integrity_exception_handler,
    RedisError: dependency_exception_handler,
    OperationalError: dependency_exception_handler,
    InterfaceError: dependency_exception_handler,
    SQLAlchemyTimeoutError: dependency_exception_handler,
    DBAPIError: database_exception_handler,
    OSError: dependency_exception_handler,
    Exception: unexpected_exception_handler,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "DependencyCheck",
    "DependencyProblem",
    "FieldError",
    "Problem",
    "ProblemException",
    "problem_response",
    "problem_responses",
]
