"""contact sync: how far each integration's contact cache is known to be complete (issue 18)

Revision ID: 0006
Revises: '0005'
Create Date: 2026-12-04 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "addon_contact_sync",
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.Column("mark", sa.String(length=40), nullable=True),
        sa.Column("searchable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["addon_integration.id"],
            name=op.f("fk_addon_contact_sync_integration_id_addon_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_addon_contact_sync")),
    )


def downgrade() -> None:
    op.drop_table("addon_contact_sync")
