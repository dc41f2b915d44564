"""Make the OpenAPI document say what msgspec enforces.

Bodies built on `CamelStruct` reject unknown fields (`forbid_unknown_fields`), so their schemas
must say `additionalProperties: false`; Litestar's own struct plugin leaves it out, and clients
and schemathesis would then believe extra fields are accepted.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.openapi.spec import Schema
from litestar.typing import FieldDefinition


class StrictStructSchemaPlugin(StructSchemaPlugin):
    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
