"""The add-on's tables, all prefixed ``addon_`` and kept on a metadata of their own.

The models sit on their own declarative base so that a host's Flask-SQLAlchemy session can use
them without the host's metadata (and its migrations) ever owning them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

# Stable constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Naive UTC now: SQLite keeps no zone, so every timestamp here is naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements (typed: ``__table__`` is only a FromClause)."""
    return cast(Table, model.__table__)


# Delivery statuses; "pending" covers queued, waiting for a retry and held work.
PENDING, SUCCESS, FAILED, SKIPPED = "pending", "success", "failed", "skipped"
FINISHED = (SUCCESS, FAILED, SKIPPED)

# Integration statuses.
CONNECTED, NEEDS_ATTENTION = "connected", "needs_attention"

# Why an event was stored and a delivery made: the storefront's own event (the default), a
# fix of a check against the provider, or a rule applied to the past.
EVENT, RECONCILE, BACKFILL = "event", "reconcile", "backfill"
CAUSES = (EVENT, RECONCILE, BACKFILL)


class IntegrationPart:
    """The key of a row that belongs to one integration and is deleted with it."""

    # sort_order keeps these first in the table, where the migration has them.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("addon_integration.id", ondelete="CASCADE"), sort_order=-1
    )


class Integration(Base):
    """One connected email-marketing account of one marketplace."""

    __tablename__ = "addon_integration"
    __table_args__ = (UniqueConstraint("marketplace_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(64), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(254))
    # Fernet token of the application password; never rendered anywhere.
    secret: Mapped[str] = mapped_column(Text)
    account_id: Mapped[str] = mapped_column(String(32))
    client_folder_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default=CONNECTED)
    status_reason: Mapped[str | None] = mapped_column(Text)
    lists_refreshed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    lists: Mapped[list[ProviderList]] = relationship(
        back_populates="integration",
        cascade="all, delete-orphan",
        order_by="ProviderList.name",
    )

    def __repr__(self) -> str:
        return f"<Integration {self.id} {self.label!r} ({self.provider})>"


class ProviderList(IntegrationPart, Base):
    """A list cached from the provider, so dropdowns need no API call."""

    __tablename__ = "addon_list"
    __table_args__ = (UniqueConstraint("integration_id", "remote_id"),)

    remote_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))

    integration: Mapped[Integration] = relationship(back_populates="lists")


class Rule(Base):
    """When ``trigger`` fires for a product (or any, when global), apply ``action`` to a list."""

    __tablename__ = "addon_rule"
    __table_args__ = (Index(None, "marketplace_id", "trigger"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(64))
    # None makes the rule global: it fires for every product.
    product_id: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(40))
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("addon_integration.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(10))
    list_id: Mapped[str] = mapped_column(String(32))
    list_name: Mapped[str] = mapped_column(String(255))
    # An add asks the person to confirm first, where the provider offers it.
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    integration: Mapped[Integration] = relationship()

    @property
    def scope(self) -> str:
        return "global" if self.product_id is None else "product"


class Event(Base):
    """A storefront event as received; kept after its log entries are pruned, for idempotency."""

    __tablename__ = "addon_event"
    __table_args__ = (
        UniqueConstraint("marketplace_id", "event_id"),
        Index(None, "marketplace_id", "expanded_at", "created_at"),
        Index(None, "marketplace_id", "type", "created_at"),
        # Retention prunes the oldest events of every marketplace in small chunks: without
        # it each chunk would scan the table (a million rows).
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str | None] = mapped_column(String(64))
    prospect_id: Mapped[str | None] = mapped_column(String(64))
    # Lower-cased email: purchases suppress abandoned-cart rules case-insensitively.
    email_key: Mapped[str] = mapped_column(String(254))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # None until the event's rules were matched and its deliveries written.
    expanded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: ``event`` (sent by the storefront), ``backfill`` (a past event the host's hook gave)
    #: or ``reconcile`` (made to carry a fix; never replayed as history).
    cause: Mapped[str] = mapped_column(String(10), default=EVENT, server_default=EVENT)


class Delivery(Base):
    """One rule applied to one event: the unit of work, and the log entry that reports it."""

    __tablename__ = "addon_delivery"
    __table_args__ = (
        UniqueConstraint("event_pk", "rule_id"),
        Index(None, "integration_id", "status", "next_attempt_at"),
        # A claim reads an integration's pending deliveries oldest first and stops at a page:
        # without this it sorted every pending one (the whole backlog) for every claim.
        Index(None, "integration_id", "status", "sequence_at", "id"),
        Index(None, "integration_id", "list_id", "email_key", "status"),
        Index(None, "marketplace_id", "created_at"),
        Index(None, "marketplace_id", "status", "created_at"),
        # A worker renews and releases its leases by owner, once or twice per batch: without
        # this, each of those writes scanned the whole table (every marketplace's log).
        # Partial: only leased rows are in it, a batch's worth per worker.
        Index(
            None,
            "lease_owner",
            sqlite_where=text("lease_owner IS NOT NULL"),
            postgresql_where=text("lease_owner IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(64))
    event_pk: Mapped[int] = mapped_column(ForeignKey("addon_event.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("addon_rule.id", ondelete="SET NULL"))
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("addon_integration.id", ondelete="SET NULL")
    )
    # Snapshots, so an entry still reads right after its rule or integration is gone.
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    trigger: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    rule_scope: Mapped[str] = mapped_column(String(10))
    integration_label: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))
    list_id: Mapped[str] = mapped_column(String(32))
    list_name: Mapped[str] = mapped_column(String(255))

    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    message: Mapped[str] = mapped_column(Text, default="")
    # What was sent and what the provider answered, credentials left out.
    detail: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Order of application for one customer and list: the event's time (or its due time).
    sequence_at: Mapped[dt.datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: What made it: ``event``, ``reconcile`` (a fix) or ``backfill`` (a rule applied to the past).
    cause: Mapped[str] = mapped_column(String(10), default=EVENT, server_default=EVENT)

    event: Mapped[Event] = relationship()


#: The tables whose rows each belong to one marketplace and are reached by id from the screens.
Owned = TypeVar("Owned", Integration, Rule, Delivery)


def marketplace_row(
    session: Session, model: type[Owned], marketplace_id: str, row_id: Any
) -> Owned | None:
    """The row of ``model`` with id ``row_id`` if it is the marketplace's, else None.

    Another marketplace's row is as unknown as a missing one, and so is an id that is not a
    number (it came from a URL or a form).
    """
    try:
        pk = int(row_id)
    except (TypeError, ValueError):
        return None
    row = session.get(model, pk)
    return row if row is not None and row.marketplace_id == marketplace_id else None
