"""history (issue 16): a delivery's cause, checks, backfills, an index for pruning old events"""

import sqlalchemy as sa
from alembic import op

from addon.store.migrations.columns import (
    create_index,
    drop_index,
    foreign_key,
    integration_part,
    key,
)

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "addon_check",
        *integration_part("addon_check"),
        sa.Column("marketplace_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_by", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("extra", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fixed_at", sa.DateTime(), nullable=True),
        sa.Column("fixed", sa.Integer(), nullable=False),
    )
    create_index("addon_check", "integration_id", "started_at")
    op.create_table(
        "addon_backfill",
        *key("addon_backfill"),
        sa.Column("marketplace_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("from_host", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        foreign_key("addon_backfill", "integration_id", "addon_integration", ondelete="CASCADE"),
        foreign_key("addon_backfill", "rule_id", "addon_rule", ondelete="CASCADE"),
    )
    create_index("addon_backfill", "rule_id", "created_at")

    # Every row so far came from a storefront's event.
    for table in ("addon_delivery", "addon_event"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("cause", sa.String(length=10), server_default="event", nullable=False)
            )
    create_index("addon_event", "created_at")


def downgrade() -> None:
    drop_index("addon_event", "created_at")
    for table in ("addon_event", "addon_delivery"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("cause")
    drop_index("addon_backfill", "rule_id", "created_at")
    op.drop_table("addon_backfill")
    drop_index("addon_check", "integration_id", "started_at")
    op.drop_table("addon_check")
