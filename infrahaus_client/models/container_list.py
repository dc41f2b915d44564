from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.container_summary import ContainerSummary
    from ..models.node_error import NodeError


T = TypeVar("T", bound="ContainerList")


@_attrs_define
class ContainerList:
    items: list[ContainerSummary]
    node_errors: list[NodeError]

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        node_errors = []
        for node_errors_item_data in self.node_errors:
            node_errors_item = node_errors_item_data.to_dict()
            node_errors.append(node_errors_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "items": items,
                "nodeErrors": node_errors,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container_summary import ContainerSummary  # noqa: PLC0415
        from ..models.node_error import NodeError  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = ContainerSummary.from_dict(items_item_data)

            items.append(items_item)

        node_errors = []
        _node_errors = d.pop("nodeErrors")
        for node_errors_item_data in _node_errors:
            node_errors_item = NodeError.from_dict(node_errors_item_data)

            node_errors.append(node_errors_item)

        container_list = cls(
            items=items,
            node_errors=node_errors,
        )

        return container_list
