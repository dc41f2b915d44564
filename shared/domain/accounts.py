"""Logging in with Proxmox credentials: pin the host, get a ticket, find or create the user.

A user is identified by (host identity, `user@realm`). The PVE ticket proves the password and
is then dropped; Infrahaus keeps its own session (see `shared.domain.sessions`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.proxmox import (
    CertificateMismatch,
    PinnedCertificate,
    ProxmoxAuthError,
    ProxmoxClient,
    fetch_certificate,
)
from shared.adapters.proxmox.hosts import HostPolicy
from shared.adapters.proxmox.tls import normalize_fingerprint
from shared.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.core.settings import Settings
from shared.db.models import PveHost, User
from shared.domain import audit


def host_identity(host: str, port: int) -> str:
    return f"{host.lower()}:{port}"


def repin_hint(host: str, port: int) -> str:
    return (
        "To re-pin on purpose: a user of this host who logged in under the current pin calls"
        " POST /api/auth/repin with the new fingerprint, or an operator runs"
        f" `python -m shared.pins repin {host} {port} <fingerprint>`."
    )


class PinConflict(Conflict):
    """A login names a certificate other than the one pinned for the host (409): a login must
    never move a pin, or whoever intercepts the host's traffic could move it to themselves."""

    def __init__(self, host: str, port: int, pinned: str, given: str) -> None:
        super().__init__(
            f"{host}:{port} is pinned to the TLS certificate {pinned}; the login names {given}."
            f" Logins do not change a pin. {repin_hint(host, port)}"
        )


class AccountService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.hosts = HostPolicy(settings.pve_allowed_hosts)

    async def pinned_certificate(
        self, host: str, port: int, fingerprint: str | None
    ) -> PinnedCertificate:
        """The certificate to trust: the one pinned before (a `fingerprint` naming another is a
        `PinConflict`: logins never move a pin), else (first contact) the one the host presents,
        which must be the one `fingerprint` names when given."""
        self.hosts.check(host)
        known = await self.session.scalar(
            select(PveHost).where(PveHost.host == host.lower(), PveHost.port == port)
        )
        await self.session.commit()  # no transaction held while the host answers
        timeout = self.settings.pve_connect_timeout_seconds
        if known is not None:
            if fingerprint is not None:
                given = normalize_fingerprint(fingerprint)
                if given != known.tls_fingerprint:
                    raise PinConflict(host, port, known.tls_fingerprint, given)
            return PinnedCertificate(known.tls_certificate, known.tls_fingerprint)
        try:
            return await fetch_certificate(host, port, timeout, fingerprint)
        except CertificateMismatch as exc:
            # first contact: the caller named a certificate this host does not present
            raise Unprocessable(
                f"{host}:{port} presents the TLS certificate {exc.presented}, not the one named"
                f" ({exc.expected}).",
                field="fingerprint",
            ) from None

    async def login(
        self,
        *,
        host: str,
        port: int,
        username: str,
        realm: str,
        password: str,
        fingerprint: str | None,
    ) -> tuple[User, PinnedCertificate]:
        userid = f"{username}@{realm}"
        try:
            pinned = await self.pinned_certificate(host, port, fingerprint)
        except PinConflict:
            audit.record(
                self.session,
                user_id=None,
                action="auth.login",
                target_type="pve_host",
                target_id=host_identity(host, port),
                outcome="failure",
                userid=userid,
                reason="fingerprint differs from the pin",
            )
            await self.session.commit()
            raise
        async with ProxmoxClient(
            host,
            port,
            pinned,
            connect_timeout=self.settings.pve_connect_timeout_seconds,
            read_timeout=self.settings.pve_read_timeout_seconds,
            max_response_bytes=self.settings.pve_max_response_bytes,
        ) as client:
            try:
                ticket = await client.create_ticket(userid, password)
            except ProxmoxAuthError:
                audit.record(
                    self.session,
                    user_id=None,
                    action="auth.login",
                    target_type="pve_host",
                    target_id=host_identity(host, port),
                    outcome="failure",
                    userid=userid,
                )
                await self.session.commit()
                raise
        # The first login pins the host; later ones never change the pin (see `repin`). Two
        # first logins racing for one host: the first insert wins, the other must agree with it.
        now = dt.datetime.now(dt.UTC)
        await self.session.execute(
            pg_insert(PveHost)
            .values(
                id=uuid.uuid4(),
                host=host.lower(),
                port=port,
                tls_fingerprint=pinned.fingerprint,
                tls_certificate=pinned.pem,
            )
            .on_conflict_do_nothing(index_elements=["host", "port"])
        )
        stored = await self.session.scalar(
            select(PveHost.tls_fingerprint).where(
                PveHost.host == host.lower(), PveHost.port == port
            )
        )
        if stored != pinned.fingerprint:
            await self.session.rollback()
            raise PinConflict(host, port, stored or "?", pinned.fingerprint)
        identity = host_identity(host, port)
        user_id = await self.session.scalar(
            pg_insert(User)
            .values(
                id=uuid.uuid4(), host_identity=identity, userid=ticket.username, last_login_at=now
            )
            .on_conflict_do_update(
                index_elements=["host_identity", "userid"], set_={"last_login_at": now}
            )
            .returning(User.id)
        )
        user = await self.session.get_one(User, user_id, populate_existing=True)
        audit.record(
            self.session,
            user_id=user.id,
            action="auth.login",
            target_type="pve_host",
            target_id=identity,
        )
        await self.session.commit()
        return user, pinned

    async def repin(
        self,
        *,
        host: str,
        port: int,
        fingerprint: str,
        actor_user_id: uuid.UUID | None,
        actor: str,
        session_fingerprint: str | None = None,
        operator: bool = False,
    ) -> tuple[str, str]:
        """Move a host's pin to the certificate with `fingerprint`, which the host must present
        now. Returns (previous, new) fingerprints. Callers are a user of the host whose session
        was made under the current pin (`session_fingerprint`), or an operator (`operator`)."""
        self.hosts.check(host)
        wanted = normalize_fingerprint(fingerprint)
        identity = host_identity(host, port)
        known = await self.session.scalar(
            select(PveHost).where(PveHost.host == host.lower(), PveHost.port == port)
        )
        if known is None:
            raise NotFound(f"{identity} has no pinned certificate (nobody has logged in to it).")
        previous = known.tls_fingerprint
        if not operator and session_fingerprint != previous:
            audit.record(
                self.session,
                user_id=actor_user_id,
                action="auth.repin",
                target_type="pve_host",
                target_id=identity,
                outcome="failure",
                by=actor,
                reason="session not made under the current pin",
            )
            await self.session.commit()
            raise Forbidden(
                "Only a session made under the host's current pin may re-pin it; this one was"
                " not (it predates an earlier re-pin). Ask an operator to run"
                f" `python -m shared.pins repin {host} {port} <fingerprint>`."
            )
        await self.session.commit()  # no transaction held while the host answers
        if wanted == previous:
            return previous, previous
        presented = await fetch_certificate(
            host, port, self.settings.pve_connect_timeout_seconds, wanted
        )
        row = await self.session.scalar(
            select(PveHost)
            .where(PveHost.host == host.lower(), PveHost.port == port)
            .with_for_update()
        )
        if row is None or row.tls_fingerprint != previous:
            await self.session.rollback()
            raise Conflict(f"The pin of {identity} changed meanwhile; reload and try again.")
        row.tls_fingerprint, row.tls_certificate = presented.fingerprint, presented.pem
        audit.record(
            self.session,
            user_id=actor_user_id,
            action="auth.repin",
            target_type="pve_host",
            target_id=identity,
            by=actor,
            previous_fingerprint=previous,
            fingerprint=presented.fingerprint,
        )
        await self.session.commit()
        return previous, presented.fingerprint
