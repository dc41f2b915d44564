from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="NodeError")


@_attrs_define
class NodeError:
    node_id: UUID
    node_name: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        node_id = str(self.node_id)

        node_name = self.node_name

        error = self.error

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "nodeId": node_id,
                "nodeName": node_name,
                "error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        node_id = UUID(d.pop("nodeId"))

        node_name = d.pop("nodeName")

        error = d.pop("error")

        node_error = cls(
            node_id=node_id,
            node_name=node_name,
            error=error,
        )

        return node_error
