"""Make the OpenAPI document say what msgspec enforces.

Bodies built on `CamelStruct` reject unknown fields (`forbid_unknown_fields`), so their schemas
must say `additionalProperties: false`; Litestar's own struct plugin leaves it out, and clients
and schemathesis would then believe extra fields are accepted.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Schema
from litestar.typing import FieldDefinition


class StrictStructSchemaPlugin(StructSchemaPlugin):
    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType):
            if info.forbid_unknown_fields:
                schema.additional_properties = False
            _constrain_list_items(schema, info)
            _restore_zero_bounds(schema, info)
        return schema


_BOUNDS = (
    ("ge", "minimum"),
    ("le", "maximum"),
    ("gt", "exclusive_minimum"),
    ("lt", "exclusive_maximum"),
)


def _restore_zero_bounds(schema: Schema, info: msgspec.inspect.StructType) -> None:
    """Litestar drops a bound of 0 (it tests truthiness) from `Annotated[int, Meta(ge=0)] |
    UnsetType` fields, so a PATCH body's spec would allow negative numbers; put it back."""
    for struct_field in info.fields:
        number = _number(struct_field.type)
        prop = (schema.properties or {}).get(struct_field.encode_name)
        if number is None or not isinstance(prop, Schema):
            continue
        for constraint, keyword in _BOUNDS:
            if getattr(number, constraint) == 0 and getattr(prop, keyword) is None:
                setattr(prop, keyword, 0)


def _number(
    field_type: msgspec.inspect.Type,
) -> msgspec.inspect.IntType | msgspec.inspect.FloatType | None:
    if isinstance(field_type, msgspec.inspect.Metadata):
        return _number(field_type.type)
    if isinstance(field_type, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
        return field_type
    if isinstance(field_type, msgspec.inspect.UnionType):
        numbers = [n for n in map(_number, field_type.types) if n is not None]
        return numbers[0] if len(numbers) == 1 else None
    return None


def _constrain_list_items(schema: Schema, info: msgspec.inspect.StructType) -> None:
    """Litestar drops the constraints of a list's string items (`list[Annotated[str,
    Meta(pattern=...)]]`), so the spec would allow items msgspec rejects; put them back."""
    for struct_field in info.fields:
        item = _list_item(struct_field.type)
        if not isinstance(item, msgspec.inspect.StrType):
            continue
        prop = (schema.properties or {}).get(struct_field.encode_name)
        candidates = [prop, *(getattr(prop, "one_of", None) or [])]
        for array in candidates:
            if isinstance(array, Schema) and isinstance(array.items, Schema):
                for name in ("pattern", "min_length", "max_length"):
                    if (value := getattr(item, name)) is not None:
                        setattr(array.items, name, value)


def _list_item(field_type: msgspec.inspect.Type) -> msgspec.inspect.Type | None:
    if isinstance(field_type, msgspec.inspect.Metadata):
        return _list_item(field_type.type)
    if isinstance(field_type, msgspec.inspect.ListType):
        item = field_type.item_type
        return item.type if isinstance(item, msgspec.inspect.Metadata) else item
    if isinstance(field_type, msgspec.inspect.UnionType):
        items = [item for item in map(_list_item, field_type.types) if item is not None]
        return items[0] if len(items) == 1 else None
    return None


def query_parameters_without_null(app: Any) -> None:
    """An optional query parameter is absent or a value: a query string has no JSON `null`.
    Litestar documents `X | None` parameters as `oneOf: [X, {type: null}]`, which tells clients
    that something (the text `null`?) stands for "none"; publish `X` alone. The handlers
    refuse the text `null` for such non-string parameters (see `reject_null_text`)."""
    from litestar._openapi.plugin import OpenAPIPlugin

    class WithoutNullQuery(OpenAPIPlugin):
        __slots__ = ()

        def _build_openapi(self) -> Any:
            openapi = super()._build_openapi()
            for path_item in (openapi.paths or {}).values():
                for method in ("get", "put", "post", "delete", "patch"):
                    operation = getattr(path_item, method, None)
                    for parameter in (operation and operation.parameters) or []:
                        if getattr(parameter, "param_in", None) == "query":
                            _drop_null(parameter.schema)
            return openapi

    app.plugins.get(OpenAPIPlugin).__class__ = WithoutNullQuery


def _drop_null(schema: Any) -> None:
    if not isinstance(schema, Schema) or not schema.one_of or len(schema.one_of) != 2:
        return
    options = [option for option in schema.one_of if not _is_null(option)]
    if len(options) != 1:
        return
    (only,) = options
    schema.one_of = None
    if isinstance(only, Schema):
        for name in ("type", "format", "enum", "pattern", "max_length", "min_length"):
            if getattr(only, name, None) is not None:
                setattr(schema, name, getattr(only, name))
    else:  # a $ref
        schema.all_of = [only]


def _is_null(schema: Any) -> bool:
    from litestar.openapi.spec.enums import OpenAPIType

    return isinstance(schema, Schema) and schema.type == OpenAPIType.NULL
