"""Multiprocess metric files are named by host and pid: in containers the API and the worker
are each PID 1 and share one directory, so a pid alone would make them share (and corrupt)
one file, and one's exit would drop the other's live gauges."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values

from shared.core import metrics


def test_the_identifier_is_the_host_and_the_pid() -> None:
    assert metrics.process_identifier() == f"{socket.gethostname()}-{os.getpid()}".replace("_", "-")
    assert metrics.identifier_for("api-7f9c", 1) != metrics.identifier_for("worker-2b1d", 1)
    # prometheus-client splits file names on `_` and globs for them
    assert metrics.identifier_for("we_ird*[host]?", 1) == "we-ird--host---1"
    assert metrics.identifier_for("", 1) == "host-1"


def _process(
    monkeypatch: pytest.MonkeyPatch, host: str, pid: int
) -> tuple[type, Any, Histogram, Gauge]:
    """One simulated process: its own value class (identifier host+pid) and metrics (values
    are made when a metric, or a labelled child, is: here, while the class is this one's)."""
    cls = values.MultiProcessValue(lambda: metrics.identifier_for(host, pid))  # type: ignore[no-untyped-call]
    monkeypatch.setattr(values, "ValueClass", cls)
    registry = CollectorRegistry()
    counter = Counter("t_builds", "builds", ["phase"], registry=registry).labels("ready")
    histogram = Histogram("t_seconds", "seconds", buckets=(1.0, 10.0), registry=registry)
    gauge = Gauge("t_open", "open", multiprocess_mode="livesum", registry=registry)
    return cls, counter, histogram, gauge


def _scrape(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def test_same_pid_on_two_hosts_keeps_two_files_summed_at_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    api_cls, api_builds, api_seconds, api_open = _process(monkeypatch, "api-host", 1)
    worker_cls, worker_builds, worker_seconds, worker_open = _process(monkeypatch, "worker-host", 1)
    try:
        api_builds.inc(2)
        worker_builds.inc(3)
        api_seconds.observe(0.5)
        worker_seconds.observe(5.0)
        api_open.inc(4)
        worker_open.inc(1)

        names = sorted(p.name for p in tmp_path.glob("*.db"))
        assert names == [
            "counter_api-host-1.db",
            "counter_worker-host-1.db",
            "gauge_livesum_api-host-1.db",
            "gauge_livesum_worker-host-1.db",
            "histogram_api-host-1.db",
            "histogram_worker-host-1.db",
        ]
        scraped = _scrape(tmp_path)
        assert scraped[("t_builds_total", (("phase", "ready"),))] == 5
        assert scraped[("t_seconds_count", ())] == 2
        assert scraped[("t_seconds_bucket", (("le", "1.0"),))] == 1
        assert scraped[("t_seconds_bucket", (("le", "10.0"),))] == 2
        assert scraped[("t_open", ())] == 5

        # the worker ends: its live gauge leaves the sum, the API's stays; counters stay
        multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            metrics.identifier_for("worker-host", 1), str(tmp_path)
        )
        assert not (tmp_path / "gauge_livesum_worker-host-1.db").exists()
        scraped = _scrape(tmp_path)
        assert scraped[("t_open", ())] == 4
        assert scraped[("t_builds_total", (("phase", "ready"),))] == 5
    finally:
        api_cls.close_all_files()  # type: ignore[attr-defined]
        worker_cls.close_all_files()  # type: ignore[attr-defined]


def test_configure_names_files_by_host_even_if_prometheus_chose_pid_at_import(
    tmp_path: Path,
) -> None:
    """A real process: the variable is set before prometheus-client is imported (compose,
    `make run`), so the library's own pid-named value class must be replaced."""
    script = textwrap.dedent(
        f"""
        import os
        from shared.core import metrics
        from shared.core.crypto import generate_key
        from shared.core.settings import load_settings

        settings = load_settings(
            {{}}, database_url="postgresql://x@127.0.0.1/x", redis_url="redis://127.0.0.1:6379/0",
            secret_keys=generate_key("t"), metrics_enabled=True,
            prometheus_multiproc_dir={str(tmp_path)!r},
        )
        metrics.configure(settings)
        metrics.build_ended("finalizing", "ready")
        metrics.sse_subscribers(1)
        print(metrics.process_identifier())
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    identifier = result.stdout.strip()
    assert identifier.startswith(metrics.identifier_for(socket.gethostname(), 0)[:-1])
    names = {p.name for p in tmp_path.glob("*.db")}
    # the counter stays; the live gauge went at exit (atexit: mark_process_dead, same name)
    assert f"counter_{identifier}.db" in names
    assert not any(name.startswith("gauge_livesum_") for name in names), names
    assert not any(name.endswith(f"_{identifier.rsplit('-', 1)[1]}.db") for name in names)


def test_live_gauges_an_earlier_process_of_the_same_identifier_left_are_dropped(
    tmp_path: Path,
) -> None:
    """A container restarted in place is PID 1 on the same host again: the live gauges its
    crashed predecessor left are not added to its own."""
    script = textwrap.dedent(
        f"""
        from prometheus_client import CollectorRegistry, Gauge, multiprocess, values
        from shared.core import metrics
        from shared.core.crypto import generate_key
        from shared.core.settings import load_settings

        # the predecessor: same identifier, 7 streams open when it died (no clean exit)
        stale = values.MultiProcessValue(metrics.process_identifier)
        values.ValueClass = stale
        Gauge("infrahaus_sse_subscribers", "open", multiprocess_mode="livesum",
              registry=CollectorRegistry()).inc(7)
        stale.close_all_files()

        settings = load_settings(
            {{}}, database_url="postgresql://x@127.0.0.1/x", redis_url="redis://127.0.0.1:6379/0",
            secret_keys=generate_key("t"), metrics_enabled=True,
            prometheus_multiproc_dir={str(tmp_path)!r},
        )
        metrics.configure(settings)
        metrics.sse_subscribers(1)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path={str(tmp_path)!r})
        print(registry.get_sample_value("infrahaus_sse_subscribers"))
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.0"
