"""A per-process cache of what the authenticated read path reads (sessions, VMID sets), kept
correct by invalidations pushed over Redis pub/sub.

Every write of a cached key (logout, a VMID set's refresh or invalidation) PUBLISHes the key's
name on the deployment's invalidation channel inside the same MULTI as the write, so the
message reaches every API process before the writer's own reply does (and so before its client
can ask another process). Each API process runs one `InvalidationSubscriber`:

- its own connection and a small RESP parser as an asyncio `Protocol`, so a message drops its
  keys synchronously, in the same event-loop pass that reads it from the socket, before any
  request task that became ready alongside it takes its next step;
- the cache is ON only while the subscription is confirmed. EOF, a socket error or a PING left
  unanswered for about a second turn it OFF at once (every read goes to Redis, as without a
  cache); it comes back ON, empty, only once a new SUBSCRIBE is confirmed;
- an epoch counter, bumped by every invalidation and every switch, makes a fill that raced an
  invalidation (read before the write, stored after the message) drop its value;
- an entry lives `min(ttl, the key's PTTL)`, 5 s by default: a safety net, not the mechanism.

Channel names carry the Redis db number and the queue name: pub/sub ignores the db number, so
two deployments on one Redis would otherwise invalidate each other's caches.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import ssl
import time
from collections.abc import Iterable
from typing import Any, Final

from redis.asyncio import Redis
from redis.connection import parse_url

from shared.core.logging import get_logger

log = get_logger(__name__)

#: what `ReadCache.get` answers for a key it does not hold (None is a cacheable value)
MISS: Final = object()


def invalidation_channel(redis: Redis, queue_name: str) -> str:
    """The deployment's invalidation channel (the db number of `redis`, the queue name)."""
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    return f"infrahaus-invalidate:{db}:{queue_name}"


def invalidation_message(keys: Iterable[str]) -> str:
    """The message naming the Redis keys just written (space-separated; keys have no spaces)."""
    return " ".join(keys)


class ReadCache:
    """Entries by Redis key name. Off until a subscriber turns it on."""

    def __init__(self, ttl_seconds: float, *, max_entries: int = 20_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.enabled = False
        self.epoch = 0
        self._entries: dict[str, tuple[float, object]] = {}
        self.switches = 0  # how often it was turned off (for tests and logs)

    def get(self, key: str) -> object:
        """The cached value, or `MISS` (also whenever the cache is off)."""
        if not self.enabled:
            return MISS
        entry = self._entries.get(key)
        if entry is None:
            return MISS
        if entry[0] <= time.monotonic():
            self._entries.pop(key, None)
            return MISS
        return entry[1]

    def put(
        self,
        key: str,
        value: object,
        epoch: int,
        pttl_ms: float | None = None,
        *,
        started: float | None = None,
        max_seconds: float | None = None,
    ) -> None:
        """Store what a read returned, unless an invalidation or a switch happened since the
        read began (`epoch` is `self.epoch` taken before it was sent; `started`, the
        `time.monotonic()` of that moment, so the entry never outlives the key's PTTL, which
        Redis counted from before the reply travelled and waited to be read); `max_seconds`, a
        shorter bound of the caller's)."""
        if not self.enabled or epoch != self.epoch:
            return
        if pttl_ms == -2:  # no such key: nothing worth holding (and a cheap way to flood us)
            return
        ttl = self.ttl if max_seconds is None else min(self.ttl, max_seconds)
        if pttl_ms is not None and pttl_ms >= 0:  # -1: no expiry
            ttl = min(ttl, pttl_ms / 1000)
        if ttl <= 0:
            return
        entries = self._entries
        if len(entries) >= self.max_entries and key not in entries:
            entries.pop(next(iter(entries)))  # the oldest fill
        entries[key] = ((time.monotonic() if started is None else started) + ttl, value)

    def invalidate(self, keys: Iterable[str]) -> None:
        self.epoch += 1
        entries = self._entries
        for key in keys:
            entries.pop(key, None)

    def turn_on(self) -> None:
        self._entries.clear()
        self.epoch += 1
        self.enabled = True

    def turn_off(self) -> None:
        if self.enabled:
            self.switches += 1
        self.enabled = False
        self.epoch += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class _Incomplete(Exception):
    pass


class _ReplyError(str):
    """A RESP error reply."""


def _parse(buffer: bytearray, pos: int) -> tuple[Any, int]:
    """One RESP2 reply from `buffer` at `pos`, and where the next one starts."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind, line, pos = buffer[pos], bytes(buffer[pos + 1 : end]), end + 2
    if kind == 0x2B:  # +
        return line, pos
    if kind == 0x2D:  # -
        return _ReplyError(line.decode(errors="replace")), pos
    if kind == 0x3A:  # :
        return int(line), pos
    if kind == 0x24:  # $
        size = int(line)
        if size < 0:
            return None, pos
        if len(buffer) < pos + size + 2:
            raise _Incomplete
        return bytes(buffer[pos : pos + size]), pos + size + 2
    if kind == 0x2A:  # *
        count = int(line)
        items = []
        for _ in range(max(count, 0)):
            item, pos = _parse(buffer, pos)
            items.append(item)
        return items, pos
    raise ValueError(f"not a RESP reply: {bytes(buffer[pos - len(line) - 3 : end])!r}")


def _command(*args: str | bytes) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


_PING: Final = _command("PING")
_SUBSCRIBERS = itertools.count(1)


class _Protocol(asyncio.Protocol):
    def __init__(self, subscriber: InvalidationSubscriber) -> None:
        self.subscriber = subscriber
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        pos = 0
        try:
            while pos < len(buffer):
                reply, pos = _parse(buffer, pos)
                self.subscriber._on_reply(self, reply)
        except _Incomplete:
            pass
        except ValueError as exc:
            self.subscriber._lost(self, f"protocol error: {exc}")
            return
        del buffer[:pos]

    def eof_received(self) -> bool:
        self.subscriber._lost(self, "EOF")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.subscriber._lost(self, f"connection lost: {exc}" if exc else "connection closed")


class InvalidationSubscriber:
    """Keeps `cache` on while subscribed to `channel`; started and stopped with the app."""

    def __init__(
        self,
        redis_url: str,
        channel: str,
        cache: ReadCache,
        *,
        ping_interval: float = 0.25,
        ping_timeout: float = 0.75,
        connect_timeout: float = 2.0,
    ) -> None:
        self.url: dict[str, Any] = parse_url(redis_url)  # type: ignore[no-untyped-call]
        self.channel = channel
        self.cache = cache
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        # found by this name in CLIENT LIST (tests kill it; the bench leaves it out)
        self.client_name = f"infrahaus-cache-{os.getpid()}-{next(_SUBSCRIBERS)}"
        self.connects = 0
        self._task: asyncio.Task[None] | None = None
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._handshake: list[str] = []  # the replies still expected before SUBSCRIBE's
        self._subscribed: asyncio.Future[str] | None = None
        self._closed: asyncio.Future[str] | None = None
        self._ping_sent: float | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="read-cache-subscriber")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self.cache.turn_off()
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._transport is not None:
            self._transport.abort()

    async def wait_subscribed(self, seconds: float) -> bool:
        """True once the cache is on (within `seconds`)."""
        deadline = time.monotonic() + seconds
        while not self.cache.enabled:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # -- the connection ---------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._session()
            except (OSError, TimeoutError, ssl.SSLError, _Lost) as exc:
                level = log.info if isinstance(exc, _Lost) else log.warning
                level("read cache off: its subscription is down", reason=str(exc)[:200])
            except Exception as exc:  # a bug: logged, the cache stays off until resubscribed
                log.error("read cache subscriber failed", error=repr(exc)[:300], exc_info=exc)
            finally:
                self.cache.turn_off()
                self._protocol = None
                if self._transport is not None:
                    self._transport.abort()
                    self._transport = None
            if self._subscribed is not None and self._subscribed.done():
                backoff = 0.05  # it was up: retry at once
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 2.0)

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        self._subscribed, self._closed = loop.create_future(), loop.create_future()
        self._ping_sent = None
        protocol = self._protocol = _Protocol(self)
        url = self.url
        async with asyncio.timeout(self.connect_timeout):
            if "path" in url:
                transport, _ = await loop.create_unix_connection(lambda: protocol, url["path"])
            else:
                context: ssl.SSLContext | None = None
                if url.get("connection_class") is not None and "SSL" in str(
                    url["connection_class"]
                ):
                    context = ssl.create_default_context()
                    if str(url.get("ssl_cert_reqs", "")).lower() == "none":
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                transport, _ = await loop.create_connection(
                    lambda: protocol, url.get("host", "localhost"), url.get("port", 6379),
                    ssl=context,
                )  # fmt: skip
        self._transport = transport
        commands, self._handshake = [], []
        if url.get("password"):
            auth = ("AUTH", url["username"], url["password"]) if url.get("username") else (
                "AUTH", url["password"],
            )  # fmt: skip
            commands.append(_command(*auth))
            self._handshake.append("AUTH")
        commands.append(_command("CLIENT", "SETNAME", self.client_name))
        self._handshake.append("CLIENT SETNAME")
        commands.append(_command("SUBSCRIBE", self.channel))
        transport.write(b"".join(commands))
        async with asyncio.timeout(self.connect_timeout):
            await asyncio.wait({self._subscribed, self._closed}, return_when="FIRST_COMPLETED")
        if self._closed.done():
            raise _Lost(self._closed.result())
        self.connects += 1
        if self.connects > 1:
            log.info("read cache on again: resubscribed", channel=self.channel)
        closed = self._closed
        while True:
            await asyncio.wait({closed}, timeout=self.ping_interval)
            if closed.done():
                raise _Lost(closed.result())
            now = loop.time()
            if self._ping_sent is None:
                self._ping_sent = now
                transport.write(_PING)
            elif now - self._ping_sent > self.ping_timeout:
                self._lost(protocol, f"no PING reply within {self.ping_timeout} s")
                raise _Lost(closed.result())

    # -- called by the protocol, synchronously ----------------------------------------------

    def _on_reply(self, protocol: _Protocol, reply: Any) -> None:
        if protocol is not self._protocol or self._closed is None or self._closed.done():
            return  # a connection given up already
        if isinstance(reply, list) and reply:
            kind = reply[0]
            if kind == b"message" and len(reply) == 3:
                self.cache.invalidate(reply[2].decode().split())
            elif kind == b"pong":
                self._ping_sent = None
            elif kind == b"subscribe":
                if self._subscribed is not None and not self._subscribed.done():
                    self.cache.turn_on()
                    self._subscribed.set_result("")
            return
        if isinstance(reply, _ReplyError):
            what = self._handshake[0] if self._handshake else "a command"
            self._lost(protocol, f"Redis refused {what}: {reply}")
        elif self._handshake:
            self._handshake.pop(0)

    def _lost(self, protocol: _Protocol, reason: str) -> None:
        if protocol is not self._protocol:
            return  # a connection given up already
        self.cache.turn_off()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(reason)
        if self._transport is not None:
            self._transport.abort()


class _Lost(Exception):
    pass
