"""Run the simulator as its own process (tests, benchmarks): `start_simulator_process(dir)`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


class RunningSimulator:
    """A `python -m services.pvesim` process; `info` is its info file."""

    def __init__(self, process: subprocess.Popen[bytes], info: dict[str, Any]) -> None:
        self.process = process
        self.info = info

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_simulator_process(
    directory: Path, nodes: int = 3, task_speed: float = 0.02, rrd_lag: float | None = None
) -> RunningSimulator:
    """Free ports, fast tasks, a short 401 delay, seeded secrets; returns once it listens.

    ``rrd_lag``: seconds ``/cluster/resources`` status lags (None = the simulator's default,
    like pvestatd; 0 = live)."""
    info_file = directory / "info.json"
    command = [
        sys.executable, "-m", "services.pvesim",
        "--api-port", "0", "--ssh-port", "0", "--admin-port", "0",
        "--nodes", str(nodes), "--task-speed", str(task_speed), "--auth-failure-delay", "0.05",
        "--seed", "4242", "--data-dir", str(directory / "data"), "--info-file", str(info_file),
    ]  # fmt: skip
    if rrd_lag is not None:
        command += ["--rrd-lag", str(rrd_lag)]
    log = (directory / "pvesim.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not info_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            RunningSimulator(process, {}).stop()
            raise RuntimeError(f"simulator did not start; see {directory / 'pvesim.log'}")
        time.sleep(0.05)
    return RunningSimulator(process, json.loads(info_file.read_text()))
