"""build pipeline: phases and failures on containers, batch seq allocation, script fields

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported: a migration must keep meaning what it meant when it was written.
PHASES = "('creating', 'starting', 'deploying', 'syncing', 'finalizing')"


def upgrade() -> None:
    op.add_column("containers", sa.Column("build_request", postgresql.JSONB()))
    op.add_column(
        "containers",
        sa.Column(
            "cleanup_on_failure", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.add_column("containers", sa.Column("failed_phase", sa.String(16)))
    op.add_column("containers", sa.Column("failure_reason", sa.Text()))
    op.add_column(
        "containers",
        sa.Column(
            "cancel_requested", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.add_column(
        "containers",
        sa.Column("last_event_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    # Existing histories continue where they are.
    op.execute(
        "UPDATE containers SET last_event_seq = COALESCE("
        "(SELECT max(seq) FROM container_events e WHERE e.container_id = containers.id), 0)"
    )
    # Free strings before this revision: anything unknown is forgotten rather than refused.
    op.execute(  # PHASES is this migration's own constant, not input
        f"UPDATE containers SET last_completed_phase = NULL WHERE last_completed_phase NOT IN {PHASES}"  # noqa: S608, E501
    )
    op.create_check_constraint("phase_known", "containers", f"last_completed_phase IN {PHASES}")
    op.create_check_constraint("failed_phase_known", "containers", f"failed_phase IN {PHASES}")
    op.add_column("container_events", sa.Column("script_name", sa.String(100)))
    op.add_column("container_events", sa.Column("script_index", sa.SmallInteger()))
    op.add_column("container_events", sa.Column("script_total", sa.SmallInteger()))
    op.execute(f"UPDATE container_events SET step = NULL WHERE step NOT IN {PHASES}")  # noqa: S608
    op.create_check_constraint("step_known", "container_events", f"step IN {PHASES}")


def downgrade() -> None:
    op.drop_constraint("step_known", "container_events", type_="check")
    for column in ("script_total", "script_index", "script_name"):
        op.drop_column("container_events", column)
    op.drop_constraint("failed_phase_known", "containers", type_="check")
    op.drop_constraint("phase_known", "containers", type_="check")
    for column in (
        "last_event_seq",
        "cancel_requested",
        "failure_reason",
        "failed_phase",
        "cleanup_on_failure",
        "build_request",
    ):
        op.drop_column("containers", column)
