"""claim order: an integration's pending deliveries by sequence, so a claim reads a page of the
oldest instead of sorting the whole backlog (issue 18)"""

from alembic import op

revision = "0007"
down_revision = "0006"

NAME = (
    "ix_addon_delivery_integration_id_addon_delivery_status_addon_delivery_sequence_at"
    "_addon_delivery_id"
)


def upgrade() -> None:
    op.create_index(op.f(NAME), "addon_delivery", ["integration_id", "status", "sequence_at", "id"])


def downgrade() -> None:
    op.drop_index(op.f(NAME), table_name="addon_delivery")
