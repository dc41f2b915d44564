"""Bodies of the progress-event routes. The event itself is `shared.domain.events.EventEnvelope`."""

from __future__ import annotations

from services.api.schemas import CamelStruct
from shared.domain.events import EventEnvelope


class EventPage(CamelStruct):
    """Events ordered by `seq`. `nextAfter` is the `after` of the next page; null at the end."""

    items: list[EventEnvelope]
    next_after: int | None


class StreamTicket(CamelStruct):
    """Open `streamUrl` (this API's path plus the ticket) with `EventSource` within
    `expiresIn` seconds; the ticket works once."""

    ticket: str
    expires_in: int
    stream_url: str
