"""ORM models. The schema itself changes only through alembic migrations in `migrations/`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.core.lifecycle import EventType, Lifecycle, Phase, sql_in

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
        CheckConstraint(sql_in("lifecycle", Lifecycle), name="lifecycle_known"),
        CheckConstraint(sql_in("last_completed_phase", Phase), name="phase_known"),
        CheckConstraint(sql_in("failed_phase", Phase), name="failed_phase_known"),
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
    # SET NULL: deleting a template keeps the containers it built (and the revision they record)
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("templates.id", ondelete="SET NULL")
    )
    template_revision: Mapped[int | None] = mapped_column(Integer)
    lifecycle: Mapped[str] = mapped_column(String(16), nullable=False)
    last_completed_phase: Mapped[str | None] = mapped_column(String(16))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    # What the build was asked to do (the API's request, resolved): what `retry` runs again.
    build_request: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    cleanup_on_failure: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    # Where and why the last build (or delete) failed; cleared when a retry starts.
    failed_phase: Mapped[str | None] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # Set by `cancel`; the pipeline checks it between steps.
    cancel_requested: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    # The highest event `seq` handed out: one UPDATE ... RETURNING allocates a whole batch.
    last_event_seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    # The last service discovery: when it succeeded, and why the latest attempt failed (if).
    services_discovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    services_error: Mapped[str | None] = mapped_column(Text)


class ContainerEvent(Base):
    """Append-only progress and history of one container; `seq` orders it (SSE ids)."""

    __tablename__ = "container_events"
    __table_args__ = (
        UniqueConstraint("container_id", "seq"),
        CheckConstraint(sql_in("type", EventType), name="type_known"),
        CheckConstraint(sql_in("step", Phase), name="step_known"),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        Index("ix_container_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    container_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("containers.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    step: Mapped[str | None] = mapped_column(String(16))
    percent: Mapped[int | None] = mapped_column(SmallInteger)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    # Set on the output lines of a template script (the envelope's scriptName/Index/Total).
    script_name: Mapped[str | None] = mapped_column(String(100))
    script_index: Mapped[int | None] = mapped_column(SmallInteger)
    script_total: Mapped[int | None] = mapped_column(SmallInteger)
    metadata_: Mapped[dict[str, object]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class DiscoveredService(Base):
    """A service found running (or credentials found for it) in a container.

    Credentials are one encrypted JSON object per service (AAD `container_services:<id>:
    credentials`); only their key names are stored in clear."""

    __tablename__ = "container_services"
    __table_args__ = (
        UniqueConstraint("container_id", "name"),
        CheckConstraint("status IN ('running', 'stopped')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    container_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("containers.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    unit: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    is_system: Mapped[bool] = mapped_column(Boolean, nullable=False)
    main_pid: Mapped[int | None] = mapped_column(Integer)
    # [{"address": "0.0.0.0", "port": 80}, ...]
    listeners: Mapped[list[dict[str, object]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    web_url: Mapped[str | None] = mapped_column(String(300))
    credential_keys: Mapped[list[str]] = mapped_column(
        ARRAY(String(128)), nullable=False, server_default=text("'{}'")
    )
    credentials_enc: Mapped[str | None] = mapped_column(Text)
    discovered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditEntry(Base):
    """Who did what to which object, when, and whether it worked. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("outcome IN ('success', 'failure')", name="outcome_known"),
        Index("ix_audit_log_user_id_created_at", "user_id", "created_at"),
        Index("ix_audit_log_created_at", "created_at"),
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
    # the API request that made the change (X-Request-ID), also for a worker's rows of a
    # job that request queued; None for changes no request asked for (crons)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Template(TimestampMixin, Base):
    """What a container becomes: OS image, resources, LXC features, packages, files, scripts.

    Global for now (no owner). `revision` increments on every change, so a container can
    record which revision built it; containers reference templates with ON DELETE SET NULL.
    """

    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("cores BETWEEN 1 AND 64", name="cores_range"),
        CheckConstraint("memory BETWEEN 128 AND 131072", name="memory_range"),
        CheckConstraint("swap BETWEEN 0 AND 131072", name="swap_range"),
        CheckConstraint("disk BETWEEN 1 AND 10000", name="disk_range"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("source IN ('api', 'filesystem')", name="source_known"),
        Index("ix_templates_tags", "tags", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, server_default="")
    os_template: Mapped[str] = mapped_column(String(255), nullable=False)
    cores: Mapped[int] = mapped_column(Integer, nullable=False)
    memory: Mapped[int] = mapped_column(Integer, nullable=False)  # MB
    swap: Mapped[int] = mapped_column(Integer, nullable=False)  # MB
    disk: Mapped[int] = mapped_column(Integer, nullable=False)  # GB
    storage: Mapped[str] = mapped_column(String(64), nullable=False)
    bridge: Mapped[str] = mapped_column(String(16), nullable=False)
    unprivileged: Mapped[bool] = mapped_column(Boolean, nullable=False)
    nesting: Mapped[bool] = mapped_column(Boolean, nullable=False)
    keyctl: Mapped[bool] = mapped_column(Boolean, nullable=False)
    fuse: Mapped[bool] = mapped_column(Boolean, nullable=False)
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), nullable=False, server_default=text("'{}'")
    )
    revision: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    # `filesystem`: kept in sync by discovery (the directory wins); `api`: edited through the API.
    source: Mapped[str] = mapped_column(String(16), nullable=False, server_default="api")


class TemplateScript(Base):
    """A shell script run inside the container, in `sort_order` (then name) order."""

    __tablename__ = "template_scripts"
    __table_args__ = (
        UniqueConstraint("template_id", "name"),
        CheckConstraint("sort_order BETWEEN 0 AND 9999", name="sort_order_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    template_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("templates.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))


class TemplateFile(Base):
    """A file pushed into the container; `policy` says what happens to one already there."""

    __tablename__ = "template_files"
    __table_args__ = (
        UniqueConstraint("template_id", "name"),
        CheckConstraint("policy IN ('replace', 'default', 'backup')", name="policy_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    template_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("templates.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    target_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    mode: Mapped[str] = mapped_column(String(4), nullable=False)
    owner: Mapped[str] = mapped_column(String(65), nullable=False)
    policy: Mapped[str] = mapped_column(String(16), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)


class PackageBucket(TimestampMixin, Base):
    """A named, reusable list of packages; templates copy them, they do not link to them."""

    __tablename__ = "package_buckets"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, server_default="")


class Package(Base):
    """One package of one template or one bucket (exactly one of the two owns it)."""

    __tablename__ = "packages"
    __table_args__ = (
        UniqueConstraint("template_id", "manager", "name"),
        UniqueConstraint("bucket_id", "manager", "name"),
        CheckConstraint("manager IN ('apt', 'pip', 'npm')", name="manager_known"),
        CheckConstraint("num_nonnulls(template_id, bucket_id) = 1", name="one_owner"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("templates.id", ondelete="CASCADE")
    )
    bucket_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("package_buckets.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(214), nullable=False)
    manager: Mapped[str] = mapped_column(String(8), nullable=False)
    version: Mapped[str | None] = mapped_column(String(64))
