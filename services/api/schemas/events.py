"""Bodies of the progress-event routes. The event itself is `shared.events.EventEnvelope`."""

from __future__ import annotations

from services.api.schemas import CamelStruct
from shared.events import EventEnvelope


class EventPage(CamelStruct):
    """Events ordered by `seq`. `nextAfter` is the `after` of the next page; null at the end."""

    items: list[EventEnvelope]
    next_after: int | None
