"""What the engine's public methods hand back: plain frozen records, not database rows.

A host keeps these as long as it likes: they hold no session, load nothing lazily, and the
integration carries no credential (the encrypted password stays in the add-on's table).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from .providers.base import RemoteList

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from .store.models import Delivery, Integration, Rule

Record = TypeVar("Record", bound="DataclassInstance")


def _from_columns(cls: type[Record], row: object, **given: Any) -> Record:
    """A record whose fields are the row's same-named attributes, save those ``given``."""
    columns = {f.name: getattr(row, f.name) for f in fields(cls) if f.name not in given}
    return cls(**columns, **given)


#: A list of the provider account, as a provider reports it (one record in both layers).
MailingList = RemoteList


@dataclass(frozen=True)
class ConnectedIntegration:
    """A marketplace's connected email-marketing account, without its password."""

    id: int
    marketplace_id: str
    provider: str
    label: str
    username: str
    #: The provider's id of the account the credentials opened.
    account_id: str
    #: ``connected``, or ``needs_attention`` once the provider refused the credentials.
    status: str
    status_reason: str | None
    lists: tuple[MailingList, ...]
    lists_refreshed_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Integration) -> ConnectedIntegration:
        """The record of an ``Integration`` row (its ``secret`` left behind)."""
        lists = tuple(MailingList(id=item.remote_id, name=item.name) for item in row.lists)
        return _from_columns(cls, row, lists=lists)


@dataclass(frozen=True)
class IntegrationRule:
    """When ``trigger`` fires for ``product_id`` (any product when None), apply ``action``
    (``add`` or ``remove``) to the list ``list_id`` of integration ``integration_id``."""

    id: int
    marketplace_id: str
    trigger: str
    integration_id: int
    action: str
    list_id: str
    list_name: str
    product_id: str | None
    created_at: dt.datetime
    #: An add asks the customer to confirm joining the list first.
    double_opt_in: bool = False

    @property
    def scope(self) -> str:
        """``global`` (every product) or ``product``."""
        return "global" if self.product_id is None else "product"

    @classmethod
    def from_row(cls, row: Rule) -> IntegrationRule:
        """The record of a ``Rule`` row."""
        return _from_columns(cls, row)


@dataclass(frozen=True)
class LogEntry:
    """One rule applied to one event, as the Logs screen shows it.

    ``integration_label``, ``list_name`` and ``rule_scope`` are as they were when the entry
    was made, so an entry still reads right after its rule or integration is gone.
    """

    id: int
    marketplace_id: str
    #: ``pending`` (queued, waiting for a retry or held), ``success``, ``failed``, ``skipped``.
    status: str
    message: str
    event_id: str
    event_type: str
    trigger: str
    email: str
    product_id: str | None
    rule_id: int | None
    rule_scope: str
    integration_id: int | None
    integration_label: str
    action: str
    list_id: str
    list_name: str
    attempts: int
    #: When the storefront event arrived; ``created_at`` is when its rule matched it.
    event_created_at: dt.datetime
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    finished_at: dt.datetime | None
    #: What was sent and what the provider answered, credentials left out.
    detail: dict[str, Any] | None
    #: Why it was made: ``event`` (a storefront event), ``reconcile`` (a fix after a check
    #: against the provider) or ``backfill`` (a rule applied to past events).
    cause: str = "event"

    @classmethod
    def from_row(
        cls, row: Delivery, detail: dict[str, Any] | None, event_created_at: dt.datetime
    ) -> LogEntry:
        """The record of a ``Delivery`` row; ``detail`` and its event's time are passed in
        because a page of rows is loaded without them (one query fetches the page's)."""
        return _from_columns(cls, row, detail=detail, event_created_at=event_created_at)
