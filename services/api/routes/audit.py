"""`GET /api/audit`: the caller's own audit trail (every change and credential reveal)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import SECURITY, CurrentUser
from services.api.problems import problem_responses
from services.api.routes.containers import reject_null_text
from services.api.schemas import from_row
from services.api.schemas.audit import AuditPage, AuditRead
from shared.domain import audit

# RFC 3339 `date-time` (section 5.6): full-date "T" full-time, with a mandatory offset.
# [0-9], not \d (which takes any Unicode digit); `(?!\n)`: `$` alone allows a final newline.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$(?!\n)"
)
_FRACTION = re.compile(r"\.([0-9]{1,9})")


def _instant(description: str) -> Any:
    """An RFC 3339 date-time query parameter. Litestar turns these constraints into the
    msgspec.Meta its signature model checks at the edge: a number such as `0.5`, which
    msgspec would read as a Unix time for a `datetime`, is a 400."""
    return Parameter(
        pattern=RFC3339_PATTERN,
        max_length=35,
        description=description + " RFC 3339 date-time with an offset, e.g."
        " `2026-12-01T00:00:00Z`.",
        schema_extra={"format": "date-time"},
    )


def parse_instant(name: str, text: str) -> dt.datetime:
    """An RFC 3339 date-time (pattern-checked already) as an aware datetime in UTC; a
    calendar impossibility (`2026-02-30`, hour 25) is a 400 naming the parameter. Instants
    beyond what Python can hold in UTC (year 1 with a positive offset) are clamped."""
    normalized = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text.upper())
    try:
        value = dt.datetime.fromisoformat(normalized)
    except ValueError:
        raise _bad(name, "is not a valid date-time (RFC 3339)") from None
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        offset = value.utcoffset() or dt.timedelta()
        edge = dt.datetime.min if offset > dt.timedelta() else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


def _bad(name: str, message: str) -> ValidationException:
    return ValidationException(
        detail=f"Invalid query parameter {name}",
        extra=[{"message": f"`{name}` {message}", "key": name, "source": "query"}],
    )


def audit_read(entry: Any) -> AuditRead:
    return from_row(entry, AuditRead)


class AuditController(Controller):
    path = "/api/audit"
    tags = ["Audit"]
    security = SECURITY

    @get(
        operation_id="ListAudit",
        summary="Your audit trail, newest first, paged",
        responses=problem_responses(400, 401),
    )
    async def list_audit(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: AsyncSession,
        action: Annotated[
            str | None,
            Parameter(
                pattern=r"^[a-z][a-z0-9_.]{0,63}$(?!\n)",
                description="Only this action, e.g. `container.create`, `node.update`,"
                " `container.credentials.reveal`.",
            ),
        ] = None,
        target_type: Annotated[
            str | None,
            QueryParameter(
                name="targetType",
                pattern=r"^[a-z][a-z0-9_]{0,31}$(?!\n)",
                description="Only rows about this kind of object: `container`, `node`, `pve_host`.",
            ),
        ] = None,
        target_id: Annotated[
            str | None,
            QueryParameter(
                name="targetId",
                pattern=r"^[A-Za-z0-9._:@\[\]-]{1,64}$(?!\n)",
                description="Only rows about this object (its id, as `targetId` shows it).",
            ),
        ] = None,
        since: Annotated[str | None, _instant("Only rows at or after this instant.")] = None,
        until: Annotated[str | None, _instant("Only rows at or before this instant.")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100, description="Page size.")] = 50,
        offset: Annotated[int, Parameter(ge=0, le=1_000_000, description="Items to skip.")] = 0,
    ) -> AuditPage:
        """Only the caller's own rows: changes to their nodes and containers, the template and
        bucket changes they made, credential reveals, log-ins and certificate re-pins, with the
        outcome and the request id. A `since` later than `until` is a 400."""
        reject_null_text(request, "since", "until")
        start = parse_instant("since", since) if since is not None else None
        end = parse_instant("until", until) if until is not None else None
        if start is not None and end is not None and start > end:
            raise _bad("since", "is later than `until`")
        where = audit.AuditFilter(
            action=action, target_type=target_type, target_id=target_id, since=start, until=end
        )
        rows, total = await audit.page(
            db_session, request.user.id, where, limit=limit, offset=offset
        )
        return AuditPage(
            items=[audit_read(row) for row in rows], total=total, limit=limit, offset=offset
        )
