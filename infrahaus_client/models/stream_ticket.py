from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="StreamTicket")


@_attrs_define
class StreamTicket:
    ticket: str
    expires_in: int
    stream_url: str

    def to_dict(self) -> dict[str, Any]:
        ticket = self.ticket

        expires_in = self.expires_in

        stream_url = self.stream_url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "ticket": ticket,
                "expiresIn": expires_in,
                "streamUrl": stream_url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ticket = d.pop("ticket")

        expires_in = d.pop("expiresIn")

        stream_url = d.pop("streamUrl")

        stream_ticket = cls(
            ticket=ticket,
            expires_in=expires_in,
            stream_url=stream_url,
        )

        return stream_ticket
