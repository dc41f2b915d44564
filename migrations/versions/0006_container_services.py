"""container services: what runs in a container, its ports and (encrypted) credentials

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "container_services",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("container_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("unit", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("main_pid", sa.Integer()),
        sa.Column(
            "listeners", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("web_url", sa.String(300)),
        sa.Column(
            "credential_keys",
            postgresql.ARRAY(sa.String(128)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("credentials_enc", sa.Text()),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('running', 'stopped')", name="status_known"),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name="fk_container_services_container_id_containers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_container_services"),
        sa.UniqueConstraint("container_id", "name", name="uq_container_services_container_id_name"),
    )
    op.add_column("containers", sa.Column("services_discovered_at", sa.DateTime(timezone=True)))
    op.add_column("containers", sa.Column("services_error", sa.Text()))


def downgrade() -> None:
    op.drop_column("containers", "services_error")
    op.drop_column("containers", "services_discovered_at")
    op.drop_table("container_services")
