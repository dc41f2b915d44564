"""Load generator, run as its own process:
`python -m bench.load URL SECONDS CONNECTIONS [HEADER: VALUE ...]`.

Plain asyncio streams speaking HTTP/1.1 keep-alive GETs, so the client costs far less per
request than an HTTP library would and the server stays the bottleneck. Prints one JSON line,
at the end of SECONDS or on SIGTERM (a test's background load stops when the test is done).
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import sys
import time
from urllib.parse import urlsplit


async def _connection(
    host: str, port: int, request: bytes, stop_at: float, latencies: list[float],
    errors: list[int],
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at and not _STOPPED:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status >= 400:
                errors.append(status)
    finally:
        writer.close()


_STOPPED: list[bool] = []  # non-empty after SIGTERM


async def measure(
    url: str, seconds: float, connections: int, headers: list[str] | None = None
) -> dict[str, float]:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    extra = "".join(f"{line}\r\n" for line in headers or [])
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n{extra}\r\n"
    ).encode()
    latencies: list[float] = []
    errors: list[int] = []
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, _STOPPED.append, True)
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_connection(host, port, request, stop_at, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


def main() -> int:
    url, seconds, connections = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(measure(url, seconds, connections, sys.argv[4:]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
