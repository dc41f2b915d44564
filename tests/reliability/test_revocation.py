"""Revocation across two real API processes with their read caches on (issue 17): a session
logged out on A is refused by B at once (1,000 trials under concurrent load: 0 stale answers,
lag p99 <= 20 ms); with B's invalidation subscription killed before each logout, still 0 stale
answers (its cache turns off the moment the connection drops); and B's cache comes back on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest
from redis.asyncio import Redis

from shared.core.settings import Settings
from shared.dev.embedded import free_port
from shared.domain.sessions import SessionStore
from tests.figures import record
from tests.reliability.conftest import start_api
from tests.support import stop_process

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 1000
CUT_TRIALS = 30
LOADERS = 2  # concurrent request loops (one per process) while the trials run


async def _sessions(redis: Redis, count: int) -> list[tuple[str, tuple[str, str]]]:
    """Bearer tokens (and their sessions' Redis keys) made by the real store."""
    store = SessionStore(redis, 600)
    made = []
    for _ in range(count):
        new = await store.create(
            user_id=str(uuid.uuid4()), userid="tests@pve", host="tests.invalid", port=8006
        )
        made.append((new.bearer_token, new.data.keys))
    return made


class _Http:
    """HTTP/1.1 keep-alive over plain asyncio streams: far cheaper per request than httpx, so
    the test's own client costs little next to the two servers on a busy machine."""

    def __init__(self, url: str) -> None:
        self.url = urlsplit(url)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, method: str, path: str, token: str) -> int:
        try:
            return await self._call(method, path, token)
        except (asyncio.IncompleteReadError, ConnectionError):  # an idle keep-alive closed
            self.close()
            return await self._call(method, path, token)

    async def _call(self, method: str, path: str, token: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.url.hostname, self.url.port
            )
        assert self.reader is not None
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.url.hostname}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return int(head.split(b" ", 2)[1])

    async def get(self, path: str, token: str) -> int:
        return await self.call("GET", path, token)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _start_load(url: str, token: str) -> subprocess.Popen[str]:
    """`bench.load` on `url`'s /me with `token`, until terminated."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.load", f"{url}/api/auth/me", "300", str(LOADERS // 2),
         f"Authorization: Bearer {token}"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def _served(loader: subprocess.Popen[str]) -> tuple[int, int]:
    """Requests a load process made, and its error answers ((0, 0) when it did not report)."""
    try:
        output, _ = loader.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        loader.kill()
        loader.communicate()
        return 0, 0
    report = json.loads(output) if output.strip() else {"requests": 0, "errors": 0}
    return int(report["requests"]), int(report["errors"])


async def _subscriber(redis: Redis, pid: int) -> dict[str, str] | None:
    """B's invalidation subscriber in CLIENT LIST (named by the API: shared.adapters.readcache)."""
    for client in await redis.client_list():
        if client.get("name", "").startswith(f"infrahaus-cache-{pid}-"):
            return client
    return None


async def _wait_subscribed(redis: Redis, pid: int) -> dict[str, str]:
    async with asyncio.timeout(10):
        while True:
            client = await _subscriber(redis, pid)
            if client is not None and client.get("sub") == "1":
                return client
            await asyncio.sleep(0.005)


async def _getex_count(redis_url: str, key: str, action: Callable[[], Awaitable[None]]) -> int:
    """GETEX commands on `key` that Redis receives during `action` (MONITOR)."""
    url = urlsplit(redis_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 6379)
    try:
        writer.write(b"MONITOR\r\n")
        await reader.readline()
        await action()
        deadline = asyncio.get_running_loop().time() + 0.3
        count = 0
        while True:
            try:  # what Redis logged until shortly after the action (others use it too)
                async with asyncio.timeout_at(deadline):
                    line = await reader.readline()
            except TimeoutError:
                return count
            if key.encode() in line and b'"getex"' in line.lower():
                count += 1
    finally:
        writer.close()


async def _trial(
    a: _Http,
    b: _Http,
    token: str,
    before_logout: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[bool, float]:
    """Warm B's cache with the session, log out on A, ask B: (stale?, lag in seconds: from
    A's logout answer to B's; B refusing at its first request bounds the revocation lag)."""
    for _ in range(2):
        assert await b.get("/api/auth/me", token) == 200
    if before_logout is not None:
        await before_logout(token)
    assert await a.call("POST", "/api/auth/logout", token) == 204
    started = time.perf_counter()
    status = await b.get("/api/auth/me", token)
    lag = time.perf_counter() - started
    assert status in (200, 401), status
    return status == 200, lag


@pytest.mark.timeout(180)
async def test_logout_on_one_process_is_refused_by_the_other_at_once(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    began = time.monotonic()
    processes = []
    try:
        urls = []
        for name in ("a", "b"):
            own = msgspec.structs.replace(settings, api_port=free_port())
            process, url = await start_api(own, tmp_path / f"api-{name}.log")
            processes.append(process)
            urls.append(url)
        b_pid = processes[1].pid
        await _wait_subscribed(redis, b_pid)
        await _wait_subscribed(redis, processes[0].pid)
        tokens = await _sessions(redis, TRIALS + 2 * CUT_TRIALS + 1 + LOADERS)
        a, b = _Http(urls[0]), _Http(urls[1])
        # the concurrent load: one process per API (bench.load), each with its own session
        loaders = [_start_load(url, tokens.pop()[0]) for url in urls]
        try:
            # 1. subscription up: 1,000 trials under load
            stale, lags = 0, []
            for _ in range(TRIALS):
                was_stale, lag = await _trial(a, b, tokens.pop()[0])
                stale += was_stale
                lags.append(lag)
            phase1 = time.monotonic() - began
            p50 = statistics.median(lags) * 1000
            p99 = statistics.quantiles(lags, n=100)[98] * 1000

            # 2. B's subscription killed right before each logout, once B's cache provably
            # holds the session (a request costing no GETEX): else the kill proves nothing,
            # since the previous kill left the cache off for a while
            async def cut(token: str) -> None:
                key = "session:" + hashlib.sha256(token.encode()).hexdigest()

                async def ask() -> None:
                    assert await b.get("/api/auth/me", token) == 200

                for _ in range(50):
                    client = await _wait_subscribed(redis, b_pid)
                    await ask()  # a fill, if the cache is on
                    if await _getex_count(settings.redis_url or "", key, ask) == 0:
                        break
                else:
                    raise AssertionError("B's cache never held the session")
                await redis.client_kill_filter(_id=client["id"])

            cut_stale = 0
            for _ in range(CUT_TRIALS):
                was_stale, _lag = await _trial(a, b, tokens.pop()[0], before_logout=cut)
                cut_stale += was_stale

            # 3. recovered: resubscribed, cache on again (no GETEX for a cached session),
            # and still right
            await _wait_subscribed(redis, b_pid)
            token, keys = tokens.pop()
            await asyncio.sleep(0.05)  # the confirmation reaches B after CLIENT LIST says so
            assert await b.get("/api/auth/me", token) == 200

            async def repeat() -> None:
                for _ in range(3):
                    assert await b.get("/api/auth/me", token) == 200

            bearer_key = "session:" + hashlib.sha256(token.encode()).hexdigest()
            assert bearer_key in keys
            getex = await _getex_count(settings.redis_url or "", bearer_key, repeat)
            after_stale = 0
            for _ in range(CUT_TRIALS):
                was_stale, _lag = await _trial(a, b, tokens.pop()[0])
                after_stale += was_stale
        finally:
            a.close()
            b.close()
            for loader in loaders:
                loader.terminate()  # it reports what it did, then exits
            reports = [_served(loader) for loader in loaders]
            served, load_errors = sum(r[0] for r in reports), sum(r[1] for r in reports)
    finally:
        for process in processes:
            stop_process(process)
    seconds = time.monotonic() - began
    print(
        f"\nrevocation across 2 API processes, {TRIALS} trials under load ({served} requests"
        f" by {LOADERS} loops meanwhile): stale {stale}, lag p50 {p50:.1f} ms, p99 {p99:.1f} ms;"
        f" subscription killed before each logout: stale {cut_stale} of {CUT_TRIALS};"
        f" after recovery: GETEX for a cached session {getex} of 3, stale {after_stale} of"
        f" {CUT_TRIALS}; {seconds:.0f} s ({phase1:.0f} s to the end of the 1,000 trials)"
    )
    record("revocation", "stale answers, subscription up", f"{stale} of {TRIALS}", 0)
    lag = f"{p50:.1f} / {p99:.1f} ms"
    record("revocation", "lag (A's 204 to B's 401) p50 / p99", lag, "p99 <= 20 ms")
    record("revocation", "stale answers, subscription killed", f"{cut_stale} of {CUT_TRIALS}", 0)
    assert load_errors == 0, f"{load_errors} of the background load's answers were errors"
    assert stale == 0
    assert cut_stale == 0
    assert getex == 0, "B's cache did not come back on after resubscribing"
    assert after_stale == 0
    # the lag's goal (p99 <= 20 ms) is printed and recorded, not asserted: on a shared machine
    # it measures the CPU left to the two servers more than the invalidation
