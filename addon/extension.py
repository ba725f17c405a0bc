"""``IntegrationEngine``: the Flask extension that mounts the add-on into a host app."""

from __future__ import annotations

import inspect
import logging
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from rq import Queue

from . import config as defaults
from .cli import addon_cli
from .crypto import MISSING_KEY, Vault, derived_key
from .engine import integrations, logs, outbox, rules
from .engine.queue import make_queue
from .environment import from_environ, setting_names
from .state import AppState
from .web import api
from .web.blueprint import make_blueprint
from .web.views import csp

log = logging.getLogger("addon")


class IntegrationEngine:
    """The Integration Engine for one or more Flask apps.

    Use ``IntegrationEngine(app)`` or ``engine.init_app(app, db=db)``. The host tells the engine
    whose marketplace a request belongs to with ``@engine.marketplace_loader``, names each
    marketplace's products with ``@engine.product_loader``, and may add
    ``@engine.permission_check`` and ``@engine.known_marketplace``.
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None):
        self._db = db
        self._states: weakref.WeakKeyDictionary[Flask, AppState] = weakref.WeakKeyDictionary()
        self.marketplace_loader_callback: Callable[[], Any] | None = None
        self.product_loader_callback: Callable[[str, str], str | None] | None = None
        self.permission_check_callback: Callable[[str], bool] | None = None
        self.known_marketplace_callback: Callable[[str], bool] | None = None
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
            ValueError: an ``ADDON_*`` environment variable of the wrong type.
        """
        if "addon" in app.extensions:
            raise RuntimeError("The Integration Engine is already registered on this app.")
        # The app's config wins; the environment fills what it leaves unset.
        app.config.update(from_environ(names=[k for k in setting_names() if k not in app.config]))
        for key in setting_names():
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
        csp.register(app)
        api.exempt_from_host_csrf(app)
        # A CSRFProtect set up after this has no exemption yet: this hook, registered before
        # its own, gives it one before it checks the first request.
        app.before_request(lambda: api.exempt_from_host_csrf(app))

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
        from .store import db as schema

        schema.upgrade(self.db.engine)

    #: The name this method had before the add-on shipped migrations.
    create_all = prepare_database

    # -- host hooks, Flask-Login style -------------------------------------------------------

    def marketplace_loader(self, callback: Callable[[], Any]) -> Callable[[], Any]:
        """Register the function that returns the current merchant's marketplace id (or None).

        Required: the screens ask it on every request.
        """
        self.marketplace_loader_callback = callback
        return callback

    def product_loader(self, callback: Callable[..., str | None]) -> Callable:
        """Register the function that names a marketplace's product.

        It is called as ``callback(marketplace_id, product_id)`` (both strings) and returns the
        product's name, or None when that marketplace has no such product (the product's
        screens then answer 404). A loader of one argument, ``callback(product_id)``, still
        works but cannot tell merchants apart, and is deprecated.

        Raises:
            TypeError: a callback that takes neither two arguments nor one.
        """
        if _accepts(callback, 2):
            self.product_loader_callback = callback
        elif _accepts(callback, 1):
            warnings.warn(
                "A product_loader of one argument, (product_id), is deprecated: take "
                "(marketplace_id, product_id) and return None for a product of another "
                "marketplace, or every merchant sees every product's name.",
                DeprecationWarning,
                stacklevel=2,
            )
            self.product_loader_callback = lambda _marketplace_id, product_id: callback(product_id)
        else:
            raise TypeError(
                "@engine.product_loader takes a function of (marketplace_id, product_id)."
            )
        return callback

    def permission_check(self, callback: Callable[[str], bool]) -> Callable:
        """Register an optional check that the user may manage a marketplace's integrations."""
        self.permission_check_callback = callback
        return callback

    def known_marketplace(self, callback: Callable[[str], bool]) -> Callable:
        """Register an optional check that a marketplace id is one of the storefront's.

        The signed webhook asks it for each event's ``marketplace_id`` and refuses an event
        of a marketplace it answers False for (422, nothing stored). Without it every
        marketplace id is accepted. ``emit()`` does not ask it: the host's own code names
        its own marketplaces.
        """
        self.known_marketplace_callback = callback
        return callback

    def current_marketplace(self) -> str | None:
        """The signed-in merchant's marketplace id, from ``@engine.marketplace_loader``.

        Raises:
            RuntimeError: no marketplace loader is registered.
        """
        if self.marketplace_loader_callback is None:
            raise RuntimeError(
                "The Integration Engine has no marketplace loader, so it cannot tell whose "
                "integrations to show. Decorate the function that returns the signed-in "
                "merchant's marketplace id (or None) with @engine.marketplace_loader."
            )
        value = self.marketplace_loader_callback()
        return None if value is None else str(value)

    def product_name(self, marketplace_id: str, product_id: str | None) -> str | None:
        """The name of ``marketplace_id``'s product ``product_id``, from the product loader.

        Returns:
            The name, or None for no product id, no loader, or a product the loader does not
            know in that marketplace.
        """
        if product_id is None or self.product_loader_callback is None:
            return None
        return self.product_loader_callback(str(marketplace_id), str(product_id))

    def is_known_marketplace(self, marketplace_id: str) -> bool:
        """Whether the ``@engine.known_marketplace`` check accepts ``marketplace_id``
        (True when the host registered none)."""
        check = self.known_marketplace_callback
        return check is None or bool(check(marketplace_id))

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


def _accepts(callback: Callable, count: int) -> bool:
    """Whether ``callback`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(callback).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): trust it takes the new form
        return count == 2
    return True
