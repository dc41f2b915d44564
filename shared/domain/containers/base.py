"""The state every part of the container service shares, and the owner-scoped lookup."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.locks import ContainerLocks
from shared.adapters.proxmox.pool import ProxmoxClientPool
from shared.adapters.readcache import ReadCache, invalidation_channel
from shared.adapters.ssh import SshPool
from shared.core.crypto import SecretBox
from shared.core.errors import NotFound
from shared.core.settings import Settings
from shared.db.models import Container, Node
from shared.domain.nodes import NodeService
from shared.domain.vmids import VmidCache

MARKER_PREFIX = "infrahaus-build:"


def build_marker(container_id: uuid.UUID) -> str:
    """Written into the description of every PVE container a build creates (or an adoption
    takes over): how a re-run, a cleanup, a delete or reconciliation recognises a container as
    ours and not a guest that took its VMID."""
    return f"{MARKER_PREFIX}{container_id}"


def markers_in(config: dict[str, object] | None) -> list[uuid.UUID]:
    """The container ids whose build markers the guest's description carries."""
    description = str((config or {}).get("description") or "")
    found = []
    for word in description.replace(MARKER_PREFIX, f" {MARKER_PREFIX}").split():
        if word.startswith(MARKER_PREFIX):
            try:
                found.append(uuid.UUID(word.removeprefix(MARKER_PREFIX)[:36]))
            except ValueError:
                continue
    return found


def built_by_us(config: dict[str, object] | None, container_id: uuid.UUID) -> bool:
    description = str((config or {}).get("description") or "")
    return build_marker(container_id) in description


class ContainerServiceBase:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        box: SecretBox,
        redis: Redis,
        clients: ProxmoxClientPool | None = None,
        ssh_pool: SshPool | None = None,
        read_cache: ReadCache | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.redis = redis
        self.nodes = NodeService(session, settings, box, clients, ssh_pool)
        # `read_cache`: the API process's own (shared.adapters.readcache), dropped at once on a
        # write
        self.vmids = VmidCache(redis, invalidation_channel(redis, settings.queue_name), read_cache)
        self.locks = ContainerLocks(redis)

    async def get(self, user_id: uuid.UUID, container_id: uuid.UUID) -> tuple[Container, Node]:
        row = (
            await self.session.execute(
                select(Container, Node)
                .join(Node, Container.node_id == Node.id)
                .where(Container.id == container_id, Node.user_id == user_id)
            )
        ).first()
        if row is None:
            raise NotFound("No such container.")
        return row[0], row[1]
