"""The worker's typed context: built once at start-up, closed at shutdown, and the one place
that turns it into the domain services a job needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.adapters.locks import BuildSlots
from shared.adapters.proxmox.pool import ProxmoxClientPool
from shared.adapters.redis import create_redis
from shared.adapters.ssh import SshPool
from shared.core.crypto import SecretBox
from shared.core.settings import Settings
from shared.db import create_engine, create_session_factory
from shared.domain.containers import ContainerService


@dataclass
class WorkerContext:
    settings: Settings
    worker_id: str
    redis: Redis
    db_engine: AsyncEngine
    db_sessions: async_sessionmaker[AsyncSession]
    secret_box: SecretBox
    proxmox_clients: ProxmoxClientPool
    ssh_pool: SshPool
    build_slots: BuildSlots

    @classmethod
    def build(cls, settings: Settings, worker_id: str) -> WorkerContext:
        engine = create_engine(settings)
        redis = create_redis(settings)
        return cls(
            settings=settings,
            worker_id=worker_id,
            redis=redis,
            db_engine=engine,
            db_sessions=create_session_factory(engine),
            secret_box=SecretBox.from_spec(settings.secret_keys or ""),
            proxmox_clients=ProxmoxClientPool(),
            ssh_pool=SshPool(),
            build_slots=BuildSlots(
                redis, settings.builds_per_node, ttl_seconds=settings.build_lease_seconds * 3
            ),
        )

    @asynccontextmanager
    async def containers(self) -> AsyncIterator[ContainerService]:
        """A container service on a fresh database session, closed after the block."""
        async with self.db_sessions() as session:
            yield ContainerService(
                session,
                self.settings,
                self.secret_box,
                self.redis,
                self.proxmox_clients,
                self.ssh_pool,
            )

    async def aclose(self) -> None:
        await self.ssh_pool.aclose()
        await self.proxmox_clients.aclose()
        await self.redis.aclose()
        await self.db_engine.dispose()


def context_of(ctx: dict[str, Any]) -> WorkerContext:
    """arq hands jobs a plain dict; ours lives under one key."""
    return cast(WorkerContext, ctx["app"])
