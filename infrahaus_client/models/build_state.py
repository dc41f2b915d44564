from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..models.lifecycle import Lifecycle
from ..models.phase import Phase

T = TypeVar("T", bound="BuildState")


@_attrs_define
class BuildState:
    id: UUID
    lifecycle: Lifecycle
    last_completed_phase: None | Phase
    cancel_requested: bool

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        lifecycle = self.lifecycle.value

        last_completed_phase: None | str
        if isinstance(self.last_completed_phase, Phase):
            last_completed_phase = self.last_completed_phase.value
        else:
            last_completed_phase = self.last_completed_phase

        cancel_requested = self.cancel_requested

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "lifecycle": lifecycle,
                "lastCompletedPhase": last_completed_phase,
                "cancelRequested": cancel_requested,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        lifecycle = Lifecycle(d.pop("lifecycle"))

        def _parse_last_completed_phase(data: object) -> None | Phase:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_completed_phase_type_0 = Phase(data)

                return last_completed_phase_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Phase, data)

        last_completed_phase = _parse_last_completed_phase(d.pop("lastCompletedPhase"))

        cancel_requested = d.pop("cancelRequested")

        build_state = cls(
            id=id,
            lifecycle=lifecycle,
            last_completed_phase=last_completed_phase,
            cancel_requested=cancel_requested,
        )

        return build_state
