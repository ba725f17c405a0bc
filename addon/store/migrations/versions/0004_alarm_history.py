"""alarm history"""

import sqlalchemy as sa
from alembic import op

from addon.store.migrations.columns import create_index, drop_index, foreign_key, key

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "addon_alarm",
        *key("addon_alarm"),
        sa.Column("marketplace_id", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=True),
        sa.Column("integration_label", sa.String(length=100), nullable=False),
        sa.Column("condition", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        foreign_key("addon_alarm", "integration_id", "addon_integration", ondelete="SET NULL"),
    )
    create_index("addon_alarm", "integration_id", "condition", "created_at")
    create_index("addon_alarm", "marketplace_id", "created_at")


def downgrade() -> None:
    drop_index("addon_alarm", "marketplace_id", "created_at")
    drop_index("addon_alarm", "integration_id", "condition", "created_at")
    op.drop_table("addon_alarm")
