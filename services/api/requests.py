"""The API's request class: a JSON body must say it is JSON (415 otherwise), must have the
spec's types exactly (400 otherwise), and one nested too deeply is the client's error (400)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

JSON_MEDIA_TYPE = "application/json"
# msgspec ends a validation error with where it was: "... - at `$.packages[0].name`"
_WHERE = re.compile(r" - at `\$\.?(.*)`$")


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


class InfrahausRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        """Litestar decodes any body as JSON, whatever its `Content-Type`; a body sent as
        text/plain or form data is refused instead (a cross-site HTML form can post text/plain
        that parses as JSON; it cannot send application/json). Only a non-empty body gets here.

        msgspec stops at a fixed nesting depth with a `RecursionError` (a 2 KB body of
        `[` reaches it); Litestar turns a `SerializationException` into a 400, anything else
        into a 500."""
        if self.content_type[0] != JSON_MEDIA_TYPE:
            raise HTTPException(
                status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                detail=f"Send the body as {JSON_MEDIA_TYPE}.",
            )
        try:
            value = await super().json()
            self._check_types(value)  # it recurses too: a body just under msgspec's limit
        except RecursionError:
            raise SerializationException("JSON body nested too deeply") from None
        return value

    def _check_types(self, value: Any) -> None:
        """Litestar converts a body to the handler's type with msgspec's lax rules, so
        `{"vmid": "101"}` passed for an integer the spec declares, and `"true"` for a boolean.
        The body is checked against that type with the strict rules first; the lax conversion
        then only sees bodies that already conform. `101.0` is an integer to JSON Schema (a
        number with a zero fraction), so it stays accepted; `101.5` is not. Errors are worded
        as Litestar words a body's (a body error is reported alone, before any in the query).
        """
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is None:
            return
        try:
            msgspec.convert(_integral_floats_as_ints(value), data.annotation, strict=True)
        except msgspec.ValidationError as exc:
            text = str(exc)
            where = _WHERE.search(text)
            message = text[: where.start()] if where else text
            raise ValidationException(
                detail=f"Validation failed for {self.method} {self._path_and_query()}",
                extra=[
                    {"message": message, "key": (where and where[1]) or "data", "source": "body"}
                ],
            ) from None

    def _path_and_query(self) -> str:
        query = self.url.query
        return f"{self.url.path}?{query}" if query else self.url.path


def complete_allow_headers(app: Any) -> None:
    """Litestar adds an OPTIONS handler to a path when its first handlers are registered; it
    lists the methods of that first route in `Allow`, and handlers added to the path later
    (a controller's GET after its POST) are missing. Point each one at its final route."""
    from litestar.routes import HTTPRoute

    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            function = getattr(handler.fn, "__wrapped__", handler.fn)
            if handler.http_methods != {"OPTIONS"} or function.__name__ != "options_handler":
                continue
            cells = function.__closure__ or ()
            for name, cell in zip(function.__code__.co_freevars, cells, strict=True):
                if name == "self" and isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route
