"""templates (scripts, files, packages) and package buckets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
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
        "templates",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), server_default="", nullable=False),
        sa.Column("os_template", sa.String(255), nullable=False),
        sa.Column("cores", sa.Integer(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("swap", sa.Integer(), nullable=False),
        sa.Column("disk", sa.Integer(), nullable=False),
        sa.Column("storage", sa.String(64), nullable=False),
        sa.Column("bridge", sa.String(16), nullable=False),
        sa.Column("unprivileged", sa.Boolean(), nullable=False),
        sa.Column("nesting", sa.Boolean(), nullable=False),
        sa.Column("keyctl", sa.Boolean(), nullable=False),
        sa.Column("fuse", sa.Boolean(), nullable=False),
        sa.Column(
            "tags", postgresql.ARRAY(sa.String(64)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("source", sa.String(16), server_default="api", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("cores BETWEEN 1 AND 64", name="cores_range"),
        sa.CheckConstraint("memory BETWEEN 128 AND 131072", name="memory_range"),
        sa.CheckConstraint("swap BETWEEN 0 AND 131072", name="swap_range"),
        sa.CheckConstraint("disk BETWEEN 1 AND 10000", name="disk_range"),
        sa.CheckConstraint("revision >= 1", name="revision_positive"),
        sa.CheckConstraint("source IN ('api', 'filesystem')", name="source_known"),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.UniqueConstraint("name", name="uq_templates_name"),
    )
    op.create_index("ix_templates_tags", "templates", ["tags"], postgresql_using="gin")
    op.create_table(
        "template_scripts",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("template_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint("sort_order BETWEEN 0 AND 9999", name="sort_order_range"),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name="fk_template_scripts_template_id_templates",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_template_scripts"),
        sa.UniqueConstraint("template_id", "name", name="uq_template_scripts_template_id_name"),
    )
    op.create_table(
        "template_files",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("template_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("target_path", sa.String(1024), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.Column("owner", sa.String(65), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.CheckConstraint("policy IN ('replace', 'default', 'backup')", name="policy_known"),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name="fk_template_files_template_id_templates",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_template_files"),
        sa.UniqueConstraint("template_id", "name", name="uq_template_files_template_id_name"),
    )
    op.create_table(
        "package_buckets",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), server_default="", nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_package_buckets"),
        sa.UniqueConstraint("name", name="uq_package_buckets_name"),
    )
    op.create_table(
        "packages",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("template_id", postgresql.UUID(as_uuid=True)),
        sa.Column("bucket_id", postgresql.UUID(as_uuid=True)),
        sa.Column("name", sa.String(214), nullable=False),
        sa.Column("manager", sa.String(8), nullable=False),
        sa.Column("version", sa.String(64)),
        sa.CheckConstraint("manager IN ('apt', 'pip', 'npm')", name="manager_known"),
        sa.CheckConstraint("num_nonnulls(template_id, bucket_id) = 1", name="one_owner"),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name="fk_packages_template_id_templates",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["package_buckets.id"],
            name="fk_packages_bucket_id_package_buckets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_packages"),
        sa.UniqueConstraint(
            "template_id", "manager", "name", name="uq_packages_template_id_manager_name"
        ),
        sa.UniqueConstraint(
            "bucket_id", "manager", "name", name="uq_packages_bucket_id_manager_name"
        ),
    )


def downgrade() -> None:
    op.drop_table("packages")
    op.drop_table("package_buckets")
    op.drop_table("template_files")
    op.drop_table("template_scripts")
    op.drop_index("ix_templates_tags", table_name="templates")
    op.drop_table("templates")
