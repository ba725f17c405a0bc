"""What a host calls on the engine once it is registered: ``connect``, ``add_rule``, ``emit``,
``logs`` and ``needing_attention``. They take plain values and hand back an event id, a count
or frozen records (:mod:`addon.results`), never database rows."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from .engine import integrations, logs, outbox, rules
from .engine.events import validate_event
from .engine.integration_health import marketplace_health
from .results import ConnectedIntegration, IntegrationRule, LogEntry

if TYPE_CHECKING:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    from .state import AppState

Row = TypeVar("Row")
Result = TypeVar("Result")


class EngineOperations:
    """The engine's public operations; :class:`addon.IntegrationEngine` supplies ``state`` and
    ``db``."""

    if TYPE_CHECKING:

        def state(self, app: Flask | None = None) -> AppState: ...

        @property
        def db(self) -> SQLAlchemy: ...

    def connect(
        self,
        marketplace_id: str | int,
        provider: str = "icontact",
        *,
        label: str,
        username: str,
        password: str | None = None,
        app_password: str | None = None,
    ) -> ConnectedIntegration:
        """Verify credentials with the provider, fetch its lists and save the integration.

        Args:
            marketplace_id: the merchant's marketplace.
            provider: the provider's name (``icontact``).
            label: the merchant's name for the integration, unique in the marketplace.
            username: the provider account's username.
            password: the application password the merchant chose for the add-on's App ID
                (not their login password). Stored encrypted, never handed back.
            app_password: the former name of ``password``; deprecated.

        Returns:
            The saved integration with its lists, without its password.

        Raises:
            IntegrationError: rejected credentials, an unreachable provider, or a label that
                this marketplace already uses. Nothing is saved then.
            TypeError: both ``password`` and ``app_password``.
        """
        if app_password is not None:
            if password is not None:
                raise TypeError("connect() takes password, not both password and app_password.")
            warnings.warn(
                "connect(app_password=...) is deprecated: pass password=...",
                DeprecationWarning,
                stacklevel=2,
            )
            password = app_password
        row = integrations.connect(
            self.state().context,
            str(marketplace_id),
            provider,
            label=label,
            username=username,
            password=password,
        )
        return self._committed(ConnectedIntegration.from_row, row)

    def add_rule(
        self,
        marketplace_id: str | int,
        *,
        trigger: str,
        integration_id: int,
        action: str,
        list_id: str | None = None,
        list_name: str | None = None,
        product_id: str | int | None = None,
        double_opt_in: bool = False,
    ) -> IntegrationRule:
        """Save a rule; ``product_id=None`` makes it global.

        Args:
            marketplace_id: the merchant's marketplace.
            trigger: a trigger name (``product.purchased``, ... see :mod:`addon.engine.triggers`).
            integration_id: the ``id`` of one of the marketplace's integrations.
            action: ``add`` or ``remove``.
            list_id: the provider's id of the list; or give ``list_name`` instead.
            list_name: the list's name, looked up among the integration's lists.
            product_id: the product the rule is for; None for every product.
            double_opt_in: an add asks the customer to confirm joining the list first
                (iContact sends the confirmation); only for providers that offer it.

        Returns:
            The saved rule.

        Raises:
            IntegrationError: an unknown trigger, action or integration, or a list unknown
                even after one refresh.
        """
        row = rules.add_rule(
            self.state().context,
            str(marketplace_id),
            trigger=trigger,
            integration_id=integration_id,
            action=action,
            list_id=list_id,
            list_name=list_name,
            product_id=product_id,
            double_opt_in=double_opt_in,
        )
        return self._committed(IntegrationRule.from_row, row)

    def _committed(self, record: Callable[[Row], Result], row: Row) -> Result:
        """The record of a row the engine just committed.

        Reading the committed row back begins a transaction on ``db.session``; it is ended
        here (nothing is left to write), or the host's next ``emit`` would join it and wait
        for a commit that nobody is going to make.
        """
        result = record(row)
        self.db.session.commit()
        return result

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """End the transaction a read begins, unless the host had one open already.

        A read begins a transaction on ``db.session``. Left open, the host's next ``emit`` in
        the same app context (a page that shows the count, then a form that emits) would join
        it and wait for a commit nobody makes: the event would be lost. A transaction the host
        opened is the host's to end.
        """
        session = self.db.session()
        began = not session.in_transaction()
        try:
            yield
        finally:
            if began and session.in_transaction():
                session.commit()

    def emit(
        self,
        event_type: str,
        *,
        marketplace_id: Any,
        customer: Mapping[str, Any],
        event_id: str | None = None,
        join: bool | None = None,
        **fields: Any,
    ) -> str:
        """Store a storefront event and hand it to the workers; never calls the provider.

        Never commits your transaction. When ``db.session`` has a transaction open (any
        statement since the last commit, ORM or Core, a read or a write, or
        ``db.session.begin()``), the event is written into it: your commit stores it and
        enqueues its job, your rollback (or a session closed uncommitted) forgets both. With
        no transaction open, the event is stored and committed alone, and enqueued at once.

        Args:
            event_type: one of the event types in :mod:`addon.engine.events`.
            marketplace_id: the merchant's marketplace.
            customer: ``{"email", "first_name", "last_name", "phone"}``; ``email`` required.
            event_id: your id for the event (e.g. ``f"order-{order.id}"``); emitting it again
                is a no-op. Generated when not given.
            join: say which of the two you mean. ``True``: the event must be part of your
                open transaction. ``False``: the event must be committed now, on its own.
                ``None`` (default): whichever the session's state gives.
            fields: the event type's own fields (``product_id``, ``purchase_type``, ...).

        Returns:
            The event id (generated when not given).

        Raises:
            InvalidEvent: naming the field that is wrong.
            TransactionError: ``join=True`` with no transaction open, or ``join=False``
                while one is open; nothing was written.
            TypeError: ``join`` is not True, False or None.
        """
        event = validate_event(event_type, marketplace_id, customer, event_id, fields)
        return outbox.emit(self.state().context, event, join=join)

    def logs(
        self,
        marketplace_id: str | int,
        q: str | None = None,
        status: str | None = None,
        trigger: str | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        integration_id: int | None = None,
        date_from: dt.datetime | None = None,
        date_to: dt.datetime | None = None,
    ) -> list[LogEntry]:
        """A page of the marketplace's log entries, newest first.

        Args:
            marketplace_id: the merchant's marketplace.
            q: matches email, list, product, event id, integration label and message.
            status: ``pending``, ``success``, ``failed`` or ``skipped``.
            trigger: a trigger name (the rule's trigger, not the event's type).
            limit: at most this many entries.
            offset: skip this many first.
            integration_id: only this integration's entries.
            date_from: only entries made at or after this naive UTC time.
            date_to: only entries made before this naive UTC time.

        Returns:
            The entries, each with its ``detail``.
        """
        ctx = self.state().context
        with self._reading():
            rows = logs.search_logs(
                ctx,
                str(marketplace_id),
                q=q,
                status=status,
                trigger=trigger,
                limit=limit,
                offset=offset,
                integration_id=integration_id,
                date_from=date_from,
                date_to=date_to,
            )
            return logs.with_detail(ctx, rows)

    def needing_attention(self, marketplace_id: str | int) -> int:
        """How many of the marketplace's integrations need their merchant now (credentials
        rejected, updates stuck, or failing): a count to show on your own link to the
        Integrations screens, as the add-on's own tab does.

        Args:
            marketplace_id: the merchant's marketplace.

        Returns:
            The number of integrations; 0 when all is well.
        """
        with self._reading():
            health = marketplace_health(self.state().context, str(marketplace_id))
            return sum(state.needs_you for state in health.values())
