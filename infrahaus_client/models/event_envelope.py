from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_type import EventType
from ..models.phase import Phase
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.event_envelope_metadata import EventEnvelopeMetadata


T = TypeVar("T", bound="EventEnvelope")


@_attrs_define
class EventEnvelope:
    seq: int
    type_: EventType
    """ Kinds of progress events (ARCHITECTURE §8); `complete` and `error` end a stream. """
    message: str
    timestamp: datetime.datetime
    step: None | Phase | Unset = UNSET
    percent: int | None | Unset = UNSET
    script_name: None | str | Unset = UNSET
    script_index: int | None | Unset = UNSET
    script_total: int | None | Unset = UNSET
    metadata: EventEnvelopeMetadata | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        seq = self.seq

        type_ = self.type_.value

        message = self.message

        timestamp = self.timestamp.isoformat()

        step: None | str | Unset
        if isinstance(self.step, Unset):
            step = UNSET
        elif isinstance(self.step, Phase):
            step = self.step.value
        else:
            step = self.step

        percent: int | None | Unset
        if isinstance(self.percent, Unset):
            percent = UNSET
        else:
            percent = self.percent

        script_name: None | str | Unset
        if isinstance(self.script_name, Unset):
            script_name = UNSET
        else:
            script_name = self.script_name

        script_index: int | None | Unset
        if isinstance(self.script_index, Unset):
            script_index = UNSET
        else:
            script_index = self.script_index

        script_total: int | None | Unset
        if isinstance(self.script_total, Unset):
            script_total = UNSET
        else:
            script_total = self.script_total

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "seq": seq,
                "type": type_,
                "message": message,
                "timestamp": timestamp,
            }
        )
        if step is not UNSET:
            field_dict["step"] = step
        if percent is not UNSET:
            field_dict["percent"] = percent
        if script_name is not UNSET:
            field_dict["scriptName"] = script_name
        if script_index is not UNSET:
            field_dict["scriptIndex"] = script_index
        if script_total is not UNSET:
            field_dict["scriptTotal"] = script_total
        if metadata is not UNSET:
            field_dict["metadata"] = metadata

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_envelope_metadata import EventEnvelopeMetadata  # noqa: PLC0415

        d = dict(src_dict)
        seq = d.pop("seq")

        type_ = EventType(d.pop("type"))

        message = d.pop("message")

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        def _parse_step(data: object) -> None | Phase | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                step_type_0 = Phase(data)

                return step_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Phase | Unset, data)

        step = _parse_step(d.pop("step", UNSET))

        def _parse_percent(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        percent = _parse_percent(d.pop("percent", UNSET))

        def _parse_script_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        script_name = _parse_script_name(d.pop("scriptName", UNSET))

        def _parse_script_index(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        script_index = _parse_script_index(d.pop("scriptIndex", UNSET))

        def _parse_script_total(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        script_total = _parse_script_total(d.pop("scriptTotal", UNSET))

        _metadata = d.pop("metadata", UNSET)
        metadata: EventEnvelopeMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = EventEnvelopeMetadata.from_dict(_metadata)

        event_envelope = cls(
            seq=seq,
            type_=type_,
            message=message,
            timestamp=timestamp,
            step=step,
            percent=percent,
            script_name=script_name,
            script_index=script_index,
            script_total=script_total,
            metadata=metadata,
        )

        event_envelope.additional_properties = d
        return event_envelope

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
