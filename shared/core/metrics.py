"""Prometheus metrics of the API and worker processes (served by `GET /metrics`).

Off unless `METRICS_ENABLED`: then every recording function below returns at once, and no
metric object exists. `configure(settings)` (called by the API and worker factories) creates
them once per process.

Multiprocess: with `PROMETHEUS_MULTIPROC_DIR` set, prometheus-client keeps each process's
values in memory-mapped files in that directory (one set per process: `process_identifier`,
the host name and the pid, since in containers every API and worker is PID 1), and the API's
`/metrics` adds up every file it finds there, so one scrape of any API process reports the API
processes and the workers together. Without it, a process reports only itself (then worker
metrics are not visible through the API). `make run` sets it under DATA_DIR and empties it at
start.

Labels are always bounded and name no tenant's data: route templates (never raw paths), known
methods, phase names, node registration ids (never the names users give their nodes), lock
kinds. Nothing here talks to Redis or PostgreSQL: the queue depth
is read when `/metrics` is scraped (`render`).
"""

from __future__ import annotations

import atexit
import os
import re
import socket
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.core.settings import Settings

#: what `/metrics` answers with (Prometheus text format 0.0.4)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_NODE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PHASE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_WAIT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class _Metrics:
    def __init__(self, multiprocess_dir: str | None) -> None:
        self.multiprocess_dir = multiprocess_dir
        # not the global registry: `render` picks what to expose
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.http_duration = Histogram(
            "infrahaus_http_request_duration_seconds",
            "API request latency, by method, route template and status",
            ["method", "route", "status"],
            buckets=_HTTP_BUCKETS,
            registry=registry,
        )
        self.build_phase_duration = Histogram(
            "infrahaus_build_phase_duration_seconds",
            "Time one run of a build phase took, by phase and outcome",
            ["phase", "outcome"],
            buckets=_PHASE_BUCKETS,
            registry=registry,
        )
        self.builds = Counter(
            "infrahaus_builds",
            "Build runs that ended, by the phase they ended in and their outcome",
            ["phase", "outcome"],
            registry=registry,
        )
        self.job_retries = Counter(
            "infrahaus_job_retries",
            "Jobs picked up again after an earlier try (retries and resumed jobs), by job",
            ["job"],
            registry=registry,
        )
        self.sse_subscribers = Gauge(
            "infrahaus_sse_subscribers",
            "Progress streams (SSE) open now, across the API processes",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.node_duration = Histogram(
            "infrahaus_node_request_duration_seconds",
            "Proxmox API calls (each attempt), by node and method",
            ["node", "method"],
            buckets=_NODE_BUCKETS,
            registry=registry,
        )
        self.node_errors = Counter(
            "infrahaus_node_request_errors",
            "Proxmox API calls that failed, by node, method and kind of failure",
            ["node", "method", "kind"],
            registry=registry,
        )
        self.lock_contention = Counter(
            "infrahaus_lock_contention",
            "Lock acquisitions that found the lock taken, by lock and what followed",
            ["lock", "outcome"],
            registry=registry,
        )
        self.lock_wait = Histogram(
            "infrahaus_lock_wait_seconds",
            "How long a contended lock was waited for before it was taken, by lock",
            ["lock"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self._http_children: dict[tuple[str, str, int], Any] = {}

    def http_child(self, method: str, route: str, status: int) -> Any:
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self.http_duration.labels(method, route, status)
        return child


_metrics: _Metrics | None = None

# the identifier is part of file names that prometheus-client splits on `_` and globs
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


def identifier_for(host: str, pid: int) -> str:
    """The name of one process's value files: `gauge_livesum_<this>.db` and the like.

    Host and pid: in containers the API and the worker each run as PID 1, so the pid alone is
    the same in every container sharing the directory. No `_` (prometheus-client reads a
    gauge file's name as `gauge_<mode>_<id>.db`) and no glob characters (`mark_process_dead`
    globs for the name)."""
    return f"{_UNSAFE.sub('-', host) or 'host'}-{pid}"


#: read once: a container's host name does not change while it runs
_HOST = socket.gethostname()


def local_identifier(pid: int) -> str:
    """The identifier of process `pid` of this host (`make run`'s children)."""
    return identifier_for(_HOST, pid)


def process_identifier() -> str:
    """This process's identifier (prometheus-client calls it on every write, to notice a
    fork: the pid is read each time, the host name is not)."""
    return identifier_for(_HOST, os.getpid())


def _value_class() -> Any:
    cls = values.MultiProcessValue(process_identifier)  # type: ignore[no-untyped-call]
    cls._infrahaus = True
    return cls


def configure(settings: Settings) -> None:
    """Create this process's metrics when METRICS_ENABLED (once; later calls change nothing).

    With PROMETHEUS_MULTIPROC_DIR, values go to memory-mapped files there: prometheus-client
    picks that mode when it is imported with the variable set, and here when the setting came
    from elsewhere (tests' overrides), before the first metric exists."""
    global _metrics
    if _metrics is not None or not settings.metrics_enabled:
        return
    directory = settings.prometheus_multiproc_dir
    if directory:
        os.makedirs(directory, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        # also when prometheus-client chose multiprocess mode itself at import (the variable
        # was set): its values are named by pid alone
        if not getattr(values.ValueClass, "_infrahaus", False):
            values.ValueClass = _value_class()
        # no other live process has this identifier: live gauges under it are left by an
        # earlier process of the same container (PID 1 again after a crash), not to be summed
        process_exited_files(directory)
    _metrics = _Metrics(directory or None)
    if directory:
        # at the end of the process, not of an app's lifespan: a process may serve several
        # apps (tests), and its files must stay while it lives
        atexit.register(process_exited)


def enabled() -> bool:
    return _metrics is not None


def process_exited() -> None:
    """Drop this process's live gauges (SSE subscribers) from the sum (at exit)."""
    if _metrics is not None and _metrics.multiprocess_dir:
        process_exited_files(_metrics.multiprocess_dir)


def process_exited_files(directory: str) -> None:
    multiprocess.mark_process_dead(process_identifier(), directory)  # type: ignore[no-untyped-call]


# -- recording (cheap; nothing when metrics are off) ----------------------------------------


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    m = _metrics
    if m is not None:
        # a client may send any token as its method: only the known ones become labels
        m.http_child(method if method in _METHODS else "other", route, status).observe(seconds)


def observe_phase(phase: str, outcome: str, seconds: float) -> None:
    m = _metrics
    if m is not None:
        m.build_phase_duration.labels(phase, outcome).observe(seconds)


def build_ended(phase: str, outcome: str) -> None:
    m = _metrics
    if m is not None:
        m.builds.labels(phase, outcome).inc()


def job_retried(job: str) -> None:
    m = _metrics
    if m is not None:
        m.job_retries.labels(job).inc()


def sse_subscribers(delta: int) -> None:
    m = _metrics
    if m is not None:
        m.sse_subscribers.inc(delta)


def observe_node_call(node: str, method: str, seconds: float, error: str | None) -> None:
    m = _metrics
    if m is not None:
        m.node_duration.labels(node, method).observe(seconds)
        if error is not None:
            m.node_errors.labels(node, method, error).inc()


def lock_contended(lock: str, outcome: str) -> None:
    """`outcome`: `refused` (the caller got a conflict), `waited` (it waited its turn) or
    `abandoned` (it stopped waiting: a build cancelled while it waited for a slot)."""
    m = _metrics
    if m is not None:
        m.lock_contention.labels(lock, outcome).inc()


def observe_lock_wait(lock: str, seconds: float) -> None:
    m = _metrics
    if m is not None:
        m.lock_wait.labels(lock).observe(seconds)


# -- exposition --------------------------------------------------------------------------------


class _Snapshot(Collector):
    """Gauges read at scrape time (the queue), handed in by the caller."""

    def __init__(self, gauges: Iterable[tuple[str, str, list[str], list[tuple[list[str], float]]]]):
        self.gauges = list(gauges)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, documentation, labels, samples in self.gauges:
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for label_values, value in samples:
                family.add_metric(label_values, value)
            yield family


class _Forward(Collector):
    """This process's own registry, as one collector of the scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Any]:
        return self.registry.collect()


def render(queue: tuple[int, int] | None) -> bytes:
    """The text exposition: every process's metrics (multiprocess mode) or this one's, plus
    the queue figures (ready, deferred) the caller read from Redis (None: Redis is away, the
    queue gauges are left out rather than reported as 0)."""
    registry = CollectorRegistry()
    m = _metrics
    if m is not None and m.multiprocess_dir:
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=m.multiprocess_dir
        )
    elif m is not None:
        registry.register(_Forward(m.registry))
    if queue is None:
        return generate_latest(registry)
    queue_ready, queue_deferred = queue
    registry.register(
        _Snapshot(
            [
                (
                    "infrahaus_queue_jobs",
                    "Jobs waiting in the queue now: ready to run, or deferred (retries, later)",
                    ["state"],
                    [
                        (["ready"], queue_ready),
                        (["deferred"], queue_deferred),
                    ],
                )
            ]
        )
    )
    return generate_latest(registry)
