"""contact sync: how far each integration's contact cache is known to be complete (issue 18)"""

import sqlalchemy as sa
from alembic import op

from addon.store.migrations.columns import foreign_key, primary_key

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "addon_contact_sync",
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.Column("mark", sa.String(length=40), nullable=True),
        sa.Column("searchable", sa.Boolean(), nullable=False),
        foreign_key(
            "addon_contact_sync", "integration_id", "addon_integration", ondelete="CASCADE"
        ),
        primary_key("addon_contact_sync", "integration_id"),
    )


def downgrade() -> None:
    op.drop_table("addon_contact_sync")
