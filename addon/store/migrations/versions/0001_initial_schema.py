"""initial schema"""

import sqlalchemy as sa
from alembic import op

from addon.store.migrations.columns import (
    create_index,
    drop_index,
    foreign_key,
    integration_part,
    key,
    unique,
)

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "addon_event",
        *key("addon_event"),
        sa.Column("marketplace_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("prospect_id", sa.String(length=64), nullable=True),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expanded_at", sa.DateTime(), nullable=True),
        unique("addon_event", "marketplace_id", "event_id"),
    )
    create_index("addon_event", "marketplace_id", "expanded_at", "created_at")
    create_index("addon_event", "marketplace_id", "type", "created_at")

    op.create_table(
        "addon_integration",
        *key("addon_integration"),
        sa.Column("marketplace_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("client_folder_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("lists_refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        unique("addon_integration", "marketplace_id", "label"),
    )
    create_index("addon_integration", "marketplace_id")

    op.create_table(
        "addon_contact",
        *integration_part("addon_contact"),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        unique("addon_contact", "integration_id", "email_key"),
    )
    op.create_table(
        "addon_list",
        *integration_part("addon_list"),
        sa.Column("remote_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        unique("addon_list", "integration_id", "remote_id"),
    )
    op.create_table(
        "addon_rule",
        *key("addon_rule"),
        sa.Column("marketplace_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("list_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        foreign_key("addon_rule", "integration_id", "addon_integration", ondelete="CASCADE"),
    )
    create_index("addon_rule", "integration_id")
    create_index("addon_rule", "marketplace_id", "trigger")

    op.create_table(
        "addon_delivery",
        *key("addon_delivery"),
        sa.Column("marketplace_id", sa.String(length=64), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("integration_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("rule_scope", sa.String(length=10), nullable=False),
        sa.Column("integration_label", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("list_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sequence_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        foreign_key("addon_delivery", "event_pk", "addon_event", ondelete="CASCADE"),
        foreign_key("addon_delivery", "integration_id", "addon_integration", ondelete="SET NULL"),
        foreign_key("addon_delivery", "rule_id", "addon_rule", ondelete="SET NULL"),
        unique("addon_delivery", "event_pk", "rule_id"),
    )
    create_index("addon_delivery", "integration_id", "list_id", "email_key", "status")
    create_index("addon_delivery", "integration_id", "status", "next_attempt_at")
    create_index("addon_delivery", "marketplace_id", "created_at")
    create_index("addon_delivery", "marketplace_id", "status", "created_at")


def downgrade() -> None:
    drop_index("addon_delivery", "marketplace_id", "status", "created_at")
    drop_index("addon_delivery", "marketplace_id", "created_at")
    drop_index("addon_delivery", "integration_id", "status", "next_attempt_at")
    drop_index("addon_delivery", "integration_id", "list_id", "email_key", "status")
    op.drop_table("addon_delivery")
    drop_index("addon_rule", "marketplace_id", "trigger")
    drop_index("addon_rule", "integration_id")
    op.drop_table("addon_rule")
    op.drop_table("addon_list")
    op.drop_table("addon_contact")
    drop_index("addon_integration", "marketplace_id")
    op.drop_table("addon_integration")
    drop_index("addon_event", "marketplace_id", "type", "created_at")
    drop_index("addon_event", "marketplace_id", "expanded_at", "created_at")
    op.drop_table("addon_event")
