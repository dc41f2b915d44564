"""Request and response bodies (msgspec Structs). JSON field names are camelCase (contract)."""

from __future__ import annotations

import msgspec


class CamelStruct(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """Base of every API body: camelCase on the wire, unknown fields rejected with a 400."""


__all__ = ["CamelStruct"]
