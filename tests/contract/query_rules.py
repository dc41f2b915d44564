"""Rules between query parameters that OpenAPI cannot state, applied to generated queries.

`GET /api/audit` refuses `since` later than `until` with a 400 (its description says so);
a schema cannot relate two parameters, so schemathesis would draw such pairs as valid data.
`ordered_audit_bounds` swaps them, and only when both are well-formed date-times: a case
meant to be invalid stays invalid.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def _instant(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.upper())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def ordered_audit_bounds(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    operation = getattr(context, "operation", None)
    if not query or operation is None or operation.path != "/api/audit":
        return query
    since, until = _instant(query.get("since")), _instant(query.get("until"))
    if since is not None and until is not None and since > until:
        query = {**query, "since": query["until"], "until": query["since"]}
    return query
