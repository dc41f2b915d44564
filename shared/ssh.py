"""SSH to Proxmox nodes with a pinned host key (trust on first use, then exact match).

Never reads the local user's SSH config, keys or agent: a node is reached with exactly the
credentials stored for it.
"""

from __future__ import annotations

import asyncio
import shlex

import asyncssh

from shared.proxmox.errors import ProxmoxError, ProxmoxTimeout, ProxmoxUnavailable


class SshAuthFailed(ProxmoxError):
    """The node refused the SSH user name, password or key."""


class SshHostKeyChanged(ProxmoxError):
    """The node presented another host key than the pinned one: refuse, never fall back."""


class SshCommandFailed(ProxmoxError):
    """A command on the node exited non-zero."""


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


async def run(
    connection: asyncssh.SSHClientConnection, argv: list[str], limit_seconds: float = 60.0
) -> asyncssh.SSHCompletedProcess:
    """Run one command; every argument is quoted, so names from users never become syntax."""
    command = shlex.join(argv)
    try:
        return await connection.run(command, check=False, timeout=limit_seconds)
    except asyncssh.TimeoutError:
        raise ProxmoxTimeout(
            f"command {argv[0]!r} did not finish within {limit_seconds:g} s"
        ) from None
