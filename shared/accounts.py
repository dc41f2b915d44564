"""Logging in with Proxmox credentials: pin the host, get a ticket, find or create the user.

A user is identified by (host identity, `user@realm`). The PVE ticket proves the password and
is then dropped; Infrahaus keeps its own session (see `shared.sessions`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit
from shared.db.models import PveHost, User
from shared.proxmox import PinnedCertificate, ProxmoxAuthError, ProxmoxClient, fetch_certificate
from shared.proxmox.hosts import HostPolicy
from shared.settings import Settings


class HostNotAllowed(Exception):
    """The host is outside `PVE_ALLOWED_HOSTS`."""


def host_identity(host: str, port: int) -> str:
    return f"{host.lower()}:{port}"


class AccountService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.hosts = HostPolicy(settings.pve_allowed_hosts)

    async def pinned_certificate(
        self, host: str, port: int, fingerprint: str | None
    ) -> PinnedCertificate:
        """The certificate to trust: the one the user vouches for, else the one pinned before,
        else (first contact) the one the host presents."""
        if not self.hosts.allows(host):
            raise HostNotAllowed(f"{host} is not in PVE_ALLOWED_HOSTS")
        known = await self.session.scalar(
            select(PveHost).where(PveHost.host == host.lower(), PveHost.port == port)
        )
        timeout = self.settings.pve_connect_timeout_seconds
        if fingerprint is not None:
            return await fetch_certificate(host, port, timeout, fingerprint)
        if known is not None:
            return PinnedCertificate(known.tls_certificate, known.tls_fingerprint)
        return await fetch_certificate(host, port, timeout)

    async def login(
        self, *, host: str, port: int, username: str, realm: str, password: str,
        fingerprint: str | None,
    ) -> tuple[User, PinnedCertificate]:  # fmt: skip
        pinned = await self.pinned_certificate(host, port, fingerprint)
        userid = f"{username}@{realm}"
        async with ProxmoxClient(
            host, port, pinned,
            connect_timeout=self.settings.pve_connect_timeout_seconds,
            read_timeout=self.settings.pve_read_timeout_seconds,
        ) as client:  # fmt: skip
            try:
                ticket = await client.create_ticket(userid, password)
            except ProxmoxAuthError:
                audit.record(
                    self.session, user_id=None, action="auth.login", target_type="pve_host",
                    target_id=host_identity(host, port), outcome="failure", userid=userid,
                )  # fmt: skip
                await self.session.commit()
                raise
        # Upserts: two first logins racing for one host or user must both succeed.
        now = dt.datetime.now(dt.UTC)
        await self.session.execute(
            pg_insert(PveHost)
            .values(
                id=uuid.uuid4(), host=host.lower(), port=port,
                tls_fingerprint=pinned.fingerprint, tls_certificate=pinned.pem,
            )
            .on_conflict_do_update(
                index_elements=["host", "port"],
                set_={"tls_fingerprint": pinned.fingerprint, "tls_certificate": pinned.pem,
                      "updated_at": now},
            )
        )  # fmt: skip
        identity = host_identity(host, port)
        user_id = await self.session.scalar(
            pg_insert(User)
            .values(id=uuid.uuid4(), host_identity=identity, userid=ticket.username,
                    last_login_at=now)
            .on_conflict_do_update(
                index_elements=["host_identity", "userid"], set_={"last_login_at": now}
            )
            .returning(User.id)
        )  # fmt: skip
        user = await self.session.get_one(User, user_id, populate_existing=True)
        audit.record(
            self.session, user_id=user.id, action="auth.login", target_type="pve_host",
            target_id=identity,
        )  # fmt: skip
        await self.session.commit()
        return user, pinned
