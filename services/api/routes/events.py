"""A container's progress events: a JSON page, and the live SSE stream (ARCHITECTURE §8).

The stream follows the contract step by step: authorize (another user's container is a 404),
subscribe and wait until Redis confirms, replay from PostgreSQL what the client has not seen,
then forward live messages, skipping seqs already sent and back-filling any gap from
PostgreSQL, and end after a terminal event. Subscribing before the replay is what makes it
lossless: a row committed after the replay query was published after the subscription.

No database connection is held while a stream waits: every read opens a short session.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import Stream
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from services.api.auth import SECURITY, STREAM_TICKET, CurrentUser
from services.api.events_hub import EventHub, Frame, Subscription, sse_event
from services.api.problems import problem_responses
from services.api.schemas.events import EventPage, StreamTicket
from services.api.tickets import TICKET_TTL_SECONDS, StreamTickets
from shared.core.lifecycle import EventType
from shared.core.logging import get_logger
from shared.db.models import ContainerEvent
from shared.domain import events
from shared.domain.containers import ContainerService

log = get_logger(__name__)

SEQ_MAX = 2**31 - 1  # `seq` is a PostgreSQL integer
RETRY_MS = 3000  # the `retry:` hint: how long an EventSource waits before reconnecting
SUBSCRIBE_TIMEOUT_SECONDS = 5.0  # Redis must confirm the subscription within this (else 503)
POLL_SECONDS = 1.0  # while the pub/sub connection is down, streams poll the table this often
BACKFILL_PAGE = 1000

EVENT_STREAM = "text/event-stream"
STREAM_DESCRIPTION = """\
A `text/event-stream` (Server-Sent Events). The first frame is a `retry:` hint in milliseconds.
Every event is one frame:

```
id: <seq>
event: <step|log|complete|error>
data: <the event as JSON: the same object as an item of ListContainerEvents>
```

Events come in `seq` order, each once. While nothing happens, a comment line (`: ping`) is sent
every 15 seconds. The stream ends after a `complete` or `error` event. To resume, reconnect with
the last `id` received in the `Last-Event-ID` header (EventSource does this by itself) or the
`lastEventId` query parameter: the stream replays from the next event.

A browser's `EventSource` sends no `Authorization` header. With the session cookie
(`withCredentials: true` from another origin) it reconnects by itself. A bearer client asks
a single-use ticket (`POST .../events/ticket`) and opens `streamUrl`; the ticket is used up, so
when the connection drops (EventSource's retry is then refused with a 401 and it closes), the
client asks a new ticket and opens the new `streamUrl` with `&lastEventId=<last id>`."""


def _service(state: State, session: Any) -> ContainerService:
    return ContainerService(
        session,
        state.settings,
        state.secret_box,
        state.redis,
        state.proxmox_clients,
        read_cache=state.read_cache,
    )


async def _newest_event(
    state: State, user_id: uuid.UUID, container_id: uuid.UUID
) -> tuple[int, EventType] | None:
    """404 unless the container is the caller's; then its newest event's seq and type."""
    async with state.db_sessions() as session:
        await _service(state, session).get(user_id, container_id)
        row = (
            await session.execute(
                select(ContainerEvent.seq, ContainerEvent.type)
                .where(ContainerEvent.container_id == container_id)
                .order_by(ContainerEvent.seq.desc())
                .limit(1)
            )
        ).first()
    return (row.seq, EventType(row.type)) if row else None


async def _backfill(
    state: State, container_id: uuid.UUID, sent: int
) -> tuple[list[bytes], int, bool]:
    """Frames of the rows after `sent`, up to and including the first terminal event.

    Returns the frames, the new last seq sent, and whether the stream is finished."""
    frames: list[bytes] = []
    async with state.db_sessions() as session:
        while True:
            page = await events.after(session, container_id, sent, BACKFILL_PAGE)
            for envelope in page:
                frames.append(sse_event(envelope))
                sent = envelope.seq
                if envelope.terminal:
                    return frames, sent, True
            if len(page) < BACKFILL_PAGE:
                return frames, sent, False


async def _event_stream(
    state: State, subscription: Subscription, container_id: uuid.UUID, sent: int
) -> AsyncIterator[bytes]:
    """Replay, then live frames; pings while idle; returns after a terminal event."""
    ping = state.settings.sse_ping_seconds
    fanout = state.event_hub.fanout
    loop = asyncio.get_running_loop()
    try:
        replay, sent, done = await _backfill(state, container_id, sent)
        yield b"retry: %d\n\n" % RETRY_MS + b"".join(replay)
        last_write = last_poll = loop.time()
        while not done:
            items = await subscription.wait()
            out: list[bytes] = []
            live = 0  # frames forwarded as they came (the common case, kept cheap)
            for queued in items:
                if isinstance(queued, Frame):
                    seq = queued.seq
                    if seq <= sent:
                        continue  # already sent (replayed, or back-filled)
                    if seq == sent + 1:
                        out.append(queued.data)
                        sent, live = seq, live + 1
                        if queued.terminal:
                            done = True
                            break
                        continue
                # RESYNC (live messages possibly missed), or a gap before this frame
                more, sent, done = await _backfill(state, container_id, sent)
                out += more
                if done:
                    break
                if isinstance(queued, Frame) and queued.seq > sent:  # row gone meanwhile
                    out.append(queued.data)
                    sent, done = queued.seq, queued.terminal
            if live:  # the delay of the oldest of them, counted for each (one histogram add)
                oldest = next(i for i in items if isinstance(i, Frame))
                fanout.add(time.monotonic() - oldest.received, live)
            now = loop.time()
            if not items and not subscription.live and now - last_poll >= POLL_SECONDS:
                last_poll = now  # the live feed is down: poll the table
                out, sent, done = await _backfill(state, container_id, sent)
            if not out and now - last_write >= ping:
                out.append(b": ping\n\n")
            if out:
                yield b"".join(out)
                last_write = now
    except Exception as exc:  # the client reconnects with its last id and loses nothing
        log.warning("event stream ended early", container_id=str(container_id), error=repr(exc))
    finally:
        subscription.close()


def _close(subscription: Subscription) -> None:
    subscription.close()


class EventController(Controller):
    path = "/api/containers/{container_id:uuid}/events"
    tags = ["Containers"]
    security = SECURITY

    @get(
        operation_id="ListContainerEvents",
        summary="A page of the container's progress events, by seq",
        responses=problem_responses(400, 401, 404),
    )
    async def list_events(
        self,
        request: Request[CurrentUser, Any, Any],
        state: State,
        container_id: uuid.UUID,
        after: Annotated[
            int, QueryParameter(ge=0, le=SEQ_MAX, description="Only events with a greater seq")
        ] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000, description="Page size")] = 200,
    ) -> EventPage:
        """Oldest first. For the next page, pass `nextAfter` as `after`; it is null when
        there are no more events (yet)."""
        async with state.db_sessions() as session:
            await _service(state, session).get(request.user.id, container_id)
            page = await events.after(session, container_id, after, limit + 1)
        items = page[:limit]
        return EventPage(items=items, next_after=items[-1].seq if len(page) > limit else None)

    @post(
        "/ticket",
        operation_id="CreateEventStreamTicket",
        summary="A single-use ticket that opens the event stream (for EventSource)",
        status_code=200,
        responses=problem_responses(401, 403, 404),
    )
    async def create_ticket(
        self, request: Request[CurrentUser, Any, Any], state: State, container_id: uuid.UUID
    ) -> Response[StreamTicket]:
        """For a browser with a bearer token: `EventSource` cannot send it, so it opens
        `streamUrl`, whose ticket works once within `expiresIn` seconds and is never logged."""
        async with state.db_sessions() as session:
            await _service(state, session).get(request.user.id, container_id)
        tickets: StreamTickets = state.stream_tickets
        ticket = await tickets.issue(request.user.session, container_id)
        body = StreamTicket(
            ticket=ticket,
            expires_in=TICKET_TTL_SECONDS,
            stream_url=f"/api/containers/{container_id}/events/stream?ticket={ticket}",
        )
        return Response(body, headers={"Cache-Control": "no-store"})

    @get(
        "/stream",
        opt={STREAM_TICKET: True},
        security=[*SECURITY, {"streamTicket": []}],
        operation_id="StreamContainerEvents",
        summary="The container's progress events, live (Server-Sent Events)",
        description=STREAM_DESCRIPTION,
        media_type=EVENT_STREAM,
        responses={
            200: ResponseSpec(
                data_container=str,
                media_type=EVENT_STREAM,
                description="The event stream (see above).",
                generate_examples=False,
            ),
            204: ResponseSpec(
                data_container=None,
                description="The client already has the container's final event: nothing "
                "more will come. (EventSource stops reconnecting on a 204.)",
                generate_examples=False,
            ),
            **problem_responses(400, 401, 404),
        },
    )
    async def stream_events(
        self,
        request: Request[CurrentUser, Any, Any],
        state: State,
        container_id: uuid.UUID,
        last_event_id_header: Annotated[
            int,
            HeaderParameter(
                name="Last-Event-ID",
                ge=0,
                le=SEQ_MAX,
                description="The last seq received; set by EventSource when it reconnects",
            ),
        ] = 0,
        last_event_id: Annotated[
            int,
            QueryParameter(
                name="lastEventId",
                ge=0,
                le=SEQ_MAX,
                description="Like the `Last-Event-ID` header, for clients that cannot set it",
            ),
        ] = 0,
    ) -> Stream:
        # EventSource keeps the URL (with its `lastEventId`) and adds the header when it
        # reconnects: the greater of the two is the client's position.
        sent = max(last_event_id_header, last_event_id)
        newest = await _newest_event(state, request.user.id, container_id)
        if newest is not None and newest[1].terminal and sent >= newest[0]:
            # A 204 is no Stream; annotating `Stream | Response[None]` would change the spec.
            return Response(content=None, status_code=204)  # type: ignore[return-value]
        hub: EventHub = state.event_hub
        subscription = hub.subscribe(container_id)
        try:
            confirmed = await subscription.wait_confirmed(SUBSCRIBE_TIMEOUT_SECONDS)
        finally:
            if not subscription.confirmed:  # timed out, or the request was cancelled
                subscription.close()
        if not confirmed:
            raise RedisConnectionError("the event subscription was not confirmed in time")
        return Stream(
            _event_stream(state, subscription, container_id, sent),
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            # runs when the response ends, also when the client went away mid-stream
            background=BackgroundTask(_close, subscription),
        )
