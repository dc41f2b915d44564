"""Request and response bodies (msgspec Structs). JSON field names are camelCase (contract)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec


class CamelStruct(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """Base of every API body: camelCase on the wire, unknown fields rejected with a 400."""


T = TypeVar("T")


class _WithValues:
    """`source`'s attributes, except those named in `values`, which win."""

    def __init__(self, source: object, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self._source = source

    def __getattr__(self, name: str) -> Any:  # only called for names not in `values`
        return getattr(self._source, name)


def from_row(source: object, schema: type[T], **values: Any) -> T:
    """`schema` filled from `source` (an ORM row, a domain value) by attribute name, nested
    values too; `values` gives the fields the source does not have under that name. The one
    mapping from rows to answers: a field is added to the schema and the row, nowhere else."""
    if values:
        source = _WithValues(source, values)
    return msgspec.convert(source, schema, from_attributes=True)


__all__ = ["CamelStruct", "from_row"]
