"""ORM models. The schema itself changes only through alembic migrations in `migrations/`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class User(TimestampMixin, Base):
    """One person on one Proxmox cluster: `root@pam` on two clusters are two users."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("host_identity", "userid"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # What identifies the cluster the user logged in to (its pinned certificate, or host:port).
    host_identity: Mapped[str] = mapped_column(String(255), nullable=False)
    # PVE user id, `name@realm`.
    userid: Mapped[str] = mapped_column(String(128), nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Node(TimestampMixin, Base):
    """A Proxmox VE node a user registered; secrets are stored encrypted (`*_enc`)."""

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("user_id", "name"),
        CheckConstraint("port BETWEEN 1 AND 65535", name="port_range"),
        CheckConstraint("ssh_port BETWEEN 1 AND 65535", name="ssh_port_range"),
        # At most one default node per user, enforced by the database, not by application code.
        Index(
            "uq_nodes_one_default_per_user",
            "user_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    port: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("8006"))
    token_id: Mapped[str] = mapped_column(String(255), nullable=False)
    token_secret_enc: Mapped[str] = mapped_column(Text, nullable=False)
    tls_fingerprint: Mapped[str | None] = mapped_column(String(95))
    # the pinned certificate itself (PEM): the TLS context trusts exactly this one
    tls_certificate: Mapped[str | None] = mapped_column(Text)
    ssh_user: Mapped[str | None] = mapped_column(String(64))
    ssh_port: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("22"))
    ssh_password_enc: Mapped[str | None] = mapped_column(Text)
    ssh_private_key_enc: Mapped[str | None] = mapped_column(Text)
    ssh_host_key: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))


class PveHost(TimestampMixin, Base):
    """A Proxmox host someone logged in to, with the certificate pinned at first login."""

    __tablename__ = "pve_hosts"
    __table_args__ = (UniqueConstraint("host", "port"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    port: Mapped[int] = mapped_column(Integer, nullable=False)
    tls_fingerprint: Mapped[str] = mapped_column(String(95), nullable=False)
    tls_certificate: Mapped[str] = mapped_column(Text, nullable=False)


class Container(TimestampMixin, Base):
    """An LXC container built (or being built) by Infrahaus on one of a user's nodes."""

    __tablename__ = "containers"
    __table_args__ = (
        UniqueConstraint("node_id", "vmid"),
        CheckConstraint(
            "lifecycle IN ('creating', 'ready', 'error', 'deleting')", name="lifecycle_known"
        ),
        CheckConstraint("vmid BETWEEN 100 AND 999999999", name="vmid_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # RESTRICT: a node with containers cannot be deleted (the API answers 409 first).
    node_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False
    )
    created_by: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    vmid: Mapped[int] = mapped_column(Integer, nullable=False)
    hostname: Mapped[str] = mapped_column(String(63), nullable=False)
    template_revision: Mapped[int | None] = mapped_column(Integer)
    lifecycle: Mapped[str] = mapped_column(String(16), nullable=False)
    last_completed_phase: Mapped[str | None] = mapped_column(String(16))
    ip_address: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """Who did what to which object, when, and whether it worked. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("outcome IN ('success', 'failure')", name="outcome_known"),
        Index("ix_audit_log_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str] = mapped_column(String(32), nullable=False)
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[dict[str, object]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
