"""Proxmox nodes a user registered: rules, connection checks, secrets, and clients for them.

Every method takes the owner's id; another user's node is simply "not found". Secrets are
encrypted with associated data `nodes:<id>:<column>` and never leave this module in clear
except inside the clients it builds.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters import ssh
from shared.adapters.proxmox import (
    CertificateMismatch,
    NodeFailure,
    PinnedCertificate,
    ProxmoxAuthError,
    ProxmoxClient,
    ProxmoxError,
    ProxmoxPermissionError,
    ProxmoxTimeout,
    TokenAuth,
    fetch_certificate,
)
from shared.adapters.proxmox.client import segment
from shared.adapters.proxmox.errors import ResponseTooLarge
from shared.adapters.proxmox.hosts import HostPolicy
from shared.adapters.proxmox.pool import ProxmoxClientPool
from shared.core.crypto import DecryptionError, SecretBox
from shared.core.errors import Conflict, NotFound, Unprocessable
from shared.core.logging import get_logger
from shared.core.settings import Settings
from shared.db.models import Container, Node, User
from shared.domain import audit

log = get_logger(__name__)


@dataclass
class NodeInput:
    """A node as the user describes it (create), or the result of applying a PATCH to one."""

    name: str
    host: str
    port: int
    token_id: str
    token_secret: str
    fingerprint: str | None = None
    ssh_user: str | None = None
    ssh_port: int = 22
    ssh_password: str | None = None
    ssh_private_key: str | None = None
    # set when host/port/fingerprint are unchanged, so the pinned certificate is reused
    pinned: PinnedCertificate | None = field(default=None, repr=False)
    ssh_host_key: str | None = field(default=None, repr=False)

    @property
    def wants_ssh(self) -> bool:
        return bool(self.ssh_user and (self.ssh_password or self.ssh_private_key))


class NodeNotAllowed(ProxmoxError):
    """The node's host is no longer in `PVE_ALLOWED_HOSTS` (it was narrowed after the node
    was registered): no connection is made (403; a node error in the container list)."""

    http_status = 403


class ConnectionReport(msgspec.Struct):
    ok: bool
    pve_version: str | None = None
    latency_ms: float | None = None
    error: str | None = None


def _context(node_id: uuid.UUID, column: str) -> str:
    return f"nodes:{node_id}:{column}"


# PVE objects as a node lists them; named here because `NodeService.list` hides `list` in its body
PveObjects = list[dict[str, Any]]


class NodeService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        box: SecretBox,
        clients: ProxmoxClientPool | None = None,
        ssh_pool: ssh.SshPool | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.box = box
        self.clients = clients
        self.ssh_pool = ssh_pool
        self.hosts = HostPolicy(settings.pve_allowed_hosts)

    # -- reading ---------------------------------------------------------------------------

    async def list(self, user_id: uuid.UUID) -> list[Node]:
        rows = await self.session.scalars(
            select(Node).where(Node.user_id == user_id).order_by(Node.created_at, Node.name)
        )
        return list(rows)

    async def get(self, user_id: uuid.UUID, node_id: uuid.UUID) -> Node:
        node = await self.session.scalar(
            select(Node).where(Node.id == node_id, Node.user_id == user_id)
        )
        if node is None:
            raise NotFound("No such node.")
        return node

    async def get_and_end_transaction(self, user_id: uuid.UUID, node_id: uuid.UUID) -> Node:
        """`get`, then end the transaction: the caller is about to wait on the network, and a
        pooled database connection must not sit idle in a transaction meanwhile."""
        node = await self.get(user_id, node_id)
        await self.session.commit()
        return node

    async def _lock_user(self, user_id: uuid.UUID) -> None:
        """Serialise one user's node changes (default flag, names) across API replicas."""
        await self.session.execute(select(User.id).where(User.id == user_id).with_for_update())

    def secret(self, node: Node, column: str) -> str | None:
        stored = getattr(node, f"{column}_enc")
        return None if stored is None else self.box.decrypt(stored, _context(node.id, column))

    @asynccontextmanager
    async def client(self, node: Node) -> AsyncIterator[ProxmoxClient]:
        """An API client for `node`, pinned to its certificate, authenticated by its token:
        the pool's kept-alive one when the service has a pool, else a fresh one closed after."""
        self._check_allowed(node)
        if not node.tls_fingerprint or not node.tls_certificate:
            raise Conflict("The node has no pinned certificate; update it to pin one.")
        if self.clients is None:
            async with self._new_client(node) as client:
                yield client
            return
        # the secret's hash, not its ciphertext: re-encryption (every save) is not a new client
        token = hashlib.sha256((self.secret(node, "token_secret") or "").encode()).hexdigest()
        key = (node.id, node.host, node.port, node.tls_fingerprint, node.token_id, token)
        yield self.clients.get(key, lambda: self._new_client(node))

    @asynccontextmanager
    async def ssh(self, node: Node) -> AsyncIterator[ssh.NodeSsh]:
        """An SSH session on `node` as its stored user, host key pinned: the pool's kept-alive
        connection when the service has a pool, else a fresh one closed after."""
        self._check_allowed(node)
        if not node.ssh_user or not node.ssh_host_key:
            raise Conflict(
                f"Node {node.name!r} has no SSH access configured; builds need it (update the"
                " node with sshUser and sshPassword or sshPrivateKey)."
            )
        password = self.secret(node, "ssh_password")
        private_key = self.secret(node, "ssh_private_key")

        async def connect() -> Any:
            return await ssh.connect(
                node.host, node.ssh_port, node.ssh_user or "", host_key=node.ssh_host_key or "",
                password=password, private_key=private_key,
                limit_seconds=self.settings.pve_connect_timeout_seconds,
            )  # fmt: skip

        if self.ssh_pool is None:
            connection = await connect()
            async with connection:
                yield ssh.NodeSsh(connection)
            return
        credentials = hashlib.sha256(f"{password}\0{private_key}".encode()).hexdigest()
        key = (node.id, node.host, node.ssh_port, node.ssh_user, node.ssh_host_key, credentials)
        async with self.ssh_pool.session(key, connect) as session:
            yield session

    def _check_allowed(self, node: Node) -> None:
        """Checked on every use, not only at registration: narrowing the allow-list must cut
        off nodes registered before."""
        if not self.hosts.allows(node.host):
            raise NodeNotAllowed(
                f"{node.host} is not in PVE_ALLOWED_HOSTS (any more); no connection is made"
                f" to node {node.name!r}."
            )

    @asynccontextmanager
    async def interactive(self, node: Node) -> AsyncIterator[None]:
        """The total time a person waits for a read of `node`, retries included."""
        budget = self.settings.pve_interactive_timeout_seconds
        try:
            async with asyncio.timeout(budget):
                yield
        except TimeoutError:
            raise ProxmoxTimeout(
                f"node {node.name!r} did not answer within {budget:g} s"
                " (PVE_INTERACTIVE_TIMEOUT_SECONDS)"
            ) from None

    def _new_client(self, node: Node) -> ProxmoxClient:
        assert node.tls_certificate and node.tls_fingerprint
        return ProxmoxClient(
            node.host,
            node.port,
            PinnedCertificate(node.tls_certificate, node.tls_fingerprint),
            TokenAuth(node.token_id, self.secret(node, "token_secret") or ""),
            connect_timeout=self.settings.pve_connect_timeout_seconds,
            read_timeout=self.settings.pve_read_timeout_seconds,
            max_response_bytes=self.settings.pve_max_response_bytes,
            # the registration's id, never its name: `/metrics` is unauthenticated, and two
            # users' nodes may share a name
            metrics_node=str(node.id),
        )

    # -- changing --------------------------------------------------------------------------

    async def create(self, user_id: uuid.UUID, data: NodeInput) -> Node:
        self._check_host(data.host)
        await self._check_name_free(user_id, data.name)
        await self.session.commit()  # no transaction left open while the node is tested
        try:
            pinned, host_key = await self._verify(data, ALL_FIELDS)
        except Exception as exc:
            await self._audit_failure(user_id, "node.create", None, exc, name=data.name)
            raise
        await self._lock_user(user_id)
        await self._check_name_free(user_id, data.name)  # again: another request may have won
        is_first = not await self.session.scalar(select(exists().where(Node.user_id == user_id)))
        node = Node(id=uuid.uuid4(), user_id=user_id, is_default=is_first)
        self._apply(node, data, pinned, host_key)
        self.session.add(node)
        audit.record(
            self.session, user_id=user_id, action="node.create", target_type="node",
            target_id=node.id, name=data.name, host=data.host,
        )  # fmt: skip
        await self.session.commit()
        return node

    async def update(self, user_id: uuid.UUID, node_id: uuid.UUID, changes: dict[str, Any]) -> Node:
        """Apply a PATCH. Absent fields keep their value; `sshPassword`/`sshPrivateKey` of ""
        clear them; the result is tested like a new node before anything is saved."""
        node = await self.get(user_id, node_id)
        seen_version = node.updated_at
        merged = self._merge(node, changes)
        if merged.host != node.host:
            self._check_host(merged.host)
        if merged.name != node.name:
            await self._check_name_free(user_id, merged.name)
        await self.session.commit()  # no transaction left open while the node is tested
        supplied = frozenset(map(_camel, changes))
        if merged.wants_ssh and merged.ssh_host_key is None:
            # SSH was never checked at this endpoint (a node saved without SSH secrets): the
            # request that turns it on answers for the whole SSH configuration, stored or sent
            supplied |= _SSH_ENDPOINT_FIELDS
        try:
            pinned, host_key = await self._verify(merged, supplied)
        except Exception as exc:
            await self._audit_failure(user_id, "node.update", node_id, exc, fields=sorted(changes))
            raise
        await self._lock_user(user_id)
        node = await self.session.get_one(Node, node_id, populate_existing=True)  # fresh
        if node.updated_at != seen_version:
            raise Conflict("The node was changed meanwhile; reload it and try again.")
        if merged.name != node.name:
            await self._check_name_free(user_id, merged.name)
        self._apply(node, merged, pinned, host_key)
        audit.record(
            self.session, user_id=user_id, action="node.update", target_type="node",
            target_id=node.id, fields=sorted(changes),
        )  # fmt: skip
        await self.session.commit()
        await self.session.refresh(node)
        return node

    async def delete(self, user_id: uuid.UUID, node_id: uuid.UUID) -> None:
        await self._lock_user(user_id)
        node = await self.get(user_id, node_id)
        in_use = await self.session.scalar(
            select(func.count()).select_from(Container).where(Container.node_id == node.id)
        )
        if in_use:
            raise Conflict(
                f"Node {node.name!r} still has {in_use} container(s); delete them first."
            )
        was_default = node.is_default
        await self.session.delete(node)
        await self.session.flush()
        if was_default:
            successor = await self.session.scalar(
                select(Node).where(Node.user_id == user_id).order_by(Node.created_at).limit(1)
            )
            if successor is not None:
                successor.is_default = True
        audit.record(
            self.session, user_id=user_id, action="node.delete", target_type="node",
            target_id=node_id, name=node.name,
        )  # fmt: skip
        await self.session.commit()

    async def set_default(self, user_id: uuid.UUID, node_id: uuid.UUID) -> Node:
        await self._lock_user(user_id)
        node = await self.get(user_id, node_id)
        # Clear first: the partial unique index allows one default per user at any moment.
        await self.session.execute(
            update(Node)
            .where(Node.user_id == user_id, Node.is_default, Node.id != node.id)
            .values(is_default=False)
        )
        node.is_default = True
        audit.record(
            self.session, user_id=user_id, action="node.set_default", target_type="node",
            target_id=node.id,
        )  # fmt: skip
        await self.session.commit()
        await self.session.refresh(node)
        return node

    async def test(self, user_id: uuid.UUID, node_id: uuid.UUID) -> ConnectionReport:
        node = await self.get_and_end_transaction(user_id, node_id)
        started = time.perf_counter()
        try:
            async with self.interactive(node), self.client(node) as client:
                version = await client.version()
                # /version answers for the whole cluster (any node serves it); the node's own
                # status says whether this node is up
                await client.get(f"/nodes/{segment(node.name)}/status")
        except NodeFailure as exc:
            return ConnectionReport(ok=False, error=exc.message)
        latency = round((time.perf_counter() - started) * 1000, 1)
        return ConnectionReport(ok=True, pve_version=version.version, latency_ms=latency)

    # -- what creation forms need ----------------------------------------------------------

    async def storages(self, user_id: uuid.UUID, node_id: uuid.UUID) -> PveObjects:
        node = await self.get_and_end_transaction(user_id, node_id)
        async with self.interactive(node), self.client(node) as client:
            data = await client.get(f"/nodes/{segment(node.name)}/storage", enabled=1)
        return [item for item in data or [] if isinstance(item, dict)]

    async def bridges(self, user_id: uuid.UUID, node_id: uuid.UUID) -> PveObjects:
        node = await self.get_and_end_transaction(user_id, node_id)
        async with self.interactive(node), self.client(node) as client:
            data = await client.get(f"/nodes/{segment(node.name)}/network", type="any_bridge")
        return [item for item in data or [] if isinstance(item, dict)]

    async def os_templates(self, user_id: uuid.UUID, node_id: uuid.UUID) -> PveObjects:
        """Container templates (`vztmpl`) on every storage of the node that holds them."""
        node = await self.get_and_end_transaction(user_id, node_id)
        async with self.interactive(node), self.client(node) as client:
            path = f"/nodes/{segment(node.name)}/storage"
            storages = await client.get(path, content="vztmpl", enabled=1)
            found: list[dict[str, Any]] = []
            for storage in storages or []:
                if not isinstance(storage, dict) or not storage.get("storage"):
                    continue
                name = segment(storage["storage"])
                content = await client.get(f"{path}/{name}/content", content="vztmpl")
                found.extend(item for item in content or [] if isinstance(item, dict))
        return found

    # -- internals -------------------------------------------------------------------------

    async def _audit_failure(
        self, user_id: uuid.UUID, action: str, node_id: uuid.UUID | None, exc: Exception,
        **detail: Any,
    ) -> None:  # fmt: skip
        """Record a refused change; the reason is the error's text, which never holds secrets."""
        reason = getattr(exc, "message", None) or type(exc).__name__
        try:
            await self.session.rollback()
            audit.record(
                self.session, user_id=user_id, action=action, target_type="node",
                target_id=node_id, outcome="failure", reason=str(reason)[:300], **detail,
            )  # fmt: skip
            await self.session.commit()
        except Exception:  # the refusal itself is what the caller must hear about
            log.exception("could not audit a refused node change", action=action)

    def _check_host(self, host: str) -> None:
        self.hosts.check(host)

    async def _check_name_free(self, user_id: uuid.UUID, name: str) -> None:
        taken = await self.session.scalar(
            select(exists().where(Node.user_id == user_id, Node.name == name))
        )
        if taken:
            raise Conflict(f"You already have a node named {name!r}.")

    async def _verify(
        self, data: NodeInput, supplied: frozenset[str]
    ) -> tuple[PinnedCertificate, str | None]:
        """Test the connection before anything is saved: API, node name, and SSH if given.

        A failure that the fields sent in this request explain (`supplied`, camelCase) is the
        caller's error, a 422 naming the field; one they do not explain (a PATCH of the name
        while the node is down) stays the node's error (502/503/504)."""
        timeout = self.settings.pve_connect_timeout_seconds
        try:
            pinned = data.pinned or await fetch_certificate(
                data.host, data.port, timeout, data.fingerprint
            )
            async with ProxmoxClient(
                data.host, data.port, pinned, TokenAuth(data.token_id, data.token_secret),
                connect_timeout=timeout, read_timeout=self.settings.pve_read_timeout_seconds,
                attempts=1, max_response_bytes=self.settings.pve_max_response_bytes,
            ) as client:  # fmt: skip
                await client.version()
                names = sorted(info.node for info in await client.nodes())
        except ProxmoxError as exc:
            raise _caller_error(exc, _api_fields(exc), supplied) from None
        if data.name not in names:
            raise Unprocessable(
                f"{data.host} has no node named {data.name!r} (it has: {', '.join(names)}).",
                field="name",
            )
        host_key = data.ssh_host_key
        if data.wants_ssh:
            try:
                host_key = await self._verify_ssh(data)
            except NodeFailure as exc:
                raise _caller_error(exc, _ssh_fields(exc, data), supplied) from None
        return pinned, host_key

    async def _verify_ssh(self, data: NodeInput) -> str:
        assert data.ssh_user is not None
        timeout = self.settings.pve_connect_timeout_seconds
        host_key = data.ssh_host_key or await ssh.fetch_host_key(data.host, data.ssh_port, timeout)
        connection = await ssh.connect(
            data.host, data.ssh_port, data.ssh_user, host_key=host_key,
            password=data.ssh_password, private_key=data.ssh_private_key,
            limit_seconds=timeout,
        )  # fmt: skip
        async with connection:
            result = await ssh.NodeSsh(connection).run(["pct", "list"], timeout * 2)
        if result.exit_status != 0:
            raise Unprocessable(
                f"`pct` does not work for {data.ssh_user!r} on {data.host}: is this a Proxmox"
                " VE node, and may this user run pct?",
                field="sshUser",
            )
        return host_key

    def _merge(self, node: Node, changes: dict[str, Any]) -> NodeInput:
        def pick(key: str, current: Any) -> Any:
            return changes[key] if key in changes else current

        host, port = pick("host", node.host), pick("port", node.port)
        fingerprint = changes.get("fingerprint")
        same_endpoint = host == node.host and port == node.port and fingerprint is None
        ssh_user = pick("ssh_user", node.ssh_user)
        ssh_port = pick("ssh_port", node.ssh_port)
        # A stored secret is only ever sent to the endpoint it was saved for: moving the node
        # means giving its secrets again (else a stolen session could redirect them).
        if not same_endpoint and not changes.get("token_secret"):
            raise Unprocessable(
                "Send tokenSecret again when host, port or fingerprint changes.",
                field="tokenSecret",
            )
        ssh_moved = host != node.host or ssh_port != node.ssh_port
        has_ssh_secret = node.ssh_password_enc is not None or node.ssh_private_key_enc is not None
        if (
            ssh_moved
            and has_ssh_secret
            and not ("ssh_password" in changes or "ssh_private_key" in changes)
        ):
            raise Unprocessable(
                'Send sshPassword or sshPrivateKey again (or "" to clear them) when host or'
                " sshPort changes.",
                field="sshPassword",
            )

        def three_state(key: str, column: str) -> str | None:
            if key not in changes:
                return self.secret(node, column)
            return changes[key] or None  # "" clears

        return NodeInput(
            name=pick("name", node.name),
            host=host,
            port=port,
            token_id=pick("token_id", node.token_id),
            token_secret=changes.get("token_secret") or self.secret(node, "token_secret") or "",
            fingerprint=fingerprint,
            ssh_user=ssh_user,
            ssh_port=ssh_port,
            ssh_password=three_state("ssh_password", "ssh_password"),
            ssh_private_key=three_state("ssh_private_key", "ssh_private_key"),
            pinned=(
                PinnedCertificate(node.tls_certificate, node.tls_fingerprint)
                if same_endpoint and node.tls_certificate and node.tls_fingerprint
                else None
            ),
            ssh_host_key=(
                node.ssh_host_key if host == node.host and ssh_port == node.ssh_port else None
            ),
        )

    def _apply(
        self, node: Node, data: NodeInput, pinned: PinnedCertificate, host_key: str | None
    ) -> None:
        node.name, node.host, node.port = data.name, data.host, data.port
        node.token_id = data.token_id
        node.token_secret_enc = self.box.encrypt(
            data.token_secret, _context(node.id, "token_secret")
        )
        node.tls_fingerprint, node.tls_certificate = pinned.fingerprint, pinned.pem
        node.ssh_user, node.ssh_port = data.ssh_user, data.ssh_port
        node.ssh_password_enc = (
            self.box.encrypt(data.ssh_password, _context(node.id, "ssh_password"))
            if data.ssh_password
            else None
        )
        node.ssh_private_key_enc = (
            self.box.encrypt(data.ssh_private_key, _context(node.id, "ssh_private_key"))
            if data.ssh_private_key
            else None
        )
        node.ssh_host_key = host_key if data.ssh_user else None


ALL_FIELDS = frozenset(
    ("name", "host", "port", "tokenId", "tokenSecret", "fingerprint", "sshUser", "sshPort",
     "sshPassword", "sshPrivateKey")
)  # fmt: skip


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _api_fields(exc: ProxmoxError) -> tuple[str, ...]:
    """The request fields that can explain a failed API check, most likely first."""
    if isinstance(exc, CertificateMismatch):
        return ("fingerprint",)
    if isinstance(exc, ProxmoxAuthError):
        return ("tokenSecret", "tokenId")
    if isinstance(exc, ProxmoxPermissionError):
        return ("tokenId", "tokenSecret")
    if isinstance(exc, ResponseTooLarge):
        return ()
    return ("host", "port")  # unreachable, silent, not Proxmox VE, or an error of its own


def _ssh_fields(exc: NodeFailure, data: NodeInput) -> tuple[str, ...]:
    if isinstance(exc, ssh.SshAuthFailed):
        secret = "sshPrivateKey" if data.ssh_private_key else "sshPassword"
        return (secret, "sshUser")
    if isinstance(exc, ssh.SshHostKeyChanged):
        return ("host", "sshPort")
    return _SSH_REACH_FIELDS


#: what explains an SSH endpoint that cannot be reached, the likeliest first
_SSH_REACH_FIELDS = ("sshPort", "host", "sshUser")
_SSH_ENDPOINT_FIELDS = frozenset(_SSH_REACH_FIELDS)


def _caller_error(exc: NodeFailure, fields: tuple[str, ...], supplied: frozenset[str]) -> Exception:
    """A 422 naming the first field sent that explains `exc`, else `exc` itself."""
    field = next((name for name in fields if name in supplied), None)
    if field is None:
        return exc
    return Unprocessable(f"The connection check failed: {exc.message}", field=field)


class RotationReport(msgspec.Struct):
    changed: int
    # "node <id> <column>" for values no configured key can decrypt (left as they are)
    unreadable: list[str]


async def rotate_secrets(session: AsyncSession, box: SecretBox) -> RotationReport:
    """Re-encrypt every node secret under the current key.

    A value no configured key opens is reported, not fatal: the others still move to the new
    key, and the operator learns exactly which rows need their secret entered again.
    """
    changed, unreadable = 0, []
    for node in await session.scalars(select(Node).order_by(Node.id)):
        for column in ("token_secret", "ssh_password", "ssh_private_key"):
            stored = getattr(node, f"{column}_enc")
            if stored is None or not box.needs_rotation(stored):
                continue
            try:
                setattr(node, f"{column}_enc", box.rotate(stored, _context(node.id, column)))
            except DecryptionError:
                unreadable.append(f"node {node.id} {column}")
                continue
            changed += 1
    await session.commit()
    return RotationReport(changed=changed, unreadable=unreadable)
