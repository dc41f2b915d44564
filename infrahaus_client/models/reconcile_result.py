from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.container_drift import ContainerDrift


T = TypeVar("T", bound="ReconcileResult")


@_attrs_define
class ReconcileResult:
    node_id: UUID
    checked: int
    missing: list[ContainerDrift]
    restored: list[ContainerDrift]
    migrated: list[ContainerDrift]

    def to_dict(self) -> dict[str, Any]:
        node_id = str(self.node_id)

        checked = self.checked

        missing = []
        for missing_item_data in self.missing:
            missing_item = missing_item_data.to_dict()
            missing.append(missing_item)

        restored = []
        for restored_item_data in self.restored:
            restored_item = restored_item_data.to_dict()
            restored.append(restored_item)

        migrated = []
        for migrated_item_data in self.migrated:
            migrated_item = migrated_item_data.to_dict()
            migrated.append(migrated_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "nodeId": node_id,
                "checked": checked,
                "missing": missing,
                "restored": restored,
                "migrated": migrated,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container_drift import ContainerDrift  # noqa: PLC0415

        d = dict(src_dict)
        node_id = UUID(d.pop("nodeId"))

        checked = d.pop("checked")

        missing = []
        _missing = d.pop("missing")
        for missing_item_data in _missing:
            missing_item = ContainerDrift.from_dict(missing_item_data)

            missing.append(missing_item)

        restored = []
        _restored = d.pop("restored")
        for restored_item_data in _restored:
            restored_item = ContainerDrift.from_dict(restored_item_data)

            restored.append(restored_item)

        migrated = []
        _migrated = d.pop("migrated")
        for migrated_item_data in _migrated:
            migrated_item = ContainerDrift.from_dict(migrated_item_data)

            migrated.append(migrated_item)

        reconcile_result = cls(
            node_id=node_id,
            checked=checked,
            missing=missing,
            restored=restored,
            migrated=migrated,
        )

        return reconcile_result
