"""`python -m services.run` (what `make run` does): the whole service on one machine.

With `--demo` (`make demo`) it also runs the Proxmox VE simulator and prints how to log in.

Starts embedded PostgreSQL and Redis under DATA_DIR when DATABASE_URL / REDIS_URL are unset
(and keeps a generated SECRET_KEYS there when it is unset),
applies migrations, then runs the API and the worker as child processes. SIGINT or SIGTERM stops
everything it started; the data stays in DATA_DIR for the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from prometheus_client import multiprocess

from shared.core import metrics
from shared.core.crypto import generate_key
from shared.core.logging import configure_logging, get_logger
from shared.core.settings import Settings, SettingsError, load_settings, require_explicit_allow_list
from shared.db.migrate import upgrade_to_head
from shared.dev.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

log = get_logger("services.run")

CHILD_STOP_TIMEOUT = 15.0
# A crashed child is started again after 1 s, 2 s, 4 s, ... at most 30 s; one that ran for
# STABLE_SECONDS before it crashed starts over at 1 s.
RESTART_BACKOFF_INITIAL = 1.0
RESTART_BACKOFF_MAX = 30.0
STABLE_SECONDS = 60.0
# A child that exits with 2 has bad settings: starting it again cannot help.
EXIT_BAD_SETTINGS = 2


class Supervisor:
    """Owns the embedded servers and the API/worker processes, and stops them in order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cleanups: list[Callable[[], None]] = []
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False
        # how to start each child again, when it started, and its restart schedule
        self._specs: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {}
        self._started: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._restart_at: dict[str, float] = {}
        self.restarts: dict[str, int] = {}
        self.exit_code: int | None = None
        self.metrics_dir: Path | None = None

    def start_dependencies(self) -> dict[str, str]:
        env: dict[str, str] = {}
        data = self.settings.data_path
        if self.settings.database_url is None:
            postgres = EmbeddedPostgres(data / "postgres")
            env["DATABASE_URL"] = postgres.start()
            self.cleanups.append(postgres.stop)
            log.info("embedded PostgreSQL started", directory=str(postgres.directory))
        if self.settings.secret_keys is None:
            env["SECRET_KEYS"] = local_secret_keys(data)
        if self.settings.metrics_enabled:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.fresh_metrics_dir())
        if self.settings.redis_url is None:
            redis = EmbeddedRedis(data / "redis")
            env["REDIS_URL"] = redis.start()
            self.cleanups.append(redis.stop)
            log.info("embedded Redis started", url=redis.url)
        return env

    def fresh_metrics_dir(self) -> Path:
        """The directory every child keeps its metrics in (shared/core/metrics.py), emptied:
        values of an earlier run must not be added to this one's."""
        directory = Path(
            self.settings.prometheus_multiproc_dir or self.settings.data_path / "metrics"
        )
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        self.metrics_dir = directory
        return directory

    def spawn(self, name: str, module: str, env: dict[str, str], *args: str) -> None:
        self._specs[name] = (module, env, args)
        self._started[name] = time.monotonic()
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", module, *args], env={**os.environ, **env}
        )

    def start_simulator(self) -> dict[str, Any]:
        """`make demo`: a Proxmox VE simulator beside the service, its info in DATA_DIR."""
        info_file = self.settings.data_path / "pvesim.json"
        info_file.unlink(missing_ok=True)
        data_dir = self.settings.data_path / "pvesim"
        # Same ports, certificate and (seeded) secrets on every run, so a node registered in
        # one demo still works in the next; the simulated guests themselves start afresh.
        keep_certificate: list[str] = []
        if (data_dir / "pveproxy-ssl.pem").exists() and (data_dir / "pveproxy-ssl.key").exists():
            keep_certificate = [
                "--cert", str(data_dir / "pveproxy-ssl.pem"),
                "--key", str(data_dir / "pveproxy-ssl.key"),
            ]  # fmt: skip
        ports = demo_ports(self.settings.data_path, os.environ)
        self.spawn(
            "pvesim", "services.pvesim", {},
            "--api-port", str(ports.api), "--ssh-port", str(ports.ssh),
            "--admin-port", str(ports.admin), "--nodes", str(DEMO_NODES),
            "--task-speed", "0.2", "--seed", "1", *keep_certificate,
            "--data-dir", str(data_dir), "--info-file", str(info_file),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not info_file.exists():
            if self.children["pvesim"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Proxmox VE simulator did not start")
            time.sleep(0.1)
        return json.loads(info_file.read_text())

    def wait(self) -> int:
        """Block until a signal arrives. A child that exits on its own is started again with
        backoff (the others keep serving); only bad settings (exit 2) stop everything."""
        while not self.stopping:
            self.check_children()
            time.sleep(0.2)
        return 0 if self.exit_code is None else self.exit_code

    def check_children(self) -> None:
        now = time.monotonic()
        for name, child in list(self.children.items()):
            code = child.poll()
            if code is None or name in self._restart_at:
                continue
            if self.metrics_dir is not None:  # its live gauges no longer count
                multiprocess.mark_process_dead(
                    metrics.local_identifier(child.pid), str(self.metrics_dir)
                )
            if code == EXIT_BAD_SETTINGS:
                log.error("process stopped on its settings; stopping", process=name, exit_code=code)
                self.exit_code, self.stopping = code, True
                return
            ran = now - self._started.get(name, now)
            delay = (
                RESTART_BACKOFF_INITIAL
                if ran >= STABLE_SECONDS or name not in self._backoff
                else min(self._backoff[name] * 2, RESTART_BACKOFF_MAX)
            )
            self._backoff[name] = delay
            self._restart_at[name] = now + delay
            log.error(
                "process exited unexpectedly; restarting it",
                process=name, exit_code=code, ran_seconds=round(ran, 1), restart_in_seconds=delay,
            )  # fmt: skip
        for name, when in list(self._restart_at.items()):
            if now >= when:
                del self._restart_at[name]
                module, env, args = self._specs[name]
                self.restarts[name] = self.restarts.get(name, 0) + 1
                log.info("restarting process", process=name, restarts=self.restarts[name])
                self.spawn(name, module, env, *args)

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in self.children.items():
            try:
                child.wait(CHILD_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("process did not stop in time; killing it", process=name)
                child.kill()
                child.wait()
        for cleanup in reversed(self.cleanups):
            cleanup()
        self.cleanups.clear()


DEMO_NODES = 2
# pveproxy's port, then the simulator's SSH (one per node, consecutive) and admin ports.
DEFAULT_DEMO_PORTS = {"PVESIM_API_PORT": 8006, "PVESIM_SSH_PORT": 2222, "PVESIM_ADMIN_PORT": 8007}


class DemoPorts(msgspec.Struct, frozen=True):
    api: int
    ssh: int  # node k listens on ssh + k - 1
    admin: int

    def all(self) -> list[int]:
        return [self.api, *(self.ssh + i for i in range(DEMO_NODES)), self.admin]


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Free for a server: like the simulator's listeners, SO_REUSEADDR lets a port whose last
    connections linger in TIME_WAIT count as free; one somebody listens on does not."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def demo_ports(data_dir: Path, environ: Mapping[str, str]) -> DemoPorts:
    """The demo simulator's ports: PVESIM_API_PORT / PVESIM_SSH_PORT / PVESIM_ADMIN_PORT (or
    8006 / 2222 / 8007). When one of them is taken (another demo, a real service), the ports
    picked instead last time, else new free ones; the choice is kept in DATA_DIR so the next
    run (and the node registered against it) finds the simulator at the same place."""
    wanted = DemoPorts(
        *(int(environ.get(name) or default) for name, default in DEFAULT_DEMO_PORTS.items())
    )
    if all(_port_free(port) for port in wanted.all()):
        return wanted
    saved_file = data_dir / "pvesim-ports.json"
    with contextlib.suppress(OSError, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        saved = msgspec.json.decode(saved_file.read_bytes(), type=DemoPorts)
        if all(_port_free(port) for port in saved.all()):
            _announce(wanted, saved)
            return saved
    ssh = next(
        port
        for port in iter(free_port, None)
        if port + DEMO_NODES - 1 < 65536 and all(_port_free(port + i) for i in range(DEMO_NODES))
    )
    chosen = DemoPorts(api=free_port(), ssh=ssh, admin=free_port())
    data_dir.mkdir(parents=True, exist_ok=True)
    saved_file.write_bytes(msgspec.json.encode(chosen))
    _announce(wanted, chosen)
    return chosen


def _announce(wanted: DemoPorts, chosen: DemoPorts) -> None:
    taken = [port for port in wanted.all() if not _port_free(port)]
    message = (
        f"Port(s) {', '.join(map(str, taken))} taken: the Proxmox VE simulator listens on API"
        f" {chosen.api}, SSH {chosen.ssh}-{chosen.ssh + DEMO_NODES - 1}, admin {chosen.admin}"
        " (set PVESIM_API_PORT, PVESIM_SSH_PORT, PVESIM_ADMIN_PORT to choose)"
    )
    log.warning("demo ports taken", taken=taken, api=chosen.api, ssh=chosen.ssh, admin=chosen.admin)
    print(message, flush=True)


def local_secret_keys(data_dir: Path) -> str:
    """A key made on the first run and kept (owner-only) under DATA_DIR for the next ones."""
    path = data_dir / "secret_keys"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(generate_key() + "\n")
        log.info("generated SECRET_KEYS", path=str(path))
    return path.read_text().strip()


def demo_instructions(settings: Settings, info: dict[str, Any]) -> str:
    api = f"http://{settings.api_host}:{settings.api_port}"
    url = urlsplit(info["apiUrl"])
    user = info["users"][0]
    login = json.dumps(
        {"host": url.hostname, "port": url.port, "username": user["username"],
         "realm": user["realm"], "password": user["password"]}
    )  # fmt: skip
    node = json.dumps(
        {"name": "pve", "host": url.hostname, "port": url.port, "tokenId": info["tokenId"],
         "tokenSecret": info["tokenSecret"], "sshUser": info["sshUser"],
         "sshPort": info["sshPorts"]["pve"], "sshPassword": info["sshPassword"]}
    )  # fmt: skip
    return f"""
Infrahaus demo: the API is on {api} (docs: {api}/schema), a Proxmox VE simulator beside it.
Simulator: API {info["apiUrl"]}, SSH ports {info["sshPorts"]}, admin {info["adminUrl"]}
Simulator details: {settings.data_path / "pvesim.json"}

1. Log in with the simulator's root account (the answer holds a bearer "token"):
   curl -s -X POST {api}/api/auth/login -H 'Content-Type: application/json' -d '{login}'
2. Register its node "pve" (send Authorization: Bearer <token>):
   curl -s -X POST {api}/api/nodes -H 'Content-Type: application/json' \\
     -H "Authorization: Bearer $TOKEN" -d '{node}'
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Infrahaus on this machine.")
    parser.add_argument(
        "--demo", action="store_true", help="also run a Proxmox VE simulator to try it against"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        require_explicit_allow_list(settings)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings)
    supervisor = Supervisor(settings)

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        supervisor.stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        env = supervisor.start_dependencies()
        database_url = env.get("DATABASE_URL") or settings.database_url
        assert database_url is not None
        upgrade_to_head(database_url)
        log.info("migrations applied")
        simulator = supervisor.start_simulator() if args.demo else None
        supervisor.spawn("worker", "services.worker", env)
        supervisor.spawn("api", "services.api", env)
        log.info("Infrahaus running", url=f"http://{settings.api_host}:{settings.api_port}")
        if simulator is not None:
            print(demo_instructions(settings, simulator), flush=True)
        code = supervisor.wait()
    except Exception as exc:
        log.error("start-up failed", error=f"{type(exc).__name__}: {exc}")
        code = 1
    finally:
        supervisor.stop()
    log.info("stopped")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
