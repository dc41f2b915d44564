"""Wiring: start the API, admin and SSH servers for a configured cluster, in-process.

``start_simulator`` is what both the CLI and pytest fixtures call; the returned handle carries
the ``info`` dict (the same content as the ``--info-file``) and ``stop()``.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import structlog

from services.pvesim.admin import AdminApi
from services.pvesim.api import PveApi
from services.pvesim.auth import (
    LIMITED_ROLE,
    LIMITED_ROLE_PRIVILEGES,
    AccessControl,
    AclEntry,
    Authenticator,
    Token,
    User,
)
from services.pvesim.cluster import Cluster
from services.pvesim.faults import FaultRegistry
from services.pvesim.httpserver import HttpsServer
from services.pvesim.sandbox import Sandbox
from services.pvesim.ssh import NodeSshListener
from services.pvesim.tasks import Clock
from services.pvesim.tls import certificate_fingerprint, generate_certificate, server_ssl_context

log = structlog.get_logger()

TOKEN_ID = "root@pam!infrahaus"  # noqa: S105 - an id, not a secret
# A second token with privilege separation and a narrow ACL, for permission-failure paths.
LIMITED_TOKEN_ID = "deploy@pve!limited"  # noqa: S105 - an id, not a secret
LIMITED_TOKEN_ACL = (
    ("/", "PVEAuditor"),
    ("/vms", LIMITED_ROLE),
    ("/storage/local-lvm", "PVEDatastoreUser"),
)
SSH_USER = "root"
# pvestatd refreshes its cache every 10 s, so a status change shows there ~5 s late on average.
DEFAULT_RRD_LAG = 5.0


@dataclass
class SimulatorConfig:
    """Everything that can be configured; defaults match a stock single-node PVE."""

    host: str = "127.0.0.1"
    api_port: int = 8006
    ssh_port: int = 2222
    admin_port: int = 8007
    nodes: int = 1
    task_speed: float = 1.0
    seed: int | None = None
    data_dir: Path | None = None
    info_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    auth_failure_delay: float = 3.0
    # Seconds /cluster/resources lags behind live status, like pvestatd's RRD cache (0 = live).
    rrd_lag: float = DEFAULT_RRD_LAG
    ssh_authorized_keys: list[str] = field(default_factory=list)
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)


def node_names(count: int) -> list[str]:
    """``pve``, ``pve2``, ``pve3``, ..."""
    return ["pve" if i == 0 else f"pve{i + 1}" for i in range(count)]


class SimulatorHandle:
    """A running simulator. ``info`` is the info-file content; call ``stop()`` when done."""

    def __init__(self, config: SimulatorConfig, data_dir: Path, owns_data_dir: bool):
        self.config = config
        self.data_dir = data_dir
        self._owns_data_dir = owns_data_dir
        self.info: dict[str, Any] = {}
        self.cluster: Cluster
        self.access: AccessControl
        self.api_server: HttpsServer
        self.admin_server: HttpsServer
        self.ssh_listeners: dict[str, NodeSshListener] = {}
        self.authorized_keys: list[str] = list(config.ssh_authorized_keys)
        # Admin requests run concurrently; one's pause must not interleave with another's
        # resume (two resumes would bind one port, a late pause would close an "up" node).
        self._reachability = asyncio.Lock()

    @property
    def entry_node(self) -> str:
        return next(iter(self.cluster.nodes))

    async def apply_reachability(self) -> None:
        """Close or reopen listeners so "down" nodes refuse connections (the faults as they
        are once the lock is ours: the last change always wins)."""
        async with self._reachability:
            for node, listener in self.ssh_listeners.items():
                if self.cluster.faults.get(node).down:
                    await listener.pause()
                else:
                    await listener.resume()
            if self.cluster.faults.get(self.entry_node).down:
                await self.api_server.pause()
            else:
                await self.api_server.resume()

    async def stop(self) -> None:
        """Stop tasks and listeners; also safe after a start-up that failed half-way."""
        if hasattr(self, "cluster"):
            await self.cluster.tasks.wait_all()
        for listener in self.ssh_listeners.values():
            await listener.stop()
        for server in (getattr(self, "api_server", None), getattr(self, "admin_server", None)):
            if server is not None:
                await server.stop()
        if self._owns_data_dir:
            await asyncio.to_thread(shutil.rmtree, self.data_dir, True)
        log.info("pvesim.stopped")


def _secret(rng: random.Random | None, size: int = 16) -> str:
    return (rng.randbytes(size) if rng else secrets.token_bytes(size)).hex()


def _uuid_shaped(raw: str) -> str:
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


async def start_simulator(config: SimulatorConfig | None = None) -> SimulatorHandle:
    """Start a simulator in the running event loop and return once every port listens."""
    config = config or SimulatorConfig()
    owns_data_dir = config.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="pvesim-")) if owns_data_dir else config.data_dir
    assert data_dir is not None
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = SimulatorHandle(config, data_dir, owns_data_dir)
    try:
        await _bring_up(handle)
    except BaseException:
        await handle.stop()
        raise
    return handle


async def _bring_up(handle: SimulatorHandle) -> None:
    """Build the cluster, start every listener and fill ``handle.info``."""
    config, data_dir = handle.config, handle.data_dir
    secrets_rng = random.Random(f"{config.seed}:secrets") if config.seed is not None else None

    names = node_names(config.nodes)
    clock = Clock()
    faults = FaultRegistry(names, config.seed)
    for node, changes in config.faults.items():
        faults.update(node, changes)
    sandbox = Sandbox(data_dir)
    if sandbox.problem:
        log.warning("pvesim.sandbox.unavailable", problem=sandbox.problem)
    cluster = Cluster(names, config.seed, config.task_speed, sandbox, faults, clock, config.rrd_lag)
    for name in names:
        sandbox.create_node_root(name)
    await cluster.seed_guests()
    handle.cluster = cluster

    cert_file, key_file = config.cert_file, config.key_file
    if cert_file is None or key_file is None:
        cert_file, key_file = data_dir / "pveproxy-ssl.pem", data_dir / "pveproxy-ssl.key"
        generate_certificate(cert_file, key_file, [config.host, "localhost", *names])
    fingerprint = certificate_fingerprint(cert_file)

    token_secret = _uuid_shaped(_secret(secrets_rng))
    users = [
        User("root@pam", _secret(secrets_rng, 8), "Administrator"),
        User("admin@pve", _secret(secrets_rng, 8), "Administrator"),
        User("auditor@pve", _secret(secrets_rng, 8), "PVEAuditor"),
    ]
    ticket_key = bytes.fromhex(_secret(secrets_rng, 32))
    ssh_password = _secret(secrets_rng, 8)
    # Drawn after everything else, so the older secrets stay the same for a given seed.
    users.append(User("deploy@pve", _secret(secrets_rng, 8), "PVEAdmin"))
    limited_secret = _uuid_shaped(_secret(secrets_rng))
    access = AccessControl(
        users,
        [
            Token(TOKEN_ID, token_secret, privsep=False),
            Token(LIMITED_TOKEN_ID, limited_secret, True),
        ],
    )
    access.roles[LIMITED_ROLE] = LIMITED_ROLE_PRIVILEGES
    access.acl.extend(AclEntry(path, LIMITED_TOKEN_ID, role) for path, role in LIMITED_TOKEN_ACL)
    handle.access = access
    cluster.access = access
    api = PveApi(
        cluster, Authenticator(clock, access, ticket_key), config.auth_failure_delay, fingerprint
    )
    ssl_context = server_ssl_context(cert_file, key_file)
    handle.api_server = HttpsServer(api.handle, config.host, config.api_port, ssl_context)
    admin = AdminApi(handle)
    handle.admin_server = HttpsServer(admin.handle, config.host, config.admin_port, None)

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_file = data_dir / "ssh_client_key"
    client_key.write_private_key(str(client_key_file))
    client_key_file.chmod(0o600)
    handle.authorized_keys.append(client_key.export_public_key().decode().strip())
    for index, name in enumerate(names):
        port = 0 if config.ssh_port == 0 else config.ssh_port + index
        handle.ssh_listeners[name] = NodeSshListener(
            cluster,
            name,
            config.host,
            port,
            host_key,
            SSH_USER,
            ssh_password,
            lambda: handle.authorized_keys,
        )

    await handle.api_server.start()
    await handle.admin_server.start()
    for listener in handle.ssh_listeners.values():
        await listener.start()
    await handle.apply_reachability()

    ssh_ports = {name: listener.port for name, listener in handle.ssh_listeners.items()}
    handle.info = {
        "apiUrl": f"https://{config.host}:{handle.api_server.port}/api2/json",
        "tlsFingerprint": fingerprint,
        "tlsCertFile": str(cert_file),
        "nodes": names,
        "tokenId": TOKEN_ID,
        "tokenSecret": token_secret,
        "users": [
            {
                "username": u.username,
                "realm": u.realm,
                "password": u.password,
                "role": u.role,
            }
            for u in users
        ],
        "limitedToken": {
            "tokenId": LIMITED_TOKEN_ID,
            "tokenSecret": limited_secret,
            "privsep": 1,
            "acl": [
                {"path": path, "role": role, "propagate": 1} for path, role in LIMITED_TOKEN_ACL
            ],
            "roles": {LIMITED_ROLE: sorted(LIMITED_ROLE_PRIVILEGES)},
        },
        "sshHost": config.host,
        "sshPort": ssh_ports[names[0]],
        "sshPorts": ssh_ports,
        "sshUser": SSH_USER,
        "sshPassword": ssh_password,
        "sshHostKey": host_key.export_public_key().decode().strip(),
        "sshClientKeyFile": str(client_key_file),
        "adminUrl": f"http://{config.host}:{handle.admin_server.port}/_admin",
        "dataDir": str(data_dir),
        "isolation": sandbox.problem or "unshare+chroot",
    }
    if config.info_file is not None:
        config.info_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = config.info_file.with_suffix(config.info_file.suffix + ".tmp")
        tmp.write_text(json.dumps(handle.info, indent=2) + "\n")
        tmp.replace(config.info_file)
    log.info(
        "pvesim.started",
        api=handle.info["apiUrl"],
        ssh_ports=ssh_ports,
        admin=handle.info["adminUrl"],
    )
