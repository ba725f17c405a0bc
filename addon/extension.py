"""``IntegrationEngine``: the Flask extension that mounts the add-on into a host app."""

from __future__ import annotations

import logging
import weakref

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from rq import Queue

from . import config as defaults
from .alarms.email import init_mail
from .cli import addon_cli
from .crypto import Vault, encryption_key
from .engine import outbox
from .engine.queue import make_queue
from .environment import from_environ, setting_names
from .hooks import HostHooks
from .operations import EngineOperations
from .settings import Settings
from .state import NOT_REGISTERED, AppState
from .web import api
from .web.blueprint import make_blueprint
from .web.views import csp

log = logging.getLogger("addon")


class IntegrationEngine(HostHooks, EngineOperations):
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
