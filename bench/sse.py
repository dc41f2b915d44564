"""`python -m bench.sse`: SSE fan-out, many subscribers on one API process (issue 10, bench 1).

One API process (`python -m services.api`, as `make run` starts it) on real PostgreSQL and
Redis; the subscribers are spread over separate load-generator processes (`bench.sse_client`),
so the client side is not the bottleneck. All streams follow one container. Once every stream
is live, a writer records the events through `shared.domain.events.record` (the worker's write path:
allocate seqs, INSERT, COMMIT, PUBLISH) in batches, like a build's steps and log lines.

Prints: lost (every subscriber must get every event once, in order), p50/p99 delivery latency
(event timestamp, set before the INSERT, to the subscriber reading it), the API's peak RSS, its
peak number of Redis connections, and the CPU each side used.
Goals: lost = 0, p99 < 50 ms, RSS < 300 MB, Redis connections <= 10.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import insert

from bench.proc import redis_connections, rss_bytes
from shared.core.crypto import generate_key
from shared.core.lifecycle import EventType, Phase
from shared.core.settings import load_settings
from shared.db import Container, Node, User, create_engine, create_session_factory
from shared.db.migrate import upgrade_to_head
from shared.dev.embedded import create_database, drop_database, find_or_start_servers, free_port
from shared.domain import events
from shared.domain.events import EventDraft
from shared.domain.sessions import SessionStore

ROOT = Path(__file__).resolve().parents[1]


def _start_api(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    output = log.open("wb")
    command = [sys.executable, "-m", "services.api"]  # as `make run` starts it (uvloop, httptools)
    env = {**env, "API_PORT": str(port)}
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the API did not start; see {log}")


async def _seed(database_url: str, redis_url: str) -> tuple[uuid.UUID, str]:
    """A user with a node and a container record, and a bearer token of theirs."""
    settings = load_settings({}, database_url=database_url)
    user_id, node_id, container_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(
            insert(User).values(id=user_id, host_identity="bench.invalid:8006", userid="b@pve")
        )
        await connection.execute(
            insert(Node).values(id=node_id, user_id=user_id, name="bench", host="192.0.2.1",
                                token_id="b@pve!t", token_secret_enc="unused")  # noqa: S106
        )  # fmt: skip
        await connection.execute(
            insert(Container).values(id=container_id, node_id=node_id, created_by=user_id,
                                     vmid=100, hostname="bench", lifecycle="creating")
        )  # fmt: skip
    await engine.dispose()
    redis = Redis.from_url(redis_url)
    session = await SessionStore(redis, 3600).create(
        user_id=str(user_id), userid="b@pve", host="bench.invalid", port=8006
    )
    await redis.aclose()
    return container_id, session.bearer_token


def _drafts(start: int, count: int, total: int) -> list[EventDraft]:
    """Log lines with a step every 50 events; the last event is `complete`."""
    drafts = []
    for n in range(start, start + count):
        if n == total:
            drafts.append(EventDraft(type=EventType.COMPLETE, message="container ready"))
        elif n % 50 == 1:
            drafts.append(events.step(Phase.SYNCING, f"step {n}", progress=n / total))
        else:
            drafts.append(
                EventDraft(type=EventType.LOG, message=f"output line {n} " + "x" * 60,
                           step=Phase.SYNCING, script_name="install.sh", script_index=1,
                           script_total=1)
            )  # fmt: skip
    return drafts


async def _write(
    database_url: str, redis_url: str, container_id: uuid.UUID, args: argparse.Namespace
) -> tuple[float, list[float]]:
    """Record the events; returns the time it took and each `record` call's duration."""
    settings = load_settings({}, database_url=database_url)
    engine = create_engine(settings, pooled=False)
    sessions = create_session_factory(engine)
    redis = Redis.from_url(redis_url)
    started = time.perf_counter()
    durations: list[float] = []
    try:
        async with sessions() as session:
            n = 1
            while n <= args.events:
                count = min(args.batch, args.events - n + 1)
                before = time.perf_counter()
                await events.record(session, redis, container_id, _drafts(n, count, args.events))
                durations.append(time.perf_counter() - before)
                n += count
                await asyncio.sleep(args.interval)
    finally:
        await redis.aclose()
        await engine.dispose()
    return time.perf_counter() - started, durations


class _Sampler(threading.Thread):
    """Peak RSS and Redis connections of the API process, sampled every 50 ms."""

    def __init__(self, pid: int, redis_url: str) -> None:
        super().__init__(daemon=True)
        self.pid, self.redis_url = pid, redis_url
        self.rss = self.connections = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(0.05)

    def sample(self) -> None:
        self.rss = max(self.rss, rss_bytes(self.pid))
        self.connections = max(self.connections, redis_connections(self.pid, self.redis_url))


def _hub_figures(log: Path) -> dict[str, object]:
    """What the API's event hub logged when it stopped."""
    for line in log.read_text().splitlines():
        if '"event hub stopped"' in line:
            return json.loads(line)
    return {}


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--batch", type=int, default=5, help="events per commit")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between commits")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not give the API a CPU of its own (load generators and writer on the others)",
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="infrahaus-bench-sse-"))
    servers = find_or_start_servers(scratch)
    database_url = create_database(servers.postgres_admin_url, "infrahaus_bench")
    clients: list[subprocess.Popen[str]] = []
    api = None
    hub: dict[str, object] = {}
    try:
        upgrade_to_head(database_url)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": servers.redis_url,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",  # the hub logs its delivery figures when it stops
            "SECRET_KEYS": generate_key("bench"),
            "QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
        }
        api = _start_api(env, port, scratch / "api.log")
        cpus = sorted(os.sched_getaffinity(0))
        if args.pin and len(cpus) > 1:  # the API alone on one CPU, everything we start elsewhere
            os.sched_setaffinity(api.pid, cpus[:1])
            os.sched_setaffinity(0, cpus[1:])
        container_id, token = asyncio.run(_seed(database_url, servers.redis_url))
        url, path = f"http://127.0.0.1:{port}", f"/api/containers/{container_id}/events/stream"
        per_client = [args.subscribers // args.clients] * args.clients
        per_client[0] += args.subscribers - sum(per_client)
        sampler = _Sampler(api.pid, servers.redis_url)
        sampler.sample()
        idle_rss = sampler.rss
        for count in per_client:
            command = [sys.executable, "-m", "bench.sse_client", url, path, token,
                       str(count), str(args.events)]  # fmt: skip
            clients.append(
                subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
            )
        for client in clients:
            assert client.stdout is not None
            if client.stdout.readline().strip() != "ready":
                raise RuntimeError("a load generator failed before its streams were live")
        sampler.start()
        api_cpu_before = _cpu_seconds(api.pid)
        write_seconds, record_seconds = asyncio.run(
            _write(database_url, servers.redis_url, container_id, args)
        )
        results = []
        for client in clients:
            out, _ = client.communicate(timeout=120)
            results.append(json.loads(out))
        api_cpu = _cpu_seconds(api.pid) - api_cpu_before
        sampler.stopped.set()
        sampler.join()
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
        if api is not None:
            api.terminate()
            api.wait(15)
            hub = _hub_figures(scratch / "api.log")
        drop_database(servers.postgres_admin_url, database_url)
        servers.stop()

    expected = list(range(1, args.events + 1))
    streams = [seqs for result in results for seqs in result["seqs"]]
    errors = [error for result in results for error in result["errors"]]
    lost = sum(len(set(expected) - set(seqs)) for seqs in streams)
    lost += args.subscribers - len(streams)
    duplicates = sum(len(seqs) - len(set(seqs)) for seqs in streams)
    out_of_order = sum(1 for seqs in streams if seqs != sorted(seqs))
    complete = sum(1 for seqs in streams if seqs == expected)
    latencies = sorted(x * 1000 for result in results for x in result["latencies"])
    cuts = statistics.quantiles(latencies, n=100)
    client_cpu = sum(result["cpu_s"] for result in results)

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(
        f"SSE fan-out: {args.subscribers} subscribers on one API process"
        f" ({args.clients} load-generator processes), {args.events} events in batches of"
        f" {args.batch} every {args.interval * 1000:.0f} ms ({write_seconds:.1f} s)"
    )
    print(
        f"lost = {lost}   duplicates = {duplicates}   out of order = {out_of_order}"
        f"   streams with every event in order = {complete}/{args.subscribers}"
        f"   stream errors = {len(errors)}"
    )
    print(
        f"delivery latency: p50 {cuts[49]:.1f} ms   p99 {cuts[98]:.1f} ms"
        f"   max {latencies[-1]:.1f} ms   ({len(latencies)} deliveries)"
    )
    print(
        f"  inside the API (hub received the message -> stream wrote it):"
        f" p50 {hub.get('fanout_p50_ms')} ms   p99 {hub.get('fanout_p99_ms')} ms"
        f"   ({hub.get('deliveries')} deliveries, {hub.get('overflows')} queue overflows,"
        f" {hub.get('connects')} pub/sub connects)"
    )
    record_ms = sorted(x * 1000 for x in record_seconds)
    print(
        f"  (a latency includes the writer's INSERT + COMMIT + PUBLISH: `record` took"
        f" p50 {statistics.median(record_ms):.1f} ms, max {record_ms[-1]:.1f} ms per batch)"
    )
    print(
        f"API RSS: {idle_rss / 2**20:.0f} MB idle, peak {sampler.rss / 2**20:.0f} MB;"
        f" API Redis connections (peak): {sampler.connections}"
    )
    print(
        f"CPU during the writes: API {api_cpu:.1f} s, load generators {client_cpu:.1f} s"
        f" (over {args.clients} processes)"
    )
    goals = lost == 0 and cuts[98] < 50 and sampler.rss < 300 * 2**20
    goals = goals and sampler.connections <= 10
    print("goals (lost 0, p99 < 50 ms, RSS < 300 MB, Redis connections <= 10):",
          "met" if goals else "NOT met")  # fmt: skip
    if errors:
        print("first stream error:", errors[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
