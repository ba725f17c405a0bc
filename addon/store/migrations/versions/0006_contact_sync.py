"""contact sync: how far each integration's contact cache is known to be complete (issue 18)"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


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
