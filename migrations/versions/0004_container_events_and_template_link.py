"""container events, containers linked to templates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("containers", sa.Column("template_id", postgresql.UUID(as_uuid=True)))
    op.create_foreign_key(
        "fk_containers_template_id_templates",
        "containers",
        "templates",
        ["template_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_table(
        "container_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("container_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("step", sa.String(16)),
        sa.Column("percent", sa.SmallInteger()),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("type IN ('step', 'log', 'complete', 'error')", name="type_known"),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name="fk_container_events_container_id_containers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_container_events"),
        sa.UniqueConstraint("container_id", "seq", name="uq_container_events_container_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("container_events")
    op.drop_constraint("fk_containers_template_id_templates", "containers", type_="foreignkey")
    op.drop_column("containers", "template_id")
