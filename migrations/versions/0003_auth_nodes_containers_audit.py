"""pinned PVE hosts and node certificates, containers, audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.add_column("nodes", sa.Column("tls_certificate", sa.Text()))
    op.create_table(
        "pve_hosts",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("tls_fingerprint", sa.String(95), nullable=False),
        sa.Column("tls_certificate", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_pve_hosts"),
        sa.UniqueConstraint("host", "port", name="uq_pve_hosts_host_port"),
    )
    op.create_table(
        "containers",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("node_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("vmid", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(63), nullable=False),
        sa.Column("template_revision", sa.Integer()),
        sa.Column("lifecycle", sa.String(16), nullable=False),
        sa.Column("last_completed_phase", sa.String(16)),
        sa.Column("ip_address", sa.String(64)),
        *_timestamps(),
        sa.CheckConstraint(
            "lifecycle IN ('creating', 'ready', 'error', 'deleting')", name="lifecycle_known"
        ),
        sa.CheckConstraint("vmid BETWEEN 100 AND 999999999", name="vmid_range"),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name="fk_containers_node_id_nodes", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_containers_created_by_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_containers"),
        sa.UniqueConstraint("node_id", "vmid", name="uq_containers_node_id_vmid"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("outcome IN ('success', 'failure')", name="outcome_known"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_audit_log_user_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_user_id_created_at", "audit_log", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_user_id_created_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("containers")
    op.drop_table("pve_hosts")
    op.drop_column("nodes", "tls_certificate")
