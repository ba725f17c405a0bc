"""What the engine keeps beside events and deliveries: its contact cache and how far a sync
made it complete, its own removals (the consent memory), checks against the provider,
backfills and the alarms it sent. On the same metadata as :mod:`.models`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, IntegrationPart, utcnow


class CachedContact(IntegrationPart, Base):
    """Email → provider contact id, per integration: a returning customer costs no lookup."""

    __tablename__ = "addon_contact"
    __table_args__ = (UniqueConstraint("integration_id", "email_key"),)

    email_key: Mapped[str] = mapped_column(String(254))
    contact_id: Mapped[str] = mapped_column(String(32))


class Check(IntegrationPart, Base):
    """One check of an integration's lists against the provider: what the rules imply beside
    what the provider holds, and the differences found (kept until the next check)."""

    __tablename__ = "addon_check"
    __table_args__ = (Index(None, "integration_id", "started_at"),)

    marketplace_id: Mapped[str] = mapped_column(String(64))
    #: ``running``, ``done`` or ``failed``.
    status: Mapped[str] = mapped_column(String(10))
    #: ``merchant`` (the button) or ``schedule``.
    started_by: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    extra: Mapped[int] = mapped_column(Integer, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    #: Provider calls the check made.
    calls: Mapped[int] = mapped_column(Integer, default=0)
    #: ``[{"list_id", "list_name", "email", "kind", "rule_id"}]``, kind ``missing``,
    #: ``extra`` or ``opted_out``.
    differences: Mapped[list | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    #: When *Fix* queued the fixable differences, and how many.
    fixed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    fixed: Mapped[int] = mapped_column(Integer, default=0)


class Backfill(Base):
    """A rule applied to the events before it existed, since a date: its progress, so that a
    killed worker's successor resumes it."""

    __tablename__ = "addon_backfill"
    __table_args__ = (Index(None, "rule_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[int] = mapped_column(ForeignKey("addon_rule.id", ondelete="CASCADE"))
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("addon_integration.id", ondelete="CASCADE")
    )
    since: Mapped[dt.datetime] = mapped_column(DateTime)
    #: Whether the host's past-events hook is asked too.
    from_host: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``queued``, ``running``, ``done``, ``cancelled`` or ``failed``.
    status: Mapped[str] = mapped_column(String(10))
    #: Customers to apply the rule to, and deliveries written for them so far.
    customers: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    #: The last event written (events go in id order): where a resumed job carries on.
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Alarm(Base):
    """An alarm the merchant was sent (or a test of the channels): the history screen and the
    memory that keeps the same alarm from being sent again within ``ADDON_ALARM_DIGEST_HOURS``."""

    __tablename__ = "addon_alarm"
    __table_args__ = (
        Index(None, "marketplace_id", "created_at"),
        Index(None, "integration_id", "condition", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(64))
    # None for a test alarm; kept (SET NULL) when the integration is deleted, like the log.
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("addon_integration.id", ondelete="SET NULL")
    )
    integration_label: Mapped[str] = mapped_column(String(100), default="")
    # needs_attention, stuck, failing, recovered or test.
    condition: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    # Each channel's outcome in words: {"email": "sent to ...", "webhook": "off"}.
    channels: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ContactSync(Base):
    """How far the integration's contact cache is known to be complete (a provider's contact
    sync): a customer the cache has not seen is new unless the provider created them after
    ``mark`` (the provider's own creation stamp, not our clock)."""

    __tablename__ = "addon_contact_sync"

    integration_id: Mapped[int] = mapped_column(
        ForeignKey("addon_integration.id", ondelete="CASCADE"), primary_key=True
    )
    #: When the last full sync ended (naive UTC); None while the first one has not.
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    mark: Mapped[str | None] = mapped_column(String(40))
    #: False once the provider ignored a check for new contacts: each unknown customer is then
    #: looked up again, until the next full sync tries the check anew.
    searchable: Mapped[bool] = mapped_column(Boolean, default=True)


class EngineRemoval(IntegrationPart, Base):
    """The engine's own removal of a customer from a list: the provider's "unsubscribed" reads
    the same when the person left, so only this lets a later add put them back."""

    __tablename__ = "addon_engine_removal"
    __table_args__ = (UniqueConstraint("integration_id", "list_id", "email_key"),)

    list_id: Mapped[str] = mapped_column(String(32))
    email_key: Mapped[str] = mapped_column(String(254))
    removed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # Which rule and event removed them (the rule may be deleted since).
    rule_id: Mapped[int | None] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(64))
