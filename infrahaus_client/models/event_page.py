from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.event_envelope import EventEnvelope


T = TypeVar("T", bound="EventPage")


@_attrs_define
class EventPage:
    items: list[EventEnvelope]
    next_after: int | None

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        next_after: int | None
        next_after = self.next_after

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "items": items,
                "nextAfter": next_after,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_envelope import EventEnvelope  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = EventEnvelope.from_dict(items_item_data)

            items.append(items_item)

        def _parse_next_after(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        next_after = _parse_next_after(d.pop("nextAfter"))

        event_page = cls(
            items=items,
            next_after=next_after,
        )

        return event_page
