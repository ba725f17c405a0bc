"""``IntegrationEngine``: the Flask extension that mounts the add-on into a host app."""

from __future__ import annotations

import datetime as dt
import logging
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from rq import Queue

from . import config as defaults
from .alarms.email import init_mail
from .cli import addon_cli
from .crypto import Vault, encryption_key
from .engine import integrations, logs, outbox, rules
from .engine.queue import make_queue
from .environment import from_environ, setting_names
from .hooks import HostHooks
from .results import ConnectedIntegration, IntegrationRule, LogEntry
from .settings import Settings
from .state import NOT_REGISTERED, AppState
from .web import api
from .web.blueprint import make_blueprint
from .web.views import csp

log = logging.getLogger("addon")

Row = TypeVar("Row")
Result = TypeVar("Result")


class IntegrationEngine(HostHooks):
    """The Integration Engine for one or more Flask apps.

    Use ``IntegrationEngine(app)`` or ``engine.init_app(app, db=db)``. The host tells the engine
    whose marketplace a request belongs to with ``@engine.marketplace_loader``, names each
    marketplace's products with ``@engine.product_loader``, and may add
    ``@engine.permission_check`` and ``@engine.known_marketplace``.
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        self._db = db
        super().__init__()
        self._states: weakref.WeakKeyDictionary[Flask, AppState] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app, db=db)

    # -- set-up ------------------------------------------------------------------------------

    def init_app(self, app: Flask, db: SQLAlchemy | None = None) -> None:
        """Register the engine on ``app``.

        Reads every ``ADDON_*`` setting (see docs/settings.md) from ``app.config``, else from
        an environment variable of the same name, else its default (:mod:`addon.config`).
        Uses the host's Flask-SQLAlchemy ``db`` when given (or already registered), else one
        of its own. Lets the signed webhook past the host's Flask-WTF ``CSRFProtect``,
        whether that is registered before or after this.

        Raises:
            RuntimeError: when registered twice, or without ``ADDON_ENCRYPTION_KEY`` outside
                debug and testing.
            ValueError: an ``ADDON_*`` setting (in the app's config or the environment) of
                the wrong type or range, naming the key, its value and what it must be.
        """
        if "addon" in app.extensions:
            raise RuntimeError("The Integration Engine is already registered on this app.")
        # The app's config wins; the environment fills what it leaves unset.
        app.config.update(from_environ(names=[k for k in setting_names() if k not in app.config]))
        for key in setting_names():
            app.config.setdefault(key, getattr(defaults, key))
        # Checked here, once: a wrong value stops the start-up, not a worker mid-batch.
        settings = Settings.from_config(app.config)

        db = db or self._db or app.extensions.get("sqlalchemy")
        if db is None:
            db = SQLAlchemy()
            db.init_app(app)
        self._states[app] = AppState(
            db=db,
            vault=Vault(
                encryption_key(
                    settings.encryption_key,
                    app.debug or app.testing,
                    app.config.get("SECRET_KEY"),
                )
            ),
            queue=make_queue(app, settings.redis_url, settings.queue_name),
            settings=settings,
        )
        # Enqueue an event's job when the host's transaction commits (listeners on this
        # db's session only).
        outbox.follow_transactions(db)
        # Alarm emails go through Flask-Mail with the host's MAIL_* settings.
        init_mail(app, settings)
        app.extensions["addon"] = self
        app.register_blueprint(
            make_blueprint(settings.blueprint_name), url_prefix=settings.url_prefix
        )
        app.cli.add_command(addon_cli)
        csp.register(app)
        api.exempt_from_host_csrf(app)
        # A CSRFProtect set up after this has no exemption yet: this hook, registered before
        # its own, gives it one before it checks the first request.
        app.before_request(lambda: api.exempt_from_host_csrf(app))

    def state(self, app: Flask | None = None) -> AppState:
        """What the engine keeps for ``app`` (default: the current app).

        Raises:
            RuntimeError: the engine is not registered on that app.
        """
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return self._states[app]
        except KeyError:
            raise RuntimeError(NOT_REGISTERED) from None

    @property
    def db(self) -> SQLAlchemy:
        """The Flask-SQLAlchemy extension the add-on's tables live in (the current app's)."""
        return self.state().db

    @property
    def queue(self) -> Queue | None:
        """The current app's RQ queue; None without ``ADDON_REDIS_URL``."""
        return self.state().queue

    @property
    def settings(self) -> Settings:
        """The current app's ``ADDON_*`` settings, typed and checked by ``init_app``."""
        return self.state().settings

    def prepare_database(self) -> None:
        """Bring the add-on's tables to the newest schema by running its migrations.

        Safe on every start of the web app and of each worker: an up-to-date database is left
        as is, and on PostgreSQL concurrent starts wait for each other. Same as
        ``flask addon db upgrade``; see :mod:`addon.store.db`.

        Raises:
            RuntimeError: the add-on's tables exist but were made without the migrations.
        """
        from .store import db as schema

        schema.upgrade(self.db.engine)

    # -- the engine's public operations ------------------------------------------------------

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
            str(marketplace_id), provider, label=label, username=username, password=password
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

        Returns:
            The saved rule.

        Raises:
            IntegrationError: an unknown trigger, action or integration, or a list unknown
                even after one refresh.
        """
        row = rules.add_rule(
            str(marketplace_id),
            trigger=trigger,
            integration_id=integration_id,
            action=action,
            list_id=list_id,
            list_name=list_name,
            product_id=product_id,
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
        return outbox.emit(
            self.state().context, event_type, marketplace_id, customer, event_id, fields, join=join
        )

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
        rows = logs.search_logs(
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
        return logs.with_detail(rows)
