"""`make run` with METRICS_ENABLED: every child gets one, freshly emptied, metrics directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from services.run import Supervisor
from shared.core import metrics
from shared.core.crypto import generate_key
from shared.core.settings import load_settings


def _settings(data_dir: Path, **overrides: object):
    return load_settings(
        {},
        data_dir=str(data_dir),
        database_url="postgresql://x@127.0.0.1/x",
        redis_url="redis://127.0.0.1:6379/0",
        secret_keys=generate_key("t"),
        **overrides,
    )


def test_the_children_share_an_emptied_metrics_directory(tmp_path: Path) -> None:
    stale = tmp_path / "metrics" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old run")
    keep = tmp_path / "metrics" / "README"
    keep.write_text("not ours")
    env = Supervisor(_settings(tmp_path, metrics_enabled=True)).start_dependencies()
    assert env == {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    assert not stale.exists() and keep.exists()


def test_a_configured_directory_is_used_and_none_without_metrics(tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere"
    supervisor = Supervisor(
        _settings(tmp_path, metrics_enabled=True, prometheus_multiproc_dir=str(chosen))
    )
    assert supervisor.start_dependencies()["PROMETHEUS_MULTIPROC_DIR"] == str(chosen)
    assert chosen.is_dir()
    assert "PROMETHEUS_MULTIPROC_DIR" not in Supervisor(_settings(tmp_path)).start_dependencies()


def test_a_killed_childs_live_gauges_are_dropped_and_no_one_elses(tmp_path: Path) -> None:
    """The child's files are named by host and pid (shared/core/metrics.py): the supervisor
    names them the same way, and leaves another container's PID 1 alone."""
    supervisor = Supervisor(_settings(tmp_path, metrics_enabled=True))
    directory = Path(supervisor.start_dependencies()["PROMETHEUS_MULTIPROC_DIR"])
    other = directory / "gauge_livesum_other-host-1.db"
    script = textwrap.dedent(
        f"""
        import os, signal
        from shared.core import metrics
        from shared.core.crypto import generate_key
        from shared.core.settings import load_settings

        metrics.configure(load_settings(
            {{}}, database_url="postgresql://x@127.0.0.1/x", redis_url="redis://127.0.0.1:6379/0",
            secret_keys=generate_key("t"), metrics_enabled=True,
            prometheus_multiproc_dir={str(directory)!r},
        ))
        metrics.sse_subscribers(1)
        metrics.build_ended("finalizing", "ready")
        os.kill(os.getpid(), signal.SIGKILL)  # no clean exit: its live gauge stays behind
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
    )
    child.wait(timeout=60)
    own = directory / f"gauge_livesum_{metrics.local_identifier(child.pid)}.db"
    assert own.exists()
    other.write_bytes(own.read_bytes())  # another container's live gauge, same layout
    supervisor.children["api"] = child
    supervisor.check_children()
    assert not own.exists() and other.exists()
    assert (directory / f"counter_{metrics.local_identifier(child.pid)}.db").exists()
