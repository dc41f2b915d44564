"""SSE load generator, run as its own process:
`python -m bench.sse_client URL PATH TOKEN CONNECTIONS LAST_SEQ`.

Opens CONNECTIONS streams over plain asyncio sockets (HTTP/1.1, chunked), prints `ready` once
every stream has its first chunk (the replay is done and the stream is live), then reads until
every stream ended after event LAST_SEQ. Prints one JSON line: per stream, the seqs in the order
received; the delivery latencies (receive time minus the event's `timestamp`, which the writer
sets just before its INSERT, so a latency includes the commit); the process's CPU seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import time
from urllib.parse import urlsplit

import msgspec


class _Event(msgspec.Struct):
    seq: int
    timestamp: dt.datetime


_decode = msgspec.json.Decoder(_Event).decode


async def _stream(
    host: str, port: int, request: bytes, ready: asyncio.Event, counter: list[int], total: int,
    seqs: list[int], latencies: list[float],
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            raise RuntimeError(f"status {status}: {head!r}")
        buffer = b""
        first = True
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                return
            chunk = (await reader.readexactly(size + 2))[:-2]
            now = time.time()
            if first:
                first = False
                counter[0] += 1
                if counter[0] == total:
                    ready.set()
            buffer += chunk
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                for line in block.split(b"\n"):
                    if line.startswith(b"data: "):
                        event = _decode(line[6:])
                        seqs.append(event.seq)
                        latencies.append(now - event.timestamp.timestamp())
    finally:
        writer.close()


async def run(url: str, path: str, token: str, connections: int, last_seq: int) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    ready = asyncio.Event()
    counter = [0]
    seqs: list[list[int]] = [[] for _ in range(connections)]
    latencies: list[float] = []
    tasks = []
    for i in range(connections):
        tasks.append(
            asyncio.create_task(
                _stream(host, port, request, ready, counter, connections, seqs[i], latencies)
            )
        )
        if i % 50 == 49:
            await asyncio.sleep(0.01)  # let the accept backlog drain
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED, timeout=120)
    if not ready.is_set():  # a stream failed (or never started): report instead of hanging
        waiting.cancel()
        for task in tasks:
            task.cancel()
    print("ready", flush=True)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    cpu = os.times()
    return {
        "seqs": seqs,
        "latencies": latencies,
        "errors": errors,
        "cpu_s": cpu.user + cpu.system,
        "expected_last": last_seq,
    }


def main() -> int:
    url, path, token = sys.argv[1], sys.argv[2], sys.argv[3]
    connections, last_seq = int(sys.argv[4]), int(sys.argv[5])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(url, path, token, connections, last_seq))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
