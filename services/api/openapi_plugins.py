"""Make the OpenAPI document say what msgspec enforces, and how operations chain.

Bodies built on `CamelStruct` reject unknown fields (`forbid_unknown_fields`), so their schemas
must say `additionalProperties: false`; Litestar's own struct plugin leaves it out, and clients
and schemathesis would then believe extra fields are accepted.

Every operation with a request body documents the 415 that a body not sent as
application/json gets (`services/api/requests.py` refuses it for every route).

Responses carry OpenAPI links (`LINKS`): what a create returns is what its reads, actions and
delete take, so a client (and schemathesis' stateful phase) can walk create -> actions ->
delete without guessing.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Link, OpenAPIResponse, Operation, Schema
from litestar.typing import FieldDefinition

from services.api.problems import STATUS_DESCRIPTIONS


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


def refine_openapi(app: Any) -> None:
    """The document as built by Litestar, then: optional query parameters without `null`
    (`_drop_null`) and the operations' links (`add_links`)."""
    from litestar._openapi.plugin import OpenAPIPlugin

    class RefinedOpenAPI(OpenAPIPlugin):
        __slots__ = ()

        def _build_openapi(self) -> Any:
            openapi = super()._build_openapi()
            for path_item in (openapi.paths or {}).values():
                for method in ("get", "put", "post", "delete", "patch"):
                    operation = getattr(path_item, method, None)
                    if operation is not None and operation.request_body is not None:
                        _document_json_only(operation)
                    for parameter in (operation and operation.parameters) or []:
                        if getattr(parameter, "param_in", None) == "query":
                            _drop_null(parameter.schema)
            add_links(openapi)
            return openapi

    app.plugins.get(OpenAPIPlugin).__class__ = RefinedOpenAPI


def _document_json_only(operation: Operation) -> None:
    """A 415 problem, shaped like the operation's 503 (every route documents that one)."""
    responses = operation.responses or {}
    unavailable = responses["503"]
    assert isinstance(unavailable, OpenAPIResponse), operation.operation_id
    responses["415"] = OpenAPIResponse(
        description=STATUS_DESCRIPTIONS[415], content=copy.deepcopy(unavailable.content)
    )
    operation.responses = dict(sorted(responses.items()))


# An optional query parameter is absent or a value: a query string has no JSON `null`.
# Litestar documents `X | None` parameters as `oneOf: [X, {type: null}]`, which tells clients
# that something (the text `null`?) stands for "none"; `_drop_null` publishes `X` alone. The
# handlers refuse the text `null` for such non-string parameters (see `reject_null_text`).

_CONTAINER_ACTIONS = (
    "StartContainer", "StopContainer", "ShutdownContainer", "RebootContainer",
    "CancelContainerBuild", "RetryContainerBuild", "RefreshContainerServices",
)  # fmt: skip
_CONTAINER_READS = (
    "GetContainer", "ListContainerEvents", "ListContainerServices", "CreateEventStreamTicket",
)  # fmt: skip
_BUCKET_CHANGES = ("UpdateBucket", "AddBucketPackages", "RemoveBucketPackages")
_NODE_USES = (
    "UpdateNode", "TestNodeConnection", "SetDefaultNode", "ListNodeStorages", "ListNodeBridges",
    "ListNodeOsTemplates", "NextFreeVmid", "RefreshVmids",
)  # fmt: skip
_FROM_BODY = "$response.body#/id"


def _path(name: str) -> str:
    return f"$request.path.{name}"


def _others(operation: str, group: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(other for other in group if other != operation)


# operation -> (path parameter, where its value comes from, operations it feeds); the links
# sit on the operation's success response (its one 2xx, read off the document)
LINKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "CreateContainer": (
        "container_id",
        _FROM_BODY,
        (*_CONTAINER_READS, *_CONTAINER_ACTIONS, "DeleteContainer"),
    ),
    # the first container listed (a client picks one)
    "ListContainers": (
        "container_id",
        "$response.body#/items/0/id",
        (*_CONTAINER_READS, *_CONTAINER_ACTIONS, "DeleteContainer"),
    ),
    "GetContainer": (
        "container_id",
        _FROM_BODY,
        (*_CONTAINER_ACTIONS, "DeleteContainer"),
    ),
    **{
        action: (
            "container_id",
            _path("container_id"),
            (*_others(action, _CONTAINER_ACTIONS), "GetContainer", "DeleteContainer"),
        )
        for action in _CONTAINER_ACTIONS
    },
    "CreateTemplate": (
        "template_id",
        _FROM_BODY,
        ("GetTemplate", "UpdateTemplate", "DeleteTemplate"),
    ),
    "UpdateTemplate": (
        "template_id",
        _path("template_id"),
        ("GetTemplate", "DeleteTemplate"),
    ),
    "CreateBucket": (
        "bucket_id",
        _FROM_BODY,
        ("GetBucket", *_BUCKET_CHANGES, "DeleteBucket"),
    ),
    **{
        change: (
            "bucket_id",
            _path("bucket_id"),
            (*_others(change, _BUCKET_CHANGES), "GetBucket", "DeleteBucket"),
        )
        for change in _BUCKET_CHANGES
    },
    "CreateNode": ("node_id", _FROM_BODY, ("GetNode", *_NODE_USES, "DeleteNode")),
    **{
        use: ("node_id", _path("node_id"), ("GetNode", "DeleteNode"))
        for use in ("UpdateNode", "TestNodeConnection", "SetDefaultNode")
    },
}


# operation -> (body field of a create, where its value comes from): a node or a template
# one has just listed, made, read or tested is what a container is built on, or from
BODY_LINKS: dict[str, tuple[str, str]] = {
    "ListNodes": ("nodeId", "$response.body#/0/id"),
    "CreateNode": ("nodeId", _FROM_BODY),
    "GetNode": ("nodeId", _FROM_BODY),
    "UpdateNode": ("nodeId", _FROM_BODY),
    "SetDefaultNode": ("nodeId", _FROM_BODY),
    "TestNodeConnection": ("nodeId", _path("node_id")),
    "CreateTemplate": ("templateId", _FROM_BODY),
    "GetTemplate": ("templateId", _FROM_BODY),
    "UpdateTemplate": ("templateId", _path("template_id")),
}


def add_links(openapi: Any) -> None:
    """Put `LINKS` and `BODY_LINKS` on the success responses they start from; a link from or
    to an operation that does not exist is an error (the tables must follow the routes)."""
    operations = {}
    for path_item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(path_item, method, None)
            if operation is not None and operation.operation_id:
                operations[operation.operation_id] = operation
    for source, (parameter, value, targets) in LINKS.items():
        response = _success(operations[source])
        links = response.links = dict(response.links or {})
        for target in targets:
            if target not in operations:
                raise KeyError(f"link {source} -> {target}: no such operation")
            links[target] = Link(operation_id=target, parameters={parameter: value})
    for source, (field, value) in BODY_LINKS.items():
        response = _success(operations[source])
        links = response.links = dict(response.links or {})
        # the rest of the body is the client's (schemathesis merges it into what it generates)
        links["CreateContainer"] = Link(operation_id="CreateContainer", request_body={field: value})


def _success(operation: Operation) -> OpenAPIResponse:
    """The operation's success response: its one documented 2xx."""
    found = [
        (status, response)
        for status, response in (operation.responses or {}).items()
        if status.startswith("2")
    ]
    if len(found) != 1 or not isinstance(found[0][1], OpenAPIResponse):
        raise KeyError(f"{operation.operation_id}: links need exactly one 2xx response")
    return found[0][1]


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
