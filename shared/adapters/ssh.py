"""SSH to Proxmox nodes with a pinned host key (trust on first use, then exact match).

Never reads the local user's SSH config, keys or agent: a node is reached with exactly the
credentials stored for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import NamedTuple

import asyncssh

from shared.adapters import node_time
from shared.adapters.node_time import on_node
from shared.adapters.proxmox.errors import NodeFailure, ProxmoxTimeout, ProxmoxUnavailable


class SshError(NodeFailure):
    """The node's SSH refused or failed us (not its API: these are no `ProxmoxError`)."""


class SshAuthFailed(SshError):
    """The node refused the SSH user name, password or key."""


class SshHostKeyChanged(SshError):
    """The node presented another host key than the pinned one: refuse, never fall back."""


def known_hosts_line(host: str, port: int, host_key: str) -> str:
    pattern = host if port == 22 else f"[{host}]:{port}"
    return f"{pattern} {host_key}"


async def fetch_host_key(host: str, port: int, limit_seconds: float) -> str:
    """First contact: the node's host key as an OpenSSH public key line (not yet trusted)."""
    try:
        async with asyncio.timeout(limit_seconds):
            key = await asyncssh.get_server_host_key(host, port, config=None)
    except TimeoutError:
        raise ProxmoxTimeout(f"SSH on {host}:{port} did not answer in time") from None
    except (OSError, asyncssh.Error) as exc:
        raise ProxmoxUnavailable(f"cannot reach SSH on {host}:{port}: {exc}") from None
    if key is None:
        raise ProxmoxUnavailable(f"SSH on {host}:{port} sent no host key")
    return key.export_public_key().decode().strip()


def host_key_fingerprint(host_key: str) -> str:
    return str(asyncssh.import_public_key(host_key).get_fingerprint("sha256"))


async def connect(
    host: str,
    port: int,
    username: str,
    *,
    host_key: str,
    password: str | None = None,
    private_key: str | None = None,
    limit_seconds: float = 10.0,
) -> asyncssh.SSHClientConnection:
    try:
        client_keys = [asyncssh.import_private_key(private_key)] if private_key else None
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise SshAuthFailed(f"the SSH private key cannot be read: {exc}") from None
    try:
        with on_node():  # the handshake and login are the node's time too
            return await asyncssh.connect(
                host,
                port,
                username=username,
                password=password,
                client_keys=client_keys,
                known_hosts=asyncssh.import_known_hosts(known_hosts_line(host, port, host_key)),
                agent_path=None,
                config=None,
                connect_timeout=limit_seconds,
                login_timeout=limit_seconds,
                keepalive_interval=15,
            )
    except asyncssh.HostKeyNotVerifiable:
        raise SshHostKeyChanged(
            f"SSH host key of {host}:{port} changed; if the node was reinstalled, update the"
            " node to pin the new key, otherwise someone may be intercepting the connection."
        ) from None
    except asyncssh.PermissionDenied:
        raise SshAuthFailed(f"SSH login as {username!r} on {host}:{port} was refused") from None
    except TimeoutError:
        raise ProxmoxTimeout(f"SSH on {host}:{port} did not answer in time") from None
    except (OSError, asyncssh.Error) as exc:
        raise ProxmoxUnavailable(f"cannot connect to SSH on {host}:{port}: {exc}") from None


class SshConnectionLost(ProxmoxUnavailable):
    """The SSH connection to the node dropped mid-command: transient, safe to retry."""


_LOST = (asyncssh.ConnectionLost, asyncssh.DisconnectError, asyncssh.ChannelOpenError, OSError)


class NodeSsh:
    """Commands and uploads over one (pooled) SSH connection to a node.

    Every command is an argv list quoted with `shlex.join`: the node runs it through its
    shell, so quoting is what keeps a user's hostname or path from becoming syntax.
    """

    def __init__(
        self,
        connection: asyncssh.SSHClientConnection,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.connection = connection
        self._on_lost = on_lost  # a pool drops the connection so the next use reconnects

    async def run(self, argv: list[str], limit_seconds: float = 60.0) -> SshResult:
        return await self.run_sequence([argv], limit_seconds)

    async def run_sequence(
        self, commands: list[list[str]], limit_seconds: float = 60.0
    ) -> SshResult:
        """Several commands in one round trip (`a ; b ; c`); the exit status is the last one's."""
        line = " ; ".join(shlex.join(argv) for argv in commands)
        try:
            with on_node():
                done = await self.connection.run(line, check=False, timeout=limit_seconds)
        except asyncssh.TimeoutError:
            raise ProxmoxTimeout(
                f"{commands[-1][0]!r} did not finish within {limit_seconds:g} s"
            ) from None
        except _LOST as exc:
            self._on_lost()
            raise SshConnectionLost(f"SSH connection to the node was lost: {exc}") from None
        return SshResult(
            exit_status=self._ended(done.exit_status),
            stdout=_text(done.stdout),
            stderr=_text(done.stderr),
        )

    async def stream(
        self,
        argv: list[str],
        on_line: Callable[[str], Awaitable[None]],
        limit_seconds: float,
    ) -> int:
        """Run `argv`, handing each output line (stdout and stderr merged, in order) to
        `on_line` as it arrives; the exit status. Past `limit_seconds` the channel is closed
        and `ProxmoxTimeout` raised (callers also wrap the command in the node's `timeout`, so
        the remote side stops too)."""
        try:
            with on_node():
                async with (
                    asyncio.timeout(limit_seconds),
                    self.connection.create_process(
                        shlex.join(argv), stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace"
                    ) as process,
                ):
                    async for line in process.stdout:
                        handled = time.perf_counter()
                        await on_line(line.rstrip("\r\n"))
                        node_time.discount(time.perf_counter() - handled)
                    done = await process.wait(check=False)
        except TimeoutError:
            raise ProxmoxTimeout(f"{argv[0]!r} did not finish within {limit_seconds:g} s") from None
        except _LOST as exc:
            self._on_lost()
            raise SshConnectionLost(f"SSH connection to the node was lost: {exc}") from None
        return self._ended(done.exit_status)

    def _ended(self, exit_status: int | None) -> int:
        """No exit status at all (a signal gives -1): the channel closed under the command,
        which is a lost connection, not a command that failed."""
        if exit_status is None:
            self._on_lost()
            raise SshConnectionLost("SSH connection to the node was lost during a command")
        return exit_status

    async def upload(self, data: bytes, remote_path: str, limit_seconds: float = 60.0) -> None:
        """Write `data` to `remote_path` on the node over SFTP (mode 0600: it may be secret)."""
        try:
            with on_node():
                async with (
                    asyncio.timeout(limit_seconds),
                    self.connection.start_sftp_client() as sftp,
                ):
                    async with sftp.open(
                        remote_path, "wb", asyncssh.SFTPAttrs(permissions=0o600)
                    ) as remote:
                        await remote.write(data)
        except TimeoutError:
            raise ProxmoxTimeout(
                f"upload to the node did not finish in {limit_seconds:g} s"
            ) from None
        except asyncssh.SFTPError as exc:
            raise SshError(f"upload to the node failed: {exc.reason}") from None
        except _LOST as exc:
            self._on_lost()
            raise SshConnectionLost(f"SSH connection to the node was lost: {exc}") from None


class SshResult(NamedTuple):
    exit_status: int
    stdout: str
    stderr: str


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _PoolEntry:
    def __init__(self, channels: int) -> None:
        self.connection: asyncssh.SSHClientConnection | None = None
        self.connecting = asyncio.Lock()
        self.channels = asyncio.Semaphore(channels)

    def drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None


class SshPool:
    """One kept-alive SSH connection per node configuration, with a bound on the channels
    (sessions) open on it at once: sshd refuses more than `MaxSessions` (10 by default)."""

    def __init__(self, channels_per_connection: int = 8) -> None:
        self.channels_per_connection = channels_per_connection
        self._entries: dict[Hashable, _PoolEntry] = {}

    @asynccontextmanager
    async def session(
        self, key: Hashable, connect: Callable[[], Awaitable[asyncssh.SSHClientConnection]]
    ) -> AsyncIterator[NodeSsh]:
        entry = self._entries.setdefault(key, _PoolEntry(self.channels_per_connection))
        async with entry.channels:
            async with entry.connecting:
                if entry.connection is None or entry.connection.is_closed():
                    entry.connection = await connect()
                connection = entry.connection
            yield NodeSsh(connection, entry.drop)

    async def aclose(self) -> None:
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            if entry.connection is not None:
                entry.connection.close()
                with contextlib.suppress(Exception):
                    await entry.connection.wait_closed()
