"""claim order: an integration's pending deliveries by sequence, so a claim reads a page of the
oldest instead of sorting the whole backlog (issue 18)"""

from addon.store.migrations.columns import create_index, drop_index

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    create_index("addon_delivery", "integration_id", "status", "sequence_at", "id")


def downgrade() -> None:
    drop_index("addon_delivery", "integration_id", "status", "sequence_at", "id")
