"""Progress-event fan-out: one Redis pub/sub connection per API process, whatever the number of
SSE clients.

The hub owns one dedicated connection in subscriber mode. Streams ask it for a `Subscription` to
a container's channel; the hub SUBSCRIBEs a channel when its first subscriber arrives and
UNSUBSCRIBEs it when its last one leaves (reference counting), and copies every message into
each subscriber's bounded in-process queue. A message is decoded and framed (SSE bytes) once,
however many subscribers share it.

Nothing here is the record: PostgreSQL is. So whenever the live feed may have missed something,
the hub tells the subscriber to back-fill from the table instead of trying to be clever:

- the connection drops: the hub reconnects with backoff, re-subscribes every channel in one
  command and, once Redis confirms, puts `RESYNC` in every subscriber's queue;
- a subscriber's queue is full (a slow client): its queue is emptied and replaced by `RESYNC`,
  so a slow reader never blocks the hub or the other subscribers, and costs bounded memory.

While the connection is down, `Subscription.live` is false; streams then poll the table.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from typing import Final

import msgspec
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from shared.core import metrics
from shared.core.logging import get_logger
from shared.domain import events
from shared.domain.events import EventEnvelope

log = get_logger(__name__)


class Frame:
    """One event as the stream sends it: its seq, whether it ends the stream, the SSE bytes,
    and when the hub received it (`time.monotonic()`)."""

    __slots__ = ("data", "received", "seq", "terminal")

    def __init__(self, envelope: EventEnvelope, received: float) -> None:
        self.seq = envelope.seq
        self.terminal = envelope.terminal
        self.data = sse_event(envelope)
        self.received = received


def sse_event(envelope: EventEnvelope) -> bytes:
    """`id:` seq, `event:` type, `data:` the envelope's JSON (one line: JSON escapes newlines)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        envelope.seq,
        envelope.type.value.encode(),
        msgspec.json.encode(envelope),
    )


class _Resync:
    """Queue marker: live messages may have been missed; back-fill from PostgreSQL."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RESYNC"


RESYNC: Final = _Resync()

QueueItem = Frame | _Resync


class Subscription:
    """One stream's view of a channel. Use as an async context manager, or call `close()`.

    Its queue is a plain bounded list with one waiter: the hub appends and wakes the stream,
    the stream takes everything queued at once (one write per wake-up, however many events).
    """

    __slots__ = ("_buffer", "_confirmed", "_hub", "_waiter", "channel", "closed", "maxsize")

    def __init__(self, hub: EventHub, channel: str, maxsize: int) -> None:
        self._hub = hub
        self.channel = channel
        self.maxsize = maxsize
        self._buffer: list[QueueItem] = []
        self._waiter: asyncio.Future[None] | None = None
        self._confirmed = asyncio.Event()
        self.closed = False

    @property
    def confirmed(self) -> bool:
        """Redis confirmed the subscription once (the stream may replay and go live)."""
        return self._confirmed.is_set()

    @property
    def live(self) -> bool:
        """Redis confirmed the subscription and the connection is up: messages are arriving."""
        return self._confirmed.is_set() and self._hub.channel_live(self.channel)

    async def wait_confirmed(self, seconds: float) -> bool:
        """Wait until Redis confirmed the SUBSCRIBE; false when it did not within `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                await self._confirmed.wait()
        except TimeoutError:
            return False
        return True

    async def wait(self) -> list[QueueItem]:
        """Everything queued, oldest first; waits while nothing is. An empty list means the
        hub's tick woke the stream (every `tick_seconds`): time to ping, or to poll."""
        if not self._buffer:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        items, self._buffer = self._buffer, []
        return items

    def drain(self) -> list[QueueItem]:
        """Everything queued right now, without waiting."""
        items, self._buffer = self._buffer, []
        return items

    def close(self) -> None:
        """Leave the channel (idempotent)."""
        if not self.closed:
            self.closed = True
            metrics.sse_subscribers(-1)
            self._hub._release(self)
            self._wake()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- called by the hub ------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _deliver(self, item: QueueItem) -> bool:
        """Queue `item`; on overflow replace the backlog by one RESYNC. False on overflow."""
        buffer = self._buffer
        delivered = len(buffer) < self.maxsize
        if delivered:
            buffer.append(item)
        else:
            buffer.clear()
            buffer.append(RESYNC)
        waiter = self._waiter  # (`_wake`, inlined: this runs once per event and stream)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return delivered

    def _confirm(self) -> None:
        """Redis (re)confirmed the channel: a first confirmation lets the stream start; a
        later one (after a reconnect) means messages were possibly missed."""
        if self._confirmed.is_set():
            self._deliver(RESYNC)
        else:
            self._confirmed.set()


class _Channel:
    __slots__ = ("confirmed", "name", "pending", "subscribers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscribers: set[Subscription] = set()
        self.pending = 0  # SUBSCRIBEs sent and not yet confirmed on this connection
        self.confirmed = False


class Delays:
    """A histogram of delays in 0.1 ms steps up to 10 s: cheap to add to, good for quantiles."""

    __slots__ = ("buckets", "count")

    STEP = 1e-4

    def __init__(self) -> None:
        self.buckets = [0] * 100_001
        self.count = 0

    def add(self, seconds: float, count: int = 1) -> None:
        index = int(seconds * 10_000)
        self.buckets[index if 0 <= index <= 100_000 else (0 if index < 0 else 100_000)] += count
        self.count += count

    def quantile(self, q: float) -> float | None:
        """The delay in seconds below which a fraction `q` of the delays fall."""
        if not self.count:
            return None
        rank, seen = q * self.count, 0
        for index, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                return (index + 1) * self.STEP
        return len(self.buckets) * self.STEP


class HubStats(msgspec.Struct):
    connected: bool
    channels: int
    subscribers: int
    connects: int
    messages: int
    overflows: int
    deliveries: int  # live events written to streams
    fanout_p50_ms: float | None  # from the hub receiving a message to a stream writing it
    fanout_p99_ms: float | None


class EventHub:
    """Started and stopped with the app (`app.state.event_hub`)."""

    def __init__(
        self,
        redis_url: str,
        *,
        queue_size: int = 512,
        tick_seconds: float = 1.0,
        keepalive_seconds: float = 5.0,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self._pool = ConnectionPool.from_url(
            redis_url,
            socket_connect_timeout=2,
            socket_timeout=None,  # a subscriber waits for messages for as long as it takes
            health_check_interval=0,  # the keep-alive task below does this job
            client_name=f"infrahaus-events-{os.getpid()}",
        )
        self.queue_size = queue_size
        self.tick_seconds = tick_seconds
        self.keepalive_seconds = keepalive_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._channels: dict[str, _Channel] = {}
        self._commands: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
        self._connection: AbstractConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._connects = 0
        self._messages = 0
        self._overflows = 0
        self.fanout = Delays()  # streams add the delay of each live event they write

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-hub")
            self._ticker = asyncio.create_task(self._tick(), name="event-hub-tick")

    async def stop(self) -> None:
        log.info("event hub stopped", **msgspec.structs.asdict(self.stats()))
        tasks = [task for task in (self._task, self._ticker) if task is not None]
        self._task = self._ticker = None
        for task in tasks:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self._pool.aclose()

    async def _tick(self) -> None:
        """Wake every stream now and then, so idle ones ping (and poll while disconnected);
        one timer for all streams instead of one per stream and wait."""
        while True:
            await asyncio.sleep(self.tick_seconds)
            for channel in list(self._channels.values()):
                for subscription in list(channel.subscribers):
                    subscription._wake()

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def connections(self) -> int:
        """Redis connections the hub holds: 1 while connected, whatever the subscribers."""
        return 1 if self._connection is not None else 0

    def stats(self) -> HubStats:
        return HubStats(
            connected=self.connected,
            channels=len(self._channels),
            subscribers=sum(len(c.subscribers) for c in self._channels.values()),
            connects=self._connects,
            messages=self._messages,
            overflows=self._overflows,
            deliveries=self.fanout.count,
            fanout_p50_ms=_ms(self.fanout.quantile(0.5)),
            fanout_p99_ms=_ms(self.fanout.quantile(0.99)),
        )

    # -- subscribing ----------------------------------------------------------------------

    def subscribe(self, container_id: uuid.UUID) -> Subscription:
        """Join the container's channel now; `wait_confirmed` before reading the table."""
        name = events.channel(container_id)
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = _Channel(name)
        subscription = Subscription(self, name, self.queue_size)
        metrics.sse_subscribers(1)
        first = not channel.subscribers
        channel.subscribers.add(subscription)
        if self._connection is None:
            return subscription  # (re)subscribed with all the others once connected
        if first:
            channel.pending += 1
            channel.confirmed = False
            self._commands.put_nowait(("SUBSCRIBE", name))
        elif channel.confirmed:
            subscription._confirm()
        return subscription

    def channel_live(self, name: str) -> bool:
        channel = self._channels.get(name)
        return self._connection is not None and channel is not None and channel.confirmed

    def _release(self, subscription: Subscription) -> None:
        channel = self._channels.get(subscription.channel)
        if channel is None:
            return
        channel.subscribers.discard(subscription)
        if channel.subscribers:
            return
        if self._connection is None:
            del self._channels[channel.name]
        else:
            channel.confirmed = False
            self._commands.put_nowait(("UNSUBSCRIBE", channel.name))

    # -- the connection -------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            connection: AbstractConnection | None = None
            try:
                # redis-py leaves make_connection unannotated
                connection = self._pool.make_connection()  # type: ignore[no-untyped-call]
                await connection.connect()
                self._connects += 1
                self._connection = connection
                self._resubscribe_all()
                if self._connects > 1:
                    log.info("event hub reconnected", channels=len(self._channels))
                backoff = 0.1
                await self._session(connection)
            except* (RedisError, OSError, TimeoutError) as group:
                log.warning(
                    "event hub connection lost",
                    error=str(group.exceptions[0])[:200],
                    retry_in=round(backoff, 2),
                )
            except* Exception as group:  # a bug: logged, and the hub carries on
                log.error("event hub failed", error=repr(group.exceptions[0])[:300], exc_info=group)
            finally:
                self._connection = None
                self._on_disconnect()
                if connection is not None:
                    await connection.disconnect(nowait=True)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.max_backoff_seconds)

    def _resubscribe_all(self) -> None:
        self._commands = asyncio.Queue()
        names = []
        for name, channel in list(self._channels.items()):
            if channel.subscribers:
                channel.pending, channel.confirmed = 1, False
                names.append(name)
            else:
                del self._channels[name]
        if names:
            self._commands.put_nowait(("SUBSCRIBE", *names))

    def _on_disconnect(self) -> None:
        for name, channel in list(self._channels.items()):
            channel.pending, channel.confirmed = 0, False
            if not channel.subscribers:
                del self._channels[name]

    async def _session(self, connection: AbstractConnection) -> None:
        """Reader, writer and keep-alive of one connection; any failure ends all three."""
        seen = [asyncio.get_running_loop().time()]
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read(connection, seen))
            group.create_task(self._write(connection))
            group.create_task(self._keepalive(connection, seen))

    async def _write(self, connection: AbstractConnection) -> None:
        commands = self._commands
        while True:
            command = await commands.get()
            await connection.send_command(*command, check_health=False)

    async def _keepalive(self, connection: AbstractConnection, seen: list[float]) -> None:
        """PING when quiet; a connection that answers nothing for two rounds is dead."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.keepalive_seconds)
            if loop.time() - seen[0] > 2 * self.keepalive_seconds:
                raise TimeoutError("the pub/sub connection stopped answering")
            if loop.time() - seen[0] >= self.keepalive_seconds:
                self._commands.put_nowait(("PING",))

    async def _read(self, connection: AbstractConnection, seen: list[float]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            reply = await connection.read_response(disconnect_on_error=False)
            seen[0] = loop.time()
            if not isinstance(reply, list) or len(reply) < 3:
                continue  # PONG
            kind, name = reply[0], reply[1].decode()
            if kind == b"message":
                self._dispatch(name, reply[2])
            elif kind == b"subscribe":
                self._confirmed(name)
            elif kind == b"unsubscribe":
                self._unsubscribed(name)

    def _dispatch(self, name: str, data: bytes) -> None:
        channel = self._channels.get(name)
        if channel is None or not channel.subscribers:
            return
        try:
            envelope = msgspec.json.decode(data, type=EventEnvelope)
        except msgspec.ValidationError as exc:
            log.warning("malformed event message ignored", channel=name, error=str(exc)[:200])
            return
        self._messages += 1
        frame = Frame(envelope, time.monotonic())
        overflows = 0
        for subscription in channel.subscribers:
            if not subscription._deliver(frame):
                overflows += 1
        self._overflows += overflows

    def _confirmed(self, name: str) -> None:
        channel = self._channels.get(name)
        if channel is None:
            return
        channel.pending = max(channel.pending - 1, 0)
        if channel.pending == 0 and channel.subscribers:
            channel.confirmed = True
            for subscription in list(channel.subscribers):
                subscription._confirm()

    def _unsubscribed(self, name: str) -> None:
        channel = self._channels.get(name)
        if channel is not None and not channel.subscribers and channel.pending == 0:
            del self._channels[name]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
