"""users and nodes

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
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
    op.create_table(
        "users",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("host_identity", sa.String(255), nullable=False),
        sa.Column("userid", sa.String(128), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("host_identity", "userid", name="uq_users_host_identity_userid"),
    )
    op.create_table(
        "nodes",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), server_default=sa.text("8006"), nullable=False),
        sa.Column("token_id", sa.String(255), nullable=False),
        sa.Column("token_secret_enc", sa.Text(), nullable=False),
        sa.Column("tls_fingerprint", sa.String(95)),
        sa.Column("ssh_user", sa.String(64)),
        sa.Column("ssh_port", sa.Integer(), server_default=sa.text("22"), nullable=False),
        sa.Column("ssh_password_enc", sa.Text()),
        sa.Column("ssh_private_key_enc", sa.Text()),
        sa.Column("ssh_host_key", sa.Text()),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name="port_range"),
        sa.CheckConstraint("ssh_port BETWEEN 1 AND 65535", name="ssh_port_range"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_nodes_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_nodes"),
        sa.UniqueConstraint("user_id", "name", name="uq_nodes_user_id_name"),
    )
    op.create_index(
        "uq_nodes_one_default_per_user",
        "nodes",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )


def downgrade() -> None:
    op.drop_index("uq_nodes_one_default_per_user", table_name="nodes")
    op.drop_table("nodes")
    op.drop_table("users")
