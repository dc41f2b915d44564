"""the `missing` lifecycle state: a container whose VMID no longer holds it on its node

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_MISSING = "lifecycle IN ('creating', 'ready', 'error', 'deleting', 'missing')"
WITHOUT_MISSING = "lifecycle IN ('creating', 'ready', 'error', 'deleting')"


def upgrade() -> None:
    op.drop_constraint("lifecycle_known", "containers", type_="check")
    op.create_check_constraint("lifecycle_known", "containers", WITH_MISSING)


def downgrade() -> None:
    # the older schema has no word for it: a missing container is in error there
    op.execute("UPDATE containers SET lifecycle = 'error' WHERE lifecycle = 'missing'")
    op.drop_constraint("lifecycle_known", "containers", type_="check")
    op.create_check_constraint("lifecycle_known", "containers", WITHOUT_MISSING)
