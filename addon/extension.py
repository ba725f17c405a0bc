"""``IntegrationEngine``: the Flask extension that mounts the add-on into a host app."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from rq import Queue

from . import config as defaults
from . import integrations, logs, outbox, rules
from .blueprint import make_blueprint
from .cli import addon_cli
from .crypto import MISSING_KEY, Vault, derived_key
from .queue import make_queue
from .state import AppState

log = logging.getLogger("addon")


class IntegrationEngine:
    """The Integration Engine for one or more Flask apps.

    Use ``IntegrationEngine(app)`` or ``engine.init_app(app, db=db)``. The host tells the engine
    whose marketplace a request belongs to with ``@engine.marketplace_loader``, and names its
    products with ``@engine.product_loader``.
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None):
        self._db = db
        self._states: weakref.WeakKeyDictionary[Flask, AppState] = weakref.WeakKeyDictionary()
        self.marketplace_loader_callback: Callable[[], Any] | None = None
        self.product_loader_callback: Callable[[str], str | None] | None = None
        self.permission_check_callback: Callable[[str], bool] | None = None
        if app is not None:
            self.init_app(app, db=db)

    # -- set-up ------------------------------------------------------------------------------

    def init_app(self, app: Flask, db: SQLAlchemy | None = None) -> None:
        """Register the engine on ``app``.

        Reads every ``ADDON_*`` key (see :mod:`addon.config`); uses the host's Flask-SQLAlchemy
        ``db`` when given (or already registered), else one of its own.

        Raises:
            RuntimeError: when registered twice, or without ``ADDON_ENCRYPTION_KEY`` outside
                debug and testing.
        """
        if "addon" in app.extensions:
            raise RuntimeError("The Integration Engine is already registered on this app.")
        for key in dir(defaults):
            if key.startswith("ADDON_"):
                app.config.setdefault(key, getattr(defaults, key))

        db = db or self._db or app.extensions.get("sqlalchemy")
        if db is None:
            db = SQLAlchemy()
            db.init_app(app)
        self._states[app] = AppState(
            db=db,
            vault=Vault(self._encryption_key(app)),
            queue=make_queue(app, app.config["ADDON_REDIS_URL"]),
        )
        # Enqueue an event's job when the host's transaction commits (listeners on this
        # db's session only).
        outbox.follow_transactions(db)
        app.extensions["addon"] = self
        app.register_blueprint(
            make_blueprint(app.config["ADDON_BLUEPRINT_NAME"]),
            url_prefix=app.config["ADDON_URL_PREFIX"],
        )
        app.cli.add_command(addon_cli)

    @staticmethod
    def _encryption_key(app: Flask) -> str:
        key = app.config.get("ADDON_ENCRYPTION_KEY")
        if key:
            return key
        if app.debug or app.testing:
            secret = app.config.get("SECRET_KEY") or "addon-insecure-development-key"
            log.warning(
                "ADDON_ENCRYPTION_KEY unset: using a key derived from SECRET_KEY (dev only)"
            )
            return derived_key(str(secret))
        raise RuntimeError(MISSING_KEY)

    def state(self, app: Flask | None = None) -> AppState:
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return self._states[app]
        except KeyError:
            raise RuntimeError(
                "The Integration Engine is not registered on this app. "
                "Did you forget to call 'engine.init_app(app)'?"
            ) from None

    @property
    def db(self) -> SQLAlchemy:
        return self.state().db

    @property
    def queue(self) -> Queue | None:
        return self.state().queue

    def prepare_database(self) -> None:
        """Bring the add-on's tables to the newest schema by running its migrations.

        Safe on every start of the web app and of each worker: an up-to-date database is left
        as is, and on PostgreSQL concurrent starts wait for each other. Same as
        ``flask addon db upgrade``; see :mod:`addon.db`.

        Raises:
            RuntimeError: the add-on's tables exist but were made without the migrations.
        """
        from . import db as schema

        schema.upgrade(self.db.engine)

    #: The name this method had before the add-on shipped migrations.
    create_all = prepare_database

    # -- host hooks, Flask-Login style -------------------------------------------------------

    def marketplace_loader(self, callback: Callable[[], Any]) -> Callable[[], Any]:
        """Register the function that returns the current merchant's marketplace id (or None)."""
        self.marketplace_loader_callback = callback
        return callback

    def product_loader(self, callback: Callable[[str], str | None]) -> Callable:
        """Register the function that maps a product id to its name (or None if unknown)."""
        self.product_loader_callback = callback
        return callback

    def permission_check(self, callback: Callable[[str], bool]) -> Callable:
        """Register an optional check that the user may manage a marketplace's integrations."""
        self.permission_check_callback = callback
        return callback

    def current_marketplace(self) -> str | None:
        if self.marketplace_loader_callback is None:
            return None
        value = self.marketplace_loader_callback()
        return None if value is None else str(value)

    def product_name(self, product_id: str | None) -> str | None:
        if product_id is None or self.product_loader_callback is None:
            return None
        return self.product_loader_callback(product_id)

    # -- the engine's public operations ------------------------------------------------------

    def connect(self, marketplace_id, provider="icontact", *, label, username, app_password):
        """Verify credentials with the provider, fetch its lists and save the integration.

        Raises:
            IntegrationError: rejected credentials, an unreachable provider, or a label that
                this marketplace already uses. Nothing is saved then.
        """
        return integrations.connect(
            str(marketplace_id), provider, label=label, username=username, password=app_password
        )

    def add_rule(
        self,
        marketplace_id,
        *,
        trigger,
        integration_id,
        action,
        list_id=None,
        list_name=None,
        product_id=None,
    ):
        """Save a rule; ``product_id=None`` makes it global.

        Raises:
            IntegrationError: an unknown trigger, action or integration, or a list unknown
                even after one refresh.
        """
        return rules.add_rule(
            str(marketplace_id),
            trigger=trigger,
            integration_id=integration_id,
            action=action,
            list_id=list_id,
            list_name=list_name,
            product_id=product_id,
        )

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
            event_type: one of the event types in :mod:`addon.events`.
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
        return outbox.emit(event_type, marketplace_id, customer, event_id, fields, join=join)

    def logs(self, marketplace_id, q=None, status=None, trigger=None, limit=50, **filters):
        """The marketplace's log entries, newest first; see :func:`addon.logs.search_logs`."""
        return logs.search_logs(
            str(marketplace_id), q=q, status=status, trigger=trigger, limit=limit, **filters
        )
