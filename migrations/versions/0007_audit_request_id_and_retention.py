"""audit rows carry the request id; indexes for the retention cron and the audit listing

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("request_id", sa.String(64)))
    # the retention cron deletes by age, across users
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_index("ix_container_events_created_at", "container_events", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_container_events_created_at", table_name="container_events")
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    op.drop_column("audit_log", "request_id")
