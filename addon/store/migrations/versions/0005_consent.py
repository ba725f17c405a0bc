"""consent: the engine's own removals, and a rule's double opt-in (issue 16)"""

import sqlalchemy as sa
from alembic import op

from addon.store.migrations.columns import integration_part, unique

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "addon_engine_removal",
        *integration_part("addon_engine_removal"),
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        unique("addon_engine_removal", "integration_id", "list_id", "email_key"),
    )
    with op.batch_alter_table("addon_rule", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("double_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("addon_rule", schema=None) as batch_op:
        batch_op.drop_column("double_opt_in")
    op.drop_table("addon_engine_removal")
